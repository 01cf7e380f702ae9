"""Caller-controlled strings on a real Dovecot: search values, Message-IDs, folder names and
flags reach the server as IMAP strings (quoted or literal), never as command text."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imapclient import imap_utf7

from mailcore.errors import ConfigError, MailboxError, MailcoreError, UnsendableValue
from mailcore.mailboxes.imap import ImapConfig, ImapMailbox, _imap_string
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.mailboxes.protocol import searchable
from tests.servers import Account, message

MakeMailbox = Callable[..., ImapMailbox]

INJECTION = "zz\r\nX1 CREATE pwned\r\nX2 NOOP"


def folder_names(account: Account) -> set[str]:
    """The account's folders, listed by another client. The LIST lines are read here:
    imapclient's parser fails on an unquoted name such as `[0`, which Dovecot sends as it is."""
    with account.session() as c:
        typ, lines = c._imap.list('""', "*")
        assert typ == "OK", lines
        names: set[str] = set()
        for line in lines:
            if isinstance(line, tuple):  # the name came as a literal
                names.add(imap_utf7.decode(line[1]))
                continue
            if not line:  # what imaplib keeps of the line's end after a literal
                continue
            match = re.fullmatch(rb'\([^)]*\) (?:"(?:[^"\\]|\\.)"|NIL) (.*)', line)
            assert match, line
            name = match.group(1)
            if name.startswith(b'"'):
                name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
            names.add(imap_utf7.decode(name))
        return names


# Hostile text: the characters that matter to IMAP's syntax, plus anything hypothesis likes.
HOSTILE = st.lists(
    st.one_of(
        st.sampled_from(["\r", "\n", "\r\n", "\x00", "{5}", "{0}", '"', "\\", " ", "(", ")"]),
        st.sampled_from(["*", "%", "]", "~", "é", "日本", "\u2028", "\x7f", "+", "&-", "X1 ", "/"]),
        st.characters(),
    ),
    max_size=20,
).map("".join)


def test_a_sender_search_cannot_send_a_command(account: Account, imap_mailbox: ImapMailbox):
    imap_mailbox.ensure_folder("failed")
    before = folder_names(account)

    assert imap_mailbox.search_from("failed", INJECTION) == []

    assert folder_names(account) == before  # no CREATE pwned
    assert "pwned" not in folder_names(account)
    assert imap_mailbox.uids("failed") == []  # the session is still in step


def test_a_sender_search_finds_what_it_asks_for(account: Account, imap_mailbox: ImapMailbox):
    uids = account.append_many(
        "INBOX",
        [
            message(sender='"Ren\\"ee {5}" <renee@example.org>'),
            message(sender="=?utf-8?q?Ren=C3=A9e?= <renee@example.org>"),
            message(sender="bob@example.org"),
        ],
    )
    assert imap_mailbox.search_from("INBOX", "renee@") == uids[:2]
    assert imap_mailbox.search_from("INBOX", "{5}") == uids[:1]
    assert imap_mailbox.search_from("INBOX", 'Ren\\"ee') == uids[:1]
    assert imap_mailbox.search_from("INBOX", "René") == uids[1:2]
    assert imap_mailbox.search_from("INBOX", "bob\r\n") == []


def test_a_message_id_ending_like_a_literal_is_found(
    account: Account, make_imap_mailbox: MakeMailbox
):
    # `dup{5}` sent as an atom at the end of a line announces a 5-byte literal: the server
    # waits for it, the client for the answer, until the connection times out.
    uid = account.append("INBOX", message(message_id="dup{5}"))
    mailbox = make_imap_mailbox(account, timeout=3.0)

    assert mailbox.find("INBOX", "dup{5}") == [uid]
    assert mailbox.find("INBOX", "<x{0}") == []
    assert mailbox.uids("INBOX") == [uid]


def test_a_non_ascii_message_id_is_found(account: Account, imap_mailbox: ImapMailbox):
    uid = account.append("INBOX", message(message_id="<café-1@exämple.org>"))

    assert imap_mailbox.find("INBOX", "<café-1@exämple.org>") == [uid]


def test_a_value_no_imap_string_can_carry_is_refused_before_sending(
    account: Account, imap_mailbox: ImapMailbox, caplog: pytest.LogCaptureFixture
):
    imap_mailbox.connect()
    before = folder_names(account)
    with caplog.at_level(logging.DEBUG, logger="imapclient.imaplib"):
        for bad in ("a\x00b", "bad\r\nX CREATE pwned", "tab\there", "\ud800"):
            with pytest.raises(UnsendableValue) as caught:
                imap_mailbox.ensure_folder(bad)
            assert isinstance(caught.value, MailboxError)
            assert "folder name" in str(caught.value)
        with pytest.raises(UnsendableValue, match="flag"):
            imap_mailbox.append("INBOX", message(), flags=["\\Seen) X1 CREATE pwned"])
    sent = " ".join(r.getMessage() for r in caplog.records if r.name == "imapclient.imaplib")
    assert "pwned" not in sent and "CREATE" not in sent
    assert not [r for r in caplog.records if "reconnecting" in r.getMessage()]
    assert folder_names(account) == before
    assert imap_mailbox.uids("INBOX") == []  # nothing appended, the session still works


def test_searches_for_values_no_header_can_hold_match_nothing(
    account: Account, imap_mailbox: ImapMailbox
):
    account.append("INBOX", message(sender="a@example.org", message_id="<a@example.org>"))

    assert imap_mailbox.search_from("INBOX", "a\x00") == []
    assert imap_mailbox.find("INBOX", "<a\x00") == []
    assert imap_mailbox.search_from("INBOX", "\udcff") == []
    assert imap_mailbox.search_from("INBOX", "a" * 100_000) == []


def test_folder_names_with_imap_syntax_are_created_exactly(
    account: Account, imap_mailbox: ImapMailbox
):
    names = ['quo"te', "back\\slash", "brace{5}", "Café", "paren (x)", "amp&-sand"]
    for name in names:
        imap_mailbox.ensure_folder(name)
        imap_mailbox.append(name, message(subject=name))
        assert len(imap_mailbox.uids(name)) == 1
    assert folder_names(account) == {"INBOX", *names}


def test_a_folder_name_with_a_wildcard_is_not_taken_for_another(
    account: Account, imap_mailbox: ImapMailbox
):
    imap_mailbox.ensure_folder("failed")
    # LIST "" "fail*" matches `failed`: the folder would be thought to exist already.
    try:
        imap_mailbox.ensure_folder("fail*")
    except MailboxError:
        pass  # the server may refuse the name: then it says so
    else:
        assert "fail*" in folder_names(account)
    assert imap_mailbox.uids("fail*") == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=HOSTILE)
def test_hostile_values_never_change_the_folder_list(
    account: Account, imap_mailbox: ImapMailbox, value: str
):
    imap_mailbox.ensure_folder("failed")
    before = folder_names(account)

    assert imap_mailbox.search_from("failed", value) == []
    assert imap_mailbox.find("failed", value) == []
    for op in (imap_mailbox.uids, imap_mailbox.uidvalidity, imap_mailbox.refresh):
        try:
            op(value)
        except MailcoreError as e:
            assert isinstance(e, MailboxError), e
    after = folder_names(account)
    assert after == before, after ^ before
    try:
        imap_mailbox.ensure_folder(value)
    except MailboxError:
        assert folder_names(account) == before
    else:
        created = folder_names(account) - before
        parts = value.split("/")  # the test Dovecot's hierarchy separator
        parents = {"/".join(parts[:i]) for i in range(1, len(parts))}
        assert created <= {value} | parents  # that folder (or an existing one), nothing else
    assert imap_mailbox.uids("failed") == []  # the session is still in step


@given(value=HOSTILE)
def test_imap_string_is_quoted_ascii_or_a_literal(value: str):
    try:
        wire = _imap_string(value)
    except UnsendableValue:
        assert "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
        return
    data = value.encode("utf-8")
    if wire.literal:
        assert wire.data == data
    else:
        assert wire.data.startswith(b'"') and wire.data.endswith(b'"')
        assert all(0x20 <= b < 0x7F for b in wire.data)
        inner = wire.data[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        assert inner == data


@pytest.mark.parametrize("esearch", [True, False], ids=["esearch", "plain-search"])
@pytest.mark.parametrize("literal_plus", [True, False], ids=["literal+", "synchronising"])
def test_searches_work_without_esearch_or_literal_plus(
    account: Account, imap_mailbox: ImapMailbox, esearch: bool, literal_plus: bool
):
    uids = account.append_many(
        "INBOX",
        [
            message(sender="Zoë <zoe@example.org>", message_id="<a{5}@x>"),
            message(sender="bob@example.org", message_id="<b@x>"),
        ],
    )
    imap_mailbox.connect()
    client = imap_mailbox._session.client
    assert client is not None
    if not esearch:  # the server still has it; we only stop asking for it
        imap_mailbox._session.capabilities = imap_mailbox._session.capabilities - {"ESEARCH"}
    if not literal_plus:  # every literal then waits for the server's "+"
        caps = client.capabilities()
        client._cached_capabilities = tuple(c for c in caps if c.upper() != b"LITERAL+")
        assert not client.has_capability("LITERAL+")

    assert imap_mailbox.search_from("INBOX", "zoë") == uids[:1]
    assert imap_mailbox.search_from("INBOX", "example.org") == uids
    assert imap_mailbox.search_from("INBOX", INJECTION) == []
    assert imap_mailbox.find("INBOX", "<a{5}@x>") == uids[:1]
    assert imap_mailbox.find("INBOX", "<nothing>") == []
    assert imap_mailbox.uids("INBOX") == uids
    assert "pwned" not in folder_names(account)


PARITY_MAILS = [
    message(sender="Zoë Quote <zoe@example.org>", message_id="<A{5}@Example.org>"),
    message(sender='"Bob \\"B\\"" <bob@example.org>', message_id="<b@x>"),
    message(sender="=?utf-8?q?Ren=C3=A9e?= <renee@example.net>", message_id="dup{5}"),
    message(sender="Émile <emile@example.net>", message_id="<Café-1@exämple.org>"),
]
# Not quotes or backslashes: how a server renders an address it matches against is its own.
PARITY_SEARCHES = [
    "zoë", "ZOE@", "example.org", "{5}", "Renée", "renee@example.net", "",
    INJECTION, "a\x00", "\udcff", "x" * 5000, "bob\r\n", "<a{5}@example.ORG>", "dup{5}",
    "CAFÉ-1", "émile",
]  # fmt: skip


def test_maildir_and_imap_searches_agree(
    account: Account, imap_mailbox: ImapMailbox, tmp_path: Path
):
    local = MaildirMailbox(tmp_path / "mail")
    imap_uids = account.append_many("INBOX", PARITY_MAILS)
    local_uids = [local.append("INBOX", raw) for raw in PARITY_MAILS]

    def which(uids: list[int], order: list[int | None]) -> list[int]:
        return [order.index(u) for u in uids]

    for value in PARITY_SEARCHES:
        on_imap = which(imap_mailbox.search_from("INBOX", value), list(imap_uids))
        assert on_imap == which(local.search_from("INBOX", value), local_uids), value
        found = which(imap_mailbox.find("INBOX", value), list(imap_uids))
        assert found == which(local.find("INBOX", value), local_uids), value
    assert folder_names(account) == {"INBOX"}


@given(value=HOSTILE)
def test_searchable_is_what_imap_can_send(value: str):
    try:
        _imap_string(value)
    except UnsendableValue:
        assert not searchable(value)
    else:
        assert searchable(value)


@pytest.mark.parametrize("name", ["username", "password", "oauth2_token"])
def test_credentials_with_line_breaks_are_a_config_error(name: str):
    with pytest.raises(ConfigError, match=name) as caught:
        ImapConfig(host="imap.example.org", **{name: "secret\r\nX1 CREATE pwned"})
    assert "secret" not in str(caught.value)
