"""EngineSet (serve --poll over several mailboxes): every mailbox polled each round, one that
fails waits alone (doubling), an error is raised only when every mailbox failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailcore.errors import MailboxError
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing import mailbox_set
from mailcore.processing.engine import Engine
from mailcore.processing.mailbox_set import EngineSet
from mailcore.store.history import History
from tests.mailcore.engine_support import deliver, vehicle_mail
from tests.mailcore.mailboxes_support import CALLS, orders, returns


class Down:
    """A mailbox whose server is away: every call fails, as the IMAP mailbox's do then."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise MailboxError("connection refused -- is the server up?")

        return fail


def test_a_mailbox_that_fails_waits_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for calls in CALLS.values():
        calls.clear()
    clock = [1000.0]
    monkeypatch.setattr(mailbox_set.time, "monotonic", lambda: clock[0])
    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    box = MaildirMailbox(tmp_path / "b")
    deliver(box, vehicle_mail(plate="B-1"))
    down = Engine(Down(), orders, history, mailbox_name="down")
    fleet = EngineSet(
        {"down": down, "returns": Engine(box, returns, history, mailbox_name="returns")}
    )
    try:
        assert [o.status for o in fleet.poll_once()] == ["processed"]
        assert fleet.history is history
        deliver(box, vehicle_mail(plate="B-2"))
        assert len(fleet.poll_once()) == 1  # within its wait: "down" is not even tried
        assert [p for p, _, _ in CALLS["returns"]] == ["B-1", "B-2"]
        assert fleet._retry_at["down"] == 1001.0  # after 1 s
        clock[0] += 1.5
        assert fleet.poll_once() == []  # tried again, failed again: now 2 s
        assert fleet._retry_at["down"] == 1003.5
        alone = EngineSet({"down": down})
        with pytest.raises(MailboxError):
            alone.poll_once()
    finally:
        history.close()
