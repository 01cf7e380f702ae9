"""A large batch worked in chunks (the engine's second thread moving one chunk while the next
is handled): on both mailboxes and both databases, filed and recorded as one batch would be,
and stopped cleanly by a failing move or history write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing import engine as engine_module
from mailcore.processing.engine import Engine, Folders
from mailcore.processing.vocabulary import EventKind
from mailcore.store.history import History, LogEvent
from tests.mailcore.engine_support import (
    Calls,
    auto_reply_mail,
    deliver,
    make_registry,
    vehicle_mail,
)

FOLDERS = Folders()


@pytest.fixture
def history(database_url: str) -> Iterator[History]:
    h = History(database_url)
    yield h
    h.close()


@pytest.fixture
def engine(
    mailbox: Mailbox, history: History, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> Engine:
    monkeypatch.setattr(engine_module, "_CHUNK", 2)  # chunks of two
    monkeypatch.setattr(engine_module, "_MIN_CHUNK", 2)
    return Engine(mailbox, make_registry(calls), history)


def requests(n: int) -> list[bytes]:
    return [vehicle_mail(ident=f"VEH-{i}", plate=f"P-{i}") for i in range(n)]


def test_a_batch_worked_in_chunks_files_and_records_like_one(
    engine: Engine, mailbox: Mailbox, history: History, calls: Calls
) -> None:
    mails = requests(4)
    deliver(mailbox, *mails[:2], vehicle_mail(plate="REFUSE"), auto_reply_mail(), *mails[2:])

    outcomes = engine.poll_once(batch_size=50)

    statuses = [o.status for o in outcomes]
    assert statuses == ["processed"] * 2 + ["failed", "auto"] + ["processed"] * 2
    assert sorted(p["plate_number"] for _, p in calls) == ["P-0", "P-1", "P-2", "P-3", "REFUSE"]
    assert mailbox.uids(FOLDERS.inbox) == []
    assert len(mailbox.uids(FOLDERS.processed)) == 4 and len(mailbox.uids(FOLDERS.failed)) == 1
    assert all(o.new_uid is not None for o in outcomes)
    assert len(history.events(kind="moved")) == 6
    for o in outcomes[:2] + outcomes[4:]:  # each recorded in order, where it went
        key = engine.inspect(o.new_uid or 0, FOLDERS.processed).message_key
        assert [e.kind for e in history.timeline(key)] == [
            "received", "extracted", "routed", "handled", "moved"
        ]  # fmt: skip
        state = history.state(key)
        assert state is not None and state.handled and state.uid == o.new_uid


def fail_second_call(
    monkeypatch: pytest.MonkeyPatch,
    owner: object,
    name: str,
    counts: Callable[..., bool] | None = None,
) -> Callable[..., Any]:
    """Make the second call of `owner.name` (of those `counts`, if given) raise
    ConnectionError; returns the real method."""
    real: Callable[..., Any] = getattr(owner, name)
    seen = 0

    def failing(*args: Any) -> Any:
        nonlocal seen
        if counts is None or counts(*args):
            seen += 1
            if seen == 2:
                raise ConnectionError(f"{name}: server gone")
        return real(*args)

    monkeypatch.setattr(owner, name, failing)
    return real


def handled(events: list[LogEvent], states: Any = ()) -> bool:
    return any(e.kind == EventKind.HANDLED for e in events)  # a chunk's decisions


@pytest.mark.parametrize("step", ["move", "history write"])
def test_a_chunked_poll_stopped_by_a_failing_step_files_the_rest_next_time(
    engine: Engine,
    mailbox: Mailbox,
    history: History,
    calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    deliver(mailbox, *requests(4))
    owner, name, counts = (
        (mailbox, "move", None) if step == "move" else (history, "record_batch", handled)
    )
    real = fail_second_call(monkeypatch, owner, name, counts)

    with pytest.raises(ConnectionError, match="server gone"):
        engine.poll_once(batch_size=50)
    assert len(calls) == 4  # the second chunk's handlers had run, and were marked ...
    assert len(history.events(kind="moved")) == 2  # ... the first chunk's move recorded
    assert len(mailbox.uids(FOLDERS.inbox)) == 2  # ... the second chunk not moved unrecorded
    assert len(mailbox.uids(FOLDERS.processed)) == 2

    monkeypatch.setattr(owner, name, real)
    outcomes = engine.poll_once(batch_size=50)
    assert [o.status for o in outcomes] == ["duplicate", "duplicate"] and len(calls) == 4
    assert mailbox.uids(FOLDERS.inbox) == [] and len(mailbox.uids(FOLDERS.processed)) == 4
