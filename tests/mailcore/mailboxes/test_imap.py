"""ImapMailbox against a real Dovecot: listing, fetching, writing, moving, IDLE; the pure helpers
(configuration URLs, summaries, UID sets). Connections and TLS: test_imap_session.py."""

from __future__ import annotations

import email.header
import functools
import logging
import re
import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcore.errors import ConfigError
from mailcore.inbound import headers
from mailcore.mailboxes.imap import (
    _HEADER_FIELDS,
    ImapConfig,
    ImapMailbox,
    _BatchState,
    _expand,
    _summary,
    _uidset,
)
from tests.servers import (
    Account,
    Dovecot,
    message,
    wait_for_log_line,
)

MakeMailbox = Callable[..., ImapMailbox]


def flags_of(account: Account, folder: str) -> dict[int, set[bytes]]:
    """UID -> flags, seen by another client (read-only, so nothing changes)."""
    with account.session() as c:
        c.select_folder(folder, readonly=True)
        return {uid: set(d[b"FLAGS"]) for uid, d in c.fetch(c.search("ALL"), ["FLAGS"]).items()}


def commands(caplog: pytest.LogCaptureFixture) -> list[str]:
    """IMAP commands sent, from imapclient's (password-redacting) protocol log."""
    out = []
    for record in caplog.records:
        if record.name == "imapclient.imaplib":
            text = record.getMessage()
            match = re.search(r"> b?'?\w+ (.*)", text)
            if match:
                out.append(match.group(1).rstrip("'"))
    return out


def logout_line(dovecot: Dovecot, username: str) -> str:
    """The last 'Logged out' log line of `username`."""
    return wait_for_log_line(
        dovecot.log,
        f"logout of {username}",
        lambda line: f"imap({username})" in line and "Logged out" in line,
    )


# -- listing and fetching ---------------------------------------------------------------------


def test_summaries_come_from_headers_without_downloading_bodies(
    dovecot: Dovecot, account: Account, make_imap_mailbox: MakeMailbox
) -> None:
    big = "x" * 76 + "\r\n"
    raw = message(
        subject="=?utf-8?q?Caf=C3=A9_order?=",
        sender="=?utf-8?q?Ren=C3=A9e?= <renee@example.org>",
        body=big * 3000,  # ~230 kB
        message_id="<order-1@example.org>",
    )
    uid = account.append("INBOX", raw)
    mailbox = make_imap_mailbox(account)

    [summary] = mailbox.summaries("INBOX", [uid])
    mailbox.close()

    assert summary.uid == uid
    assert summary.subject == "Café order"
    assert summary.sender == "Renée <renee@example.org>"
    assert summary.message_id == "<order-1@example.org>"
    assert summary.size == len(raw)
    assert summary.date is not None and summary.date.year == 2024
    assert summary.date.utcoffset() is not None
    assert "\\Seen" not in summary.flags
    stats = logout_line(dovecot, account.username)
    assert "body_count=0" in stats  # Dovecot's own count of body fetches in our session
    assert int(re.search(r"\bout=(\d+)", stats).group(1)) < 20_000  # type: ignore[union-attr]
    assert b"\\Seen" not in flags_of(account, "INBOX")[uid]


def test_summaries_keep_the_order_given_and_skip_missing_uids(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    uids = account.append_many("INBOX", [message(subject=f"n{i}") for i in range(3)])

    got = imap_mailbox.summaries("INBOX", [uids[2], 999, uids[0], uids[2]])

    assert [(s.uid, s.subject) for s in got] == [(uids[2], "n2"), (uids[0], "n0")]


def test_summary_of_a_message_without_date_or_message_id_uses_internaldate(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    uid = account.append("INBOX", b"From: x@example.org\r\nSubject: bare\r\n\r\nhi\r\n")

    [summary] = imap_mailbox.summaries("INBOX", [uid])

    assert summary.message_id is None
    assert summary.date is not None and summary.date.utcoffset() is not None


def test_fetch_returns_exact_bytes_in_batches_without_setting_seen(
    account: Account, make_imap_mailbox: MakeMailbox, caplog: pytest.LogCaptureFixture
) -> None:
    raws = [message(subject=f"b{i}", body=f"body {i}\r\n") for i in range(5)]
    uids = account.append_many("INBOX", raws)
    mailbox = make_imap_mailbox(account, batch_size=2)
    mailbox.connect()

    with caplog.at_level(logging.DEBUG, logger="imapclient.imaplib"):
        got = mailbox.fetch("INBOX", [*uids, 4242])

    assert got == dict(zip(uids, raws, strict=True))
    fetches = [c for c in commands(caplog) if c.startswith("UID FETCH")]
    assert len(fetches) == 3 and all("BODY.PEEK[]" in c for c in fetches)
    assert all(b"\\Seen" not in f for f in flags_of(account, "INBOX").values())


def test_imaplib_traces_the_protocol_only_while_its_logger_listens(
    account: Account, imap_mailbox: ImapMailbox, caplog: pytest.LogCaptureFixture
) -> None:
    # At imapclient's level 5 imaplib formats a repr of every line and body it reads, even
    # for a logger that drops it: off unless someone listens, decided at each operation.
    account.append("INBOX", message(subject="traced"))
    imap_mailbox.uids("INBOX")
    imap = imap_mailbox._session.connection()._imap
    assert imap.debug == 0

    with caplog.at_level(logging.DEBUG, logger="imapclient.imaplib"):
        imap_mailbox.fetch("INBOX", imap_mailbox.uids("INBOX"))
        assert imap.debug == 5
    assert any(c.startswith("UID FETCH") for c in commands(caplog))

    imap_mailbox.uids("INBOX")
    assert imap.debug == 0


def test_uids_leave_out_deleted_messages_and_missing_folders_are_empty(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    uids = account.append_many("INBOX", [message() for _ in range(3)])
    with account.session() as c:
        c.select_folder("INBOX")
        c.add_flags([uids[1]], [b"\\Deleted"])

    assert imap_mailbox.uids("INBOX") == [uids[0], uids[2]]
    assert imap_mailbox.uids("no-such-folder") == []
    assert imap_mailbox.fetch("no-such-folder", [1]) == {}


def test_uids_see_mail_that_arrived_while_the_folder_stayed_selected(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    first = account.append("INBOX", message())
    assert imap_mailbox.uids("INBOX") == [first]

    second = account.append("INBOX", message(sender="late@example.org"))

    assert imap_mailbox.uids("INBOX") == [first, second]
    assert imap_mailbox.search_from("INBOX", "late@example.org") == [second]


def test_search_from_matches_the_sender_on_the_server(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    a = account.append("INBOX", message(sender="Bob <bob@example.org>"))
    account.append("INBOX", message(sender="carol@example.org"))
    b = account.append("INBOX", message(sender="bob@example.org"))

    assert imap_mailbox.search_from("INBOX", "bob@example.org") == [a, b]
    assert imap_mailbox.search_from("INBOX", "nobody@example.org") == []


# -- writing ----------------------------------------------------------------------------------


def test_append_creates_the_folder_and_returns_the_uid(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    raw = message(subject="sent copy")

    uid = imap_mailbox.append("sent", raw, flags=["\\Seen"])

    assert uid is not None
    assert imap_mailbox.fetch("sent", [uid]) == {uid: raw}
    assert b"\\Seen" in flags_of(account, "sent")[uid]


def test_ensure_folder_creates_nested_folders_once(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    imap_mailbox.ensure_folder("archive/2024")
    imap_mailbox.ensure_folder("archive/2024")
    imap_mailbox.ensure_folder("INBOX")

    with account.session() as c:
        names = {f[2] for f in c.list_folders()}
    assert {"archive", "archive/2024", "INBOX"} <= names


@pytest.mark.parametrize("use_move", [True, False], ids=["MOVE", "COPY+EXPUNGE"])
def test_move_moves_exactly_the_uids_and_maps_them(
    account: Account,
    make_imap_mailbox: MakeMailbox,
    caplog: pytest.LogCaptureFixture,
    use_move: bool,
) -> None:
    raws = [message(subject=f"m{i}") for i in range(4)]
    uids = account.append_many("INBOX", raws)
    mailbox = make_imap_mailbox(account, use_move=use_move, batch_size=2)
    mailbox.connect()

    with caplog.at_level(logging.DEBUG, logger="imapclient.imaplib"):
        result = mailbox.move("INBOX", [uids[0], uids[2], uids[3]], "processed")

    assert set(result.moved) == {uids[0], uids[2], uids[3]}
    assert None not in result.moved.values()
    assert mailbox.uids("INBOX") == [uids[1]]
    dest = mailbox.fetch("processed", list(result.moved.values()))
    assert [dest[result.moved[u]] for u in (uids[0], uids[2], uids[3])] == [
        raws[0],
        raws[2],
        raws[3],
    ]
    sent = commands(caplog)
    assert "EXPUNGE" not in sent  # never a bare EXPUNGE
    if use_move:
        assert sum(c.startswith("UID MOVE") for c in sent) == 2  # two batches
        assert not any(c.startswith("UID COPY") for c in sent)
    else:
        assert sum(c.startswith("UID COPY") for c in sent) == 2
        assert sum(c.startswith("UID EXPUNGE") for c in sent) == 2
    assert list(flags_of(account, "INBOX")) == [uids[1]]  # originals expunged, not just flagged


@pytest.mark.parametrize("use_move", [True, False], ids=["MOVE", "COPY+EXPUNGE"])
def test_move_tells_the_destination_uidvalidity_and_creates_a_destination_found_missing(
    account: Account,
    make_imap_mailbox: MakeMailbox,
    caplog: pytest.LogCaptureFixture,
    use_move: bool,
) -> None:
    uids = account.append_many("INBOX", [message(subject=f"v{i}") for i in range(3)])
    mailbox = make_imap_mailbox(account, use_move=use_move)
    mailbox.connect()

    first = mailbox.move("INBOX", [uids[0]], "processed")  # its STATUS refused: created
    with caplog.at_level(logging.DEBUG):
        second = mailbox.move("INBOX", [uids[1]], "processed")
    with account.session() as other:
        validity = other.folder_status("processed", ["UIDVALIDITY"])[b"UIDVALIDITY"]
        other.delete_folder("processed")
    third = mailbox.move("INBOX", [uids[2]], "processed")  # deleted meanwhile: created again

    assert first.uidvalidity == second.uidvalidity == validity  # from COPYUID
    # One STATUS for UIDNEXT and UIDVALIDITY checks the folder exists: no LIST, no 2nd STATUS.
    checks = [c for c in commands(caplog) if c.startswith(("STATUS", "LIST"))]
    assert len(checks) == 1 and checks[0].startswith('STATUS "processed" (UIDNEXT)')
    if use_move:  # the SEARCH is sent before the STATUS is answered: one round trip for both
        trace = [r.getMessage() for r in caplog.records if r.name.startswith("imapclient")]
        search = next(i for i, m in enumerate(trace) if m.startswith(">") and "SEARCH" in m)
        assert search < next(i for i, m in enumerate(trace) if "* STATUS" in m)
    with account.session() as other:
        assert (
            third.uidvalidity == other.folder_status("processed", ["UIDVALIDITY"])[b"UIDVALIDITY"]
        )
        other.select_folder("processed")
        assert other.search("ALL") == [third.moved[uids[2]]]
    assert mailbox.uidvalidity("processed") == third.uidvalidity
    assert mailbox.uids("INBOX") == []


def test_a_move_from_a_missing_folder_still_creates_the_destination(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    assert imap_mailbox.move("nowhere", [1], "processed").moved == {}
    imap_mailbox.uidvalidity("processed")  # exists


@pytest.mark.parametrize("use_move", [True, False], ids=["MOVE", "COPY+EXPUNGE"])
def test_move_leaves_other_clients_deleted_mail_alone(
    account: Account, make_imap_mailbox: MakeMailbox, use_move: bool
) -> None:
    ours, theirs = account.append_many("INBOX", [message(), message()])
    mailbox = make_imap_mailbox(account, use_move=use_move)
    mailbox.uids("INBOX")  # our session has INBOX selected while another client works in it
    with account.session() as other:
        other.select_folder("INBOX")
        other.add_flags([theirs], [b"\\Deleted"])

        mailbox.move("INBOX", [ours], "processed")

        other.noop()
        assert other.search(["ALL"]) == [theirs]
    assert b"\\Deleted" in flags_of(account, "INBOX")[theirs]


def test_move_skips_missing_and_already_deleted_uids(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    keep, deleted = account.append_many("INBOX", [message(), message()])
    with account.session() as c:
        c.select_folder("INBOX")
        c.add_flags([deleted], [b"\\Deleted"])

    result = imap_mailbox.move("INBOX", [keep, deleted, 777], "failed")

    assert list(result.moved) == [keep]
    assert imap_mailbox.uids("failed") == [result.moved[keep]]
    assert deleted in flags_of(account, "INBOX")  # not ours to move or expunge


def test_without_uidplus_copies_are_confirmed_by_their_bytes_and_nothing_is_expunged(
    dovecot: Dovecot,
    account: Account,
    make_imap_mailbox: MakeMailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = "<same@example.org>"
    raws = [
        message(subject="with id"),
        b"From: a@example.org\r\nSubject: no id\r\n\r\nx\r\n",
        message(subject="first sharing an id", message_id=shared),
        message(subject="second sharing it", message_id=shared),
    ]
    uids = account.append_many("INBOX", raws)
    mailbox = make_imap_mailbox(account, host=dovecot.basic_host)  # no MOVE, no UIDPLUS
    mailbox.connect()
    assert not {"MOVE", "UIDPLUS"} & mailbox.capabilities

    with caplog.at_level(logging.DEBUG):
        result = mailbox.move("INBOX", uids, "processed")

    dest = mailbox.uids("processed")
    assert len(dest) == 4
    # Each copy's UID found by its bytes: without Message-ID, or sharing one, all the same.
    copies = mailbox.fetch("processed", dest)
    assert [copies[result.moved[u] or 0] for u in uids] == raws
    assert mailbox.uids("INBOX") == []
    # Left flagged, not expunged: EXPUNGE would also remove other clients' deleted mail.
    assert all(b"\\Deleted" in flags for flags in flags_of(account, "INBOX").values())
    assert len(flags_of(account, "INBOX")) == 4
    assert not any("EXPUNGE" in c for c in commands(caplog))
    assert "no UIDPLUS" in caplog.text
    assert result.uidvalidity is None  # no COPYUID: the caller asks the folder's
    assert mailbox.append("sent", raws[0]) is None  # no APPENDUID promised either


def test_interrupted_copy_is_finished_on_retry_without_duplicating(
    account: Account, make_imap_mailbox: MakeMailbox
) -> None:
    """State after a drop between COPY and EXPUNGE: the retry sees the copy and only deletes."""
    copied, flagged, untouched = account.append_many("INBOX", [message() for _ in range(3)])
    mailbox = make_imap_mailbox(account, use_move=False)
    mailbox.ensure_folder("processed")
    with account.session() as c:
        before = c.folder_status("processed", ["UIDNEXT"])[b"UIDNEXT"]
        c.select_folder("INBOX")
        c.copy([copied, flagged], "processed")
        c.add_flags([flagged], [b"\\Deleted"])
        mids = {
            u: headers.message_id(d[b"BODY[HEADER]"])
            for u, d in c.fetch(c.search("ALL"), ["BODY.PEEK[HEADER]"]).items()
        }
    state = _BatchState(
        [copied, flagged, untouched], dest_uidnext=before, sent=True, message_ids=mids
    )

    mailbox._session.run(
        "move",
        functools.partial(mailbox._mover.move_batch, folder="INBOX", dest="processed", st=state),
    )

    assert set(state.moved) == {copied, flagged, untouched}
    assert mailbox.uids("INBOX") == []
    in_dest = mailbox.summaries("processed", mailbox.uids("processed"))
    assert sorted(s.message_id or "" for s in in_dest) == sorted(m or "" for m in mids.values())
    assert {state.moved[u] for u in (copied, flagged, untouched)} == {s.uid for s in in_dest}
    assert state.validity is None  # copies found, not told: the caller asks the folder's


def test_wait_for_changes_wakes_on_new_mail_while_the_mailbox_keeps_working(
    account: Account, imap_mailbox: ImapMailbox
) -> None:
    imap_mailbox.ensure_folder("INBOX")
    assert imap_mailbox.wait_for_changes("INBOX", 0.3) is False  # nothing came

    def deliver_later() -> None:
        time.sleep(0.3)
        account.append("INBOX", message(subject="wake up"))

    threading.Thread(target=deliver_later).start()
    started = time.monotonic()
    assert imap_mailbox.wait_for_changes("INBOX", 20) is True
    assert time.monotonic() - started < 10
    # IDLE ran on its own connection: the main one serves meanwhile and afterwards.
    assert len(imap_mailbox.uids("INBOX")) == 1
    assert imap_mailbox.wait_for_changes("INBOX", 20, pending=lambda: True) is True
    imap_mailbox.close()  # closes the IDLE connection too; a later call opens it again
    assert imap_mailbox.wait_for_changes("INBOX", 0.1) is False


# -- configuration (pure) ---------------------------------------------------------------------


def test_config_from_url_reads_scheme_credentials_and_options() -> None:
    tls = ImapConfig.from_url("imaps://ops%40example.com:p%3Ass@imap.example.com/")
    assert (tls.host, tls.effective_port, tls.security) == ("imap.example.com", 993, "tls")
    assert (tls.username, tls.password) == ("ops@example.com", "p:ss")

    plain = ImapConfig.from_url(
        "imap://u:p@localhost:1143/?security=plain&use_move=false&batch_size=50&timeout=5",
        proxy="http://proxy:3128",
    )
    assert (plain.port, plain.security, plain.use_move) == (1143, "plain", False)
    assert (plain.batch_size, plain.timeout, plain.proxy) == (50, 5.0, "http://proxy:3128")
    assert ImapConfig.from_url("imap://u@h/").security == "starttls"  # never clear by default
    assert "p:ss" not in repr(tls)


@pytest.mark.parametrize(
    "url",
    [
        "pop3://h/",
        "imaps://h/?security=ssl",
        "imaps://h/?colour=blue",
        "imaps://h/?batch_size=many",
        "imaps:///",
        "imaps://h/?proxy=ftp://p:1",
    ],
)
def test_config_from_url_rejects_bad_settings(url: str) -> None:
    with pytest.raises(ConfigError):
        ImapConfig.from_url(url)


@given(st.binary(max_size=400))
def test_summary_parsing_never_raises_on_arbitrary_headers(header: bytes) -> None:
    summary = _summary(7, {_HEADER_FIELDS: header, b"RFC822.SIZE": 10})
    assert summary.uid == 7 and isinstance(summary.subject, str)


@given(st.text(st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=80))
def test_encoded_subjects_decode_to_their_text(subject: str) -> None:
    encoded = email.header.Header(subject, "utf-8").encode()
    header = f"Subject: {encoded}\r\n\r\n".encode()

    summary = _summary(1, {_HEADER_FIELDS: header})

    assert summary.subject == " ".join(subject.split())


@given(st.lists(st.integers(min_value=1, max_value=10_000), max_size=60))
def test_uid_sets_round_trip(uids: list[int]) -> None:
    assert _expand(_uidset(uids).encode()) == sorted(set(uids))


def test_find_by_message_id_and_discard_expunges_only_those(
    imap_mailbox: ImapMailbox, account: Account
):
    keep = imap_mailbox.append("INBOX", message(subject="keep", message_id="<keep@x>"))
    gone = imap_mailbox.append("INBOX", message(subject="gone", message_id="<gone@x>"))
    other = account.append("INBOX", message(subject="other's deleted", message_id="<o@x>"))
    with account.session() as s:
        s.select_folder("INBOX")
        s.add_flags([other], [b"\\Deleted"])  # another client's, not yet expunged
    assert imap_mailbox.find("INBOX", "<gone@x>") == [gone]
    assert imap_mailbox.find("INBOX", "<nobody@x>") == []
    imap_mailbox.discard("INBOX", [gone])
    assert imap_mailbox.uids("INBOX") == [keep]
    assert flags_of(account, "INBOX").keys() == {keep, other}  # other's mail not expunged


def test_sizes_are_read_by_the_quick_reader_and_agree_with_the_summaries(account, imap_mailbox):
    from mailcore.mailboxes import imap as imap_module

    uids = [account.append("INBOX", message(subject=f"s{i}", body="x" * (100 * i))) for i in (1, 5)]
    wanted = {s.uid: s.size for s in imap_mailbox.summaries("INBOX", uids)}
    assert imap_mailbox.sizes("INBOX", [*uids, 999]) == wanted  # a missing UID is absent
    client = imap_mailbox._session.connection()
    client.select_folder("INBOX", readonly=True)
    # Dovecot's answer has the shape the quick reader knows: no fallback was needed.
    assert imap_module._fetch_sizes(client, uids) == wanted
