"""`mailcore poll`: once over a Maildir, and woken by IMAP IDLE on a real Dovecot."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mailcore.commands import poll as poll_module
from mailcore.commands.poll import poll
from mailcore.errors import MailboxError
from mailcore.mailboxes.imap import ImapMailbox
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine
from tests.mailcore.engine_support import auto_reply_mail, ready_account, vehicle_mail
from tests.servers import message

HANDLERS = "tests.mailcore.engine_support:registry"


def config(tmp_path: Path, source: str) -> str:
    path = tmp_path / "mailcore.toml"
    path.write_text(f'{source}\ndatabase_url = "sqlite:///{tmp_path / "h.db"}"\n')
    return str(path)


def test_poll_once_drains_the_inbox_in_batches_with_a_line_each(tmp_path: Path):
    box = MaildirMailbox(tmp_path / "mail")
    for i in range(5):
        box.append("INBOX", vehicle_mail(plate=f"P-{i}"))
    box.append("INBOX", vehicle_mail(plate="REFUSE"))
    box.append("INBOX", auto_reply_mail())
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    result = CliRunner().invoke(
        poll, ["--config", cfg, "--handlers", HANDLERS, "--batch-size", "4"], env={}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("4 messages in ") and lines[0].endswith("4 processed")
    assert lines[1].endswith("1 processed, 1 failed, 1 auto")
    assert box.uids("INBOX") == [] and len(box.uids("processed")) == 5


def test_poll_of_an_empty_inbox_says_so_once(tmp_path: Path):
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    args = ["--config", cfg, "--handlers", HANDLERS]
    once = CliRunner().invoke(poll, args, env={})
    assert (once.exit_code, once.output) == (0, "INBOX: nothing to do\n")
    looping = CliRunner().invoke(
        poll, [*args, "--loop", "--interval", "0.01", "--max-polls", "3"], env={}
    )
    assert (looping.exit_code, looping.output) == (0, "INBOX: nothing to do\n")


def test_poll_refuses_to_run_without_handlers(tmp_path: Path):
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    result = CliRunner().invoke(poll, ["--config", cfg], env={})
    assert result.exit_code != 0 and "no handlers registered" in result.output


def test_poll_reports_a_bad_setting(tmp_path: Path):
    cfg = config(tmp_path, "maildirr = 'x'")
    result = CliRunner().invoke(poll, ["--config", cfg, "--handlers", HANDLERS], env={})
    assert result.exit_code != 0 and "unknown setting 'maildirr'" in result.output


def test_poll_idle_wakes_up_on_new_mail(tmp_path: Path, dovecot: Any):
    account = ready_account(dovecot)
    url = f"imap://{account.username}:{account.password}@{dovecot.host}:{dovecot.port}/"
    cfg = config(tmp_path, f'imap_url = "{url}?security=plain"')
    results: list[Any] = []
    args = ["--config", cfg, "--handlers", HANDLERS, "--idle", "--interval", "600"]
    worker = threading.Thread(
        target=lambda: results.append(CliRunner().invoke(poll, [*args, "--max-polls", "2"]))
    )
    started = time.monotonic()
    worker.start()
    # The mail comes once the poller waits: its IDLE connection is its second login (after
    # ready_account's and the first poll's), however long a loaded machine takes to get there.
    marker = f"Login: user=<{account.username}>"
    while dovecot.log().count(marker) < 3 and time.monotonic() - started < 30:
        time.sleep(0.05)
    account.append("INBOX", vehicle_mail(plate="IDLE-1"))
    worker.join(timeout=60)
    assert not worker.is_alive(), "IDLE never woke the poller"
    assert time.monotonic() - started < 60  # far below the 600 s interval
    [result] = results
    assert result.exit_code == 0, result.output
    assert "1 processed" in result.output
    with account.session() as c:
        c.select_folder("processed")
        assert len(c.search("ALL")) == 1


def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the poll loop between rounds, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(poll_module, "_pause", waited.append)
    return waited


def failing_polls(monkeypatch: pytest.MonkeyPatch, *errors: Exception) -> list[int]:
    """Engine.poll_once raises `errors` in turn (the last one again and again); returns the
    list the number of each call is appended to."""
    calls: list[int] = []

    def poll_once(self: Engine, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(len(calls) + 1)
        raise errors[min(len(calls), len(errors)) - 1]

    monkeypatch.setattr(Engine, "poll_once", poll_once)
    return calls


def test_poll_loop_waits_its_interval_after_any_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    waited = pauses(monkeypatch)
    calls = failing_polls(monkeypatch, RuntimeError("a bug on one mail"), MailboxError("down"))
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    args = ["--config", cfg, "--handlers", HANDLERS, "--loop", "--interval", "7"]

    result = CliRunner().invoke(poll, [*args, "--max-polls", "3"], env={})

    assert result.exit_code == 0, result.output  # a non-MailcoreError did not end the loop
    assert calls == [1, 2, 3]
    assert waited == [7, 14]  # failures in a row back off


def test_poll_loop_never_retries_sooner_than_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    waited = pauses(monkeypatch)
    failing_polls(monkeypatch, MailboxError("down"))
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    args = ["--config", cfg, "--handlers", HANDLERS, "--loop", "--interval", "0"]

    result = CliRunner().invoke(poll, [*args, "--max-polls", "3"], env={})

    assert result.exit_code == 0, result.output
    assert waited == [poll_module.MIN_RETRY_SECONDS, 2 * poll_module.MIN_RETRY_SECONDS]


def test_poll_once_still_reports_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    failing_polls(monkeypatch, MailboxError("the server is down"))
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')

    result = CliRunner().invoke(poll, ["--config", cfg, "--handlers", HANDLERS], env={})

    assert result.exit_code == 1 and "the server is down" in result.output


def test_poll_idle_waits_after_a_failure_instead_of_spinning(
    tmp_path: Path, dovecot: Any, monkeypatch: pytest.MonkeyPatch
):
    # A mail that stays in the inbox made IDLE return at once ("mail is pending"): 728 failed
    # polls in 12 s, each "retrying in 5s".
    account = ready_account(dovecot)
    account.append("INBOX", vehicle_mail(plate="STUCK"))
    waited = pauses(monkeypatch)
    calls = failing_polls(monkeypatch, MailboxError("refused"), RuntimeError("a bug"))
    cfg = config(tmp_path, f'imap_url = "{account.imap_url()}"')
    args = ["--config", cfg, "--handlers", HANDLERS, "--idle", "--interval", "600"]

    result = CliRunner().invoke(poll, [*args, "--max-polls", "4"], env={})

    assert result.exit_code == 0, result.output
    assert calls == [1, 2, 3, 4]
    assert waited == [600, 600, 600]


def test_poll_idle_is_not_woken_by_mail_the_poll_left_in_the_inbox(
    tmp_path: Path, dovecot: Any, monkeypatch: pytest.MonkeyPatch
):
    account = ready_account(dovecot)
    account.append("INBOX", vehicle_mail(plate="LEFT"))
    monkeypatch.setattr(Engine, "poll_once", lambda self, *a, **k: [])  # leaves it there
    woken: list[bool] = []
    wait = ImapMailbox.wait_for_changes

    def recorded(self: ImapMailbox, *args: Any, **kwargs: Any) -> bool:
        woken.append(wait(self, *args, **kwargs))
        return woken[-1]

    monkeypatch.setattr(ImapMailbox, "wait_for_changes", recorded)
    cfg = config(tmp_path, f'imap_url = "{account.imap_url()}"')
    args = ["--config", cfg, "--handlers", HANDLERS, "--idle", "--interval", "0.3"]

    result = CliRunner().invoke(poll, [*args, "--max-polls", "3"], env={})

    assert result.exit_code == 0, result.output
    assert woken == [False, False]  # each IDLE ran out its 0.3 s: nothing new came


def test_poll_handles_two_copies_of_a_mail_whose_message_id_looks_like_a_literal(
    tmp_path: Path, dovecot: Any
):
    # `dup{5}` at the end of a SEARCH line announced a literal: every poll stalled, then raised.
    account = ready_account(dovecot)
    raw = message(
        subject="[VEH-123] Vehicle update",
        body="plate_number: DUP-5\r\nyear: 2020\r\n",
        message_id="dup{5}",
    )
    account.append_many("INBOX", [raw, raw])
    cfg = config(tmp_path, f'imap_url = "{account.imap_url()}&timeout=3"')

    result = CliRunner().invoke(poll, ["--config", cfg, "--handlers", HANDLERS], env={})

    assert result.exit_code == 0, result.output
    assert "1 processed, 1 duplicate" in result.output
    with account.session() as c:
        c.select_folder("INBOX", readonly=True)
        assert c.search(["NOT", "DELETED"]) == []
        c.select_folder("processed", readonly=True)
        assert len(c.search(["NOT", "DELETED"])) == 1  # the copy was recognised by its ID
