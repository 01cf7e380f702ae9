"""ImapMailbox when other clients and the network misbehave, against a real Dovecot: mail moved
away by another client during a move, and connections cut at a chosen command by a relay
(`tests.servers.CuttingRelay`) in front of the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailcore.errors import ConnectionLost
from mailcore.mailboxes.imap import ImapMailbox
from tests.conftest import imap_config
from tests.servers import Account, CuttingRelay, Dovecot, message


@pytest.fixture
def relay(dovecot: Dovecot) -> Iterator[CuttingRelay]:
    r = CuttingRelay(dovecot.host, dovecot.port)
    yield r
    r.close()


def _through(relay: CuttingRelay, dovecot: Dovecot, account: Account, **kw: object) -> ImapMailbox:
    config = imap_config(dovecot, account, host=relay.host, port=relay.port, **kw)
    return ImapMailbox(config, retries=3, backoff=0.01)


def _no_mid(subject: str) -> bytes:
    raw = message(subject=subject)
    return b"".join(line for line in raw.splitlines(True) if not line.startswith(b"Message-ID"))


def _contents(account: Account, folder: str) -> list[bytes]:
    with account.session() as c:
        c.select_folder(folder, readonly=True)
        uids = c.search(["UNDELETED"])
        return sorted(d[b"BODY[]"] for d in c.fetch(uids, ["BODY.PEEK[]"]).values())


@pytest.mark.parametrize("use_move", [True, False], ids=["move", "copy"])
def test_mail_another_client_moved_away_is_left_out_and_the_rest_moved(
    account: Account, make_imap_mailbox: object, use_move: bool
) -> None:
    raws = [message(subject=f"m{i}") for i in range(4)]
    uids = account.append_many("INBOX", raws)
    mailbox = make_imap_mailbox(account, use_move=use_move)  # type: ignore[operator]
    mailbox.ensure_folder("processed")
    assert mailbox.uids("INBOX") == uids  # the session's view now holds all four
    with account.session() as other:
        other.create_folder("elsewhere")
        other.select_folder("INBOX")
        other.move([uids[1]], "elsewhere")  # our session has not seen this yet

    result = mailbox.move("INBOX", uids, "processed")  # Dovecot: NO [EXPUNGEISSUED] / NIL

    assert sorted(result.moved) == [uids[0], uids[2], uids[3]]
    assert mailbox.uids("INBOX") == []
    assert _contents(account, "processed") == sorted([raws[0], raws[2], raws[3]])
    assert _contents(account, "elsewhere") == [raws[1]]


def test_a_cut_during_login_is_a_dropped_connection_and_is_retried(
    dovecot: Dovecot, account: Account, relay: CuttingRelay
) -> None:
    uid = account.append("INBOX", message())
    relay.cut("LOGIN", before=True)
    mailbox = _through(relay, dovecot, account)

    assert mailbox.uids("INBOX") == [uid]
    assert relay.cuts == 1 and relay.connections == 2
    mailbox.close()


def test_a_login_cut_every_time_is_connection_lost_not_a_password_problem(
    dovecot: Dovecot, account: Account, relay: CuttingRelay
) -> None:
    relay.cut("LOGIN", before=True, times=10)
    mailbox = _through(relay, dovecot, account)

    with pytest.raises(ConnectionLost) as info:
        mailbox.uids("INBOX")
    assert "check the user name" not in str(info.value)
    assert account.password not in str(info.value)
    assert relay.cuts == 4  # the first attempt and three retries


@pytest.mark.parametrize("command", ["UID COPY", "UID MOVE"])
def test_a_cut_right_after_the_copy_files_each_mail_once_even_without_message_id(
    dovecot: Dovecot, account: Account, relay: CuttingRelay, command: str
) -> None:
    # Two mails without Message-ID, two sharing one but different: none is told apart by it.
    raws = [
        _no_mid("first"),
        _no_mid("second"),
        message(subject="a", message_id="<same@example.org>"),
        message(subject="b", message_id="<same@example.org>"),
    ]
    uids = account.append_many("INBOX", raws)
    account.append_many("processed", [message(subject="already there")])
    mailbox = _through(relay, dovecot, account, use_move=command == "UID MOVE")
    mailbox.ensure_folder("processed")
    relay.cut(command)

    result = mailbox.move("INBOX", uids, "processed")

    assert relay.cuts == 1
    assert sorted(result.moved) == uids
    assert mailbox.uids("INBOX") == []
    filed = _contents(account, "processed")
    assert len(filed) == 5 and all(filed.count(raw) == 1 for raw in raws)
    if command == "UID COPY":  # the copies are known by their bytes: their new UIDs too
        assert None not in result.moved.values()
    mailbox.close()
