"""APPEND sent as one literal (wire.append): line endings made CRLF piece by piece exactly as
imaplib's own APPEND makes them, with and without LITERAL+, against a real Dovecot."""

from __future__ import annotations

import imaplib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcore.mailboxes.imap import ImapMailbox, wire
from mailcore.mailboxes.imap.values import crlf_pieces, crlf_size
from tests.servers import Account

LINE_BYTES = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"r").replace(b"\n", b"n"))
# imaplib's own APPEND: every CRLF, bare CR and bare LF becomes CRLF (not in its stubs)
IMAPLIB_CRLF: re.Pattern[bytes] = imaplib.MapCRLF  # type: ignore[attr-defined]
ENDINGS = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r", b""])


@given(st.lists(st.tuples(LINE_BYTES, ENDINGS), max_size=20), st.integers(1, 9))
def test_crlf_pieces_join_to_what_imaplib_sends(
    lines: list[tuple[bytes, bytes]], piece: int
) -> None:
    raw = b"".join(text + end for text, end in lines)
    expected = IMAPLIB_CRLF.sub(b"\r\n", raw)

    sent = b"".join(bytes(p) for p in crlf_pieces(raw, piece))

    assert sent == expected
    assert crlf_size(raw) == len(expected)


def test_a_message_already_in_crlf_is_sent_as_views_of_itself() -> None:
    raw = b"Subject: x\r\n\r\n" + b"line\r\n" * 1000

    pieces = list(crlf_pieces(raw, 512))

    assert all(isinstance(p, memoryview) and p.obj is raw for p in pieces)
    assert b"".join(pieces) == raw


def test_bare_lf_and_cr_are_stored_as_crlf_with_the_flags(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    raw = b"From: a@example.org\nSubject: unix\n\nline one\nline two\rold mac\r\nend\n"

    uid = imap_mailbox.append("INBOX", raw, flags=["\\Flagged", "$Label"])

    assert uid is not None
    assert imap_mailbox.fetch("INBOX", [uid]) == {uid: IMAPLIB_CRLF.sub(b"\r\n", raw)}
    with account.session() as c:
        c.select_folder("INBOX", readonly=True)
        assert {b"\\Flagged", b"$Label"} <= set(c.get_flags([uid])[uid])


@pytest.mark.parametrize("literal_plus", [False, True])
def test_append_with_and_without_literal_plus(account: Account, literal_plus: bool) -> None:
    raw = b"Subject: sync\n\n" + b"x" * 3000 + b"\n"
    with account.session() as c:
        answer = wire.append(c, "INBOX", ["\\Seen"], raw, literal_plus=literal_plus)
        c.select_folder("INBOX", readonly=True)
        [(uid, data)] = c.fetch(c.search("ALL"), ["BODY.PEEK[]", "FLAGS"]).items()
    assert b"APPENDUID" in answer.upper() and str(uid).encode() in answer
    assert data[b"BODY[]"] == raw.replace(b"\n", b"\r\n")
    assert b"\\Seen" in data[b"FLAGS"]


@pytest.mark.parametrize("literal_plus", [False, True])
def test_a_refused_append_leaves_the_connection_in_step(
    account: Account, literal_plus: bool
) -> None:
    with account.session() as c:
        with pytest.raises(imaplib.IMAP4.error, match="TRYCREATE"):
            wire.append(
                c, "no such folder", [], b"Subject: x\r\n\r\nhi\r\n", literal_plus=literal_plus
            )
        c.noop()  # the next command is answered as usual
        assert c.folder_exists("INBOX")
        assert c.select_folder("INBOX")[b"EXISTS"] == 0
