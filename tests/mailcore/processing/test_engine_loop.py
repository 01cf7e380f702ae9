"""`mailcore poll --loop` through transient trouble: SQLite locked by another writer (a real
lock, taken by a second connection), backoff between failed rounds, and logs that never
carry what a mail holds."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailcore.commands import poll as poll_module
from mailcore.commands.poll import Backoff, describe_failure, poll
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.store.history import History
from tests.mailcore.engine_support import CALLS, vehicle_mail

HANDLERS = "tests.mailcore.engine_support:registry"
SECRET_SENDER = "secret-sender@example.org"


def test_a_locked_sqlite_history_is_retried_and_never_logged_with_the_mail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "h.db"
    History(f"sqlite:///{db}").close()  # the tables exist
    box = MaildirMailbox(tmp_path / "mail")
    box.append("INBOX", vehicle_mail(ident="VEH-77", plate="LOCK-1", sender=SECRET_SENDER))
    config = tmp_path / "mailcore.toml"
    config.write_text(
        f'maildir = "{tmp_path / "mail"}"\ndatabase_url = "sqlite:///{db}?timeout=0.2"\n'
    )
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # another process writing for a long time
    waits: list[float] = []

    def pause(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            writer.execute("COMMIT")  # the other writer is done

    monkeypatch.setattr(poll_module, "_pause", pause)
    CALLS.clear()
    args = ["--config", str(config), "--handlers", HANDLERS, "--loop", "--interval", "0"]

    with caplog.at_level(logging.ERROR):
        result = CliRunner().invoke(poll, [*args, "--max-polls", "4"], env={})

    assert result.exit_code == 0, result.output
    assert waits[:2] == [1.0, 2.0]  # backoff: 1 s, then 2 s
    assert "database is locked" in caplog.text
    assert SECRET_SENDER not in caplog.text and "LOCK-1" not in caplog.text
    assert "Vehicle update" not in caplog.text and "@test.example.org" not in caplog.text
    assert [plate["plate_number"] for _, plate in CALLS] == ["LOCK-1"]  # handled once
    assert box.uids("INBOX") == [] and len(box.uids("processed")) == 1
    writer.close()


def test_backoff_doubles_to_its_ceiling_and_starts_over_after_a_good_round() -> None:
    backoff = Backoff(1.0)

    waits = [backoff.failed() for _ in range(12)]
    backoff.succeeded()

    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == poll_module.MAX_RETRY_SECONDS
    assert backoff.failed() == 1.0
    assert Backoff(600.0).failed() == Backoff(600.0).delay == 600.0  # never below the interval


def test_an_unexpected_error_is_described_without_its_text() -> None:
    try:
        raise KeyError(f"subject of {SECRET_SENDER}")
    except KeyError as e:
        text = describe_failure(e)

    assert SECRET_SENDER not in text
    assert "KeyError" in text and "test_engine_loop.py" in text
