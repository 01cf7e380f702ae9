"""Retention in the long-running loops: purged at most once a day, a failed purge never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mailcore.commands import poll as poll_module
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.store.history import History
from mailcore.store.retention import PURGE_EVERY_SECONDS, RETRY_SECONDS, RetentionSchedule
from tests.mailcore.engine_support import vehicle_mail
from tests.mailcore.test_poll import HANDLERS, config


class FailingOnce(History):
    """A real History whose first purge fails (after `side_effect`), later ones succeed."""

    side_effect = staticmethod(lambda: None)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.purges = 0

    def purge(self, older_than: object = None) -> int:
        self.purges += 1
        if self.purges == 1:
            type(self).side_effect()
            raise OSError("database is locked")
        return super().purge()


def test_schedule_purges_once_a_day_and_retries_a_failure_sooner(tmp_path: Path):
    history = FailingOnce(f"sqlite:///{tmp_path / 'h.db'}", retention_days=30)
    clock = [1000.0]
    schedule = RetentionSchedule(history, clock=lambda: clock[0])
    assert schedule.maybe_purge() is None and history.purges == 1  # failed, logged
    clock[0] += RETRY_SECONDS - 1
    assert schedule.maybe_purge() is None and history.purges == 1  # not due yet
    clock[0] += 1
    assert schedule.maybe_purge() == 0 and history.purges == 2
    clock[0] += PURGE_EVERY_SECONDS - 1
    assert schedule.maybe_purge() is None and history.purges == 2
    clock[0] += 1
    assert schedule.maybe_purge() == 0 and history.purges == 3
    history.close()


def test_poll_loop_survives_a_purge_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    box = MaildirMailbox(tmp_path / "mail")
    box.append("INBOX", vehicle_mail(plate="BEFORE"))
    made: list[FailingOnce] = []

    class Recorded(FailingOnce):
        # The failing purge also brings new mail, which only a poll after it can handle.
        side_effect = staticmethod(lambda: box.append("INBOX", vehicle_mail(plate="AFTER")))

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(poll_module, "History", Recorded)
    cfg = config(tmp_path, f'maildir = "{tmp_path / "mail"}"')
    args = ["--config", cfg, "--handlers", HANDLERS, "--loop", "--interval", "0.01"]
    result = CliRunner().invoke(poll_module.poll, [*args, "--max-polls", "3"], env={})
    assert result.exit_code == 0, result.output
    assert [h.purges for h in made] == [1]  # failed once; not retried within the hour
    assert result.output.count("1 processed") == 2
    assert box.uids("INBOX") == [] and len(box.uids("processed")) == 2
