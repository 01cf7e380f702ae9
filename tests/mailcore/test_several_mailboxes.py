"""`mailcore poll` over several configured mailboxes: each mail filed in its own mailbox's
folders by its own handlers, the same mail in two mailboxes handled once in each, one mailbox
down never stopping the others (Maildirs and real Dovecot accounts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mailcore.commands.poll import poll
from mailcore.inbound.identity import message_key
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.store.history import History
from tests.mailcore.engine_support import deliver, ready_account, vehicle_mail
from tests.mailcore.mailboxes_support import CALLS

SUPPORT = "tests.mailcore.mailboxes_support"


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    for calls in CALLS.values():
        calls.clear()


def write_config(tmp_path: Path, top: str, *entries: str) -> str:
    path = tmp_path / "mailcore.toml"
    path.write_text(f'database_url = "sqlite:///{tmp_path / "h.db"}"\n{top}\n' + "\n".join(entries))
    return str(path)


def entry(name: str, where: str, handlers: str, processed: str) -> str:
    return (
        f'[[mailboxes]]\nname = "{name}"\n{where}\nhandlers = "{SUPPORT}:{handlers}"\n'
        f'[mailboxes.folders]\nprocessed = "{processed}"\n'
    )


def test_two_maildirs_in_one_poll_each_with_its_handlers_and_folders(tmp_path: Path) -> None:
    first, second = MaildirMailbox(tmp_path / "a"), MaildirMailbox(tmp_path / "b")
    same = vehicle_mail(plate="BOTH-1")
    deliver(first, vehicle_mail(plate="A-1"), same)
    deliver(second, vehicle_mail(plate="B-1"), same, vehicle_mail(plate="REFUSE"))
    cfg = write_config(
        tmp_path,
        f'maildir = "{tmp_path / "a"}"\nhandlers = "{SUPPORT}:orders"',
        entry("returns", f'maildir = "{tmp_path / "b"}"', "returns", "returned"),
    )

    result = CliRunner().invoke(poll, ["--config", cfg], env={})

    assert result.exit_code == 0, result.output
    assert "default: 2 messages" in result.output and "returns: 3 messages" in result.output
    assert sorted(p for p, _, _ in CALLS["orders"]) == ["A-1", "BOTH-1"]
    assert sorted(p for p, _, _ in CALLS["returns"]) == ["B-1", "BOTH-1"]
    assert len(first.uids("processed")) == 2 and first.uids("INBOX") == []
    assert len(second.uids("returned")) == 2 and len(second.uids("failed")) == 1
    assert not (tmp_path / "b" / ".processed").exists()  # its own folder, not the default's
    # The same mail is a message of each mailbox: keys apart, the default's as it always was.
    key_a = next(k for p, k, _ in CALLS["orders"] if p == "BOTH-1")
    key_b = next(k for p, k, _ in CALLS["returns"] if p == "BOTH-1")
    assert key_a == message_key(same) and key_b != key_a
    # Each handler is told which mailbox the mail arrived in.
    assert {m for _, _, m in CALLS["orders"]} == {"default"}
    assert {m for _, _, m in CALLS["returns"]} == {"returns"}
    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        a, b = history.state(key_a), history.state(key_b)
        assert a is not None and b is not None
        assert (a.mailbox, a.handler, a.folder) == (None, "orders", "processed")
        assert (b.mailbox, b.handler, b.folder) == ("returns", "returns", "returned")
    finally:
        history.close()

    again = CliRunner().invoke(poll, ["--config", cfg], env={})  # nothing is handled twice
    assert again.exit_code == 0, again.output
    assert len(CALLS["orders"]) == 2 and len(CALLS["returns"]) == 2


def test_a_copy_delivered_again_to_the_second_mailbox_is_its_duplicate(tmp_path: Path) -> None:
    second = MaildirMailbox(tmp_path / "b")
    raw = vehicle_mail(plate="AGAIN")
    deliver(second, raw)
    cfg = write_config(
        tmp_path, "", entry("returns", f'maildir = "{tmp_path / "b"}"', "returns", "returned")
    )
    assert CliRunner().invoke(poll, ["--config", cfg], env={}).exit_code == 0
    deliver(second, raw)

    result = CliRunner().invoke(poll, ["--config", cfg], env={})

    assert result.exit_code == 0 and "1 duplicate" in result.output, result.output
    assert len(CALLS["returns"]) == 1 and second.uids("INBOX") == []


def test_mailbox_option_works_one_mailbox(tmp_path: Path) -> None:
    first, second = MaildirMailbox(tmp_path / "a"), MaildirMailbox(tmp_path / "b")
    deliver(first, vehicle_mail(plate="A-1"))
    deliver(second, vehicle_mail(plate="B-1"))
    cfg = write_config(
        tmp_path,
        "",
        entry("orders", f'maildir = "{tmp_path / "a"}"', "orders", "done"),
        entry("returns", f'maildir = "{tmp_path / "b"}"', "returns", "returned"),
    )

    result = CliRunner().invoke(poll, ["--config", cfg, "--mailbox", "returns"], env={})
    unknown = CliRunner().invoke(poll, ["--config", cfg, "--mailbox", "nope"], env={})

    assert result.exit_code == 0, result.output
    assert [p for p, _, _ in CALLS["returns"]] == ["B-1"] and CALLS["orders"] == []
    assert len(first.uids("INBOX")) == 1
    assert unknown.exit_code == 1
    assert "no mailbox named 'nope'" in unknown.output and "orders, returns" in unknown.output


def test_a_mailbox_that_is_down_does_not_stop_the_others(
    tmp_path: Path, dovecot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    account = ready_account(dovecot)
    account.append("INBOX", vehicle_mail(plate="IMAP-1"))
    box = MaildirMailbox(tmp_path / "b")
    deliver(box, vehicle_mail(plate="B-1"))
    cfg = write_config(
        tmp_path,
        "",
        entry("down", 'imap_url = "imap://nobody:x@127.0.0.1:1/"', "orders", "done"),
        entry("orders", f'imap_url = "{account.imap_url()}"', "orders", "done"),
        entry("returns", f'maildir = "{tmp_path / "b"}"', "returns", "returned"),
    )

    once = CliRunner().invoke(poll, ["--config", cfg], env={})

    assert once.exit_code == 1  # a single poll says that a mailbox failed, after the others
    assert "1 of 3 mailboxes could not be polled: down" in once.output
    assert [p for p, _, _ in CALLS["orders"]] == ["IMAP-1"]
    assert [p for p, _, _ in CALLS["returns"]] == ["B-1"]
    with account.session() as c:
        c.select_folder("done")
        assert len(c.search("ALL")) == 1

    account.append("INBOX", vehicle_mail(plate="IMAP-2"))
    args = ["--config", cfg, "--loop", "--interval", "0.01", "--max-polls", "1"]
    looping = CliRunner().invoke(poll, args, env={})

    assert looping.exit_code == 0, looping.output  # in a loop a failing mailbox is retried
    assert [p for p, _, _ in CALLS["orders"]] == ["IMAP-1", "IMAP-2"]
    retried = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retried and all(m.startswith("down: poll failed") for m in retried)


def test_idle_over_two_dovecot_accounts(tmp_path: Path, dovecot: Any) -> None:
    one, two = ready_account(dovecot), ready_account(dovecot)
    one.append("INBOX", vehicle_mail(plate="ONE-1"))
    two.append("INBOX", vehicle_mail(plate="TWO-1"))
    cfg = write_config(
        tmp_path,
        f'imap_url = "{one.imap_url()}"\nhandlers = "{SUPPORT}:orders"',
        entry("returns", f'imap_url = "{two.imap_url()}"', "returns", "returned"),
    )
    args = ["--config", cfg, "--idle", "--interval", "0.3", "--max-polls", "2"]

    result = CliRunner().invoke(poll, args, env={})

    assert result.exit_code == 0, result.output
    assert [p for p, _, _ in CALLS["orders"]] == ["ONE-1"]
    assert [p for p, _, _ in CALLS["returns"]] == ["TWO-1"]
    for account, folder in ((one, "processed"), (two, "returned")):
        with account.session() as c:
            c.select_folder(folder)
            assert len(c.search("ALL")) == 1


def test_idle_names_the_mailbox_that_is_a_maildir(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        f'imap_url = "imap://u:p@127.0.0.1:1/"\nhandlers = "{SUPPORT}:orders"',
        entry("returns", f'maildir = "{tmp_path / "b"}"', "returns", "returned"),
    )
    result = CliRunner().invoke(poll, ["--config", cfg, "--idle"], env={})
    assert result.exit_code == 1
    assert "--idle needs an IMAP mailbox (set imap_url) (returns is a Maildir)" in result.output
