"""History: events queryable by message, status, handler, sender, identifier and time; message
states by location and Message-ID; batches in one transaction; retention."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailcore.store.history import EVENT_COLUMNS, EventKind, History, LogEvent, events_table


@pytest.fixture
def history(database_url: str) -> Iterator[History]:
    """On SQLite, then on PostgreSQL (see tests/conftest.py)."""
    h = History(database_url, retention_days=30)
    yield h
    h.close()


def seed(h: History) -> None:
    h.record_batch(
        [
            LogEvent(EventKind.RECEIVED, message_key="k1", sender="alice@a.example",
             identifier="VEH-1"),
            LogEvent(EventKind.HANDLED, message_key="k1", status="processed", handler="vehicle"),
            LogEvent(EventKind.RECEIVED, message_key="k2", sender="bob@b.example",
             identifier="ORD-7"),
            LogEvent(EventKind.FAILED, message_key="k2", status="failed", handler="orders",
             reason="plate refused"),
        ],
        [
            {"message_key": "k1", "message_id": "<1@a>", "sender": "alice@a.example",
             "handler": "vehicle", "status": "processed", "handled": True,
             "folder": "processed", "uidvalidity": 7, "uid": 3},
            {"message_key": "k2", "message_id": "<2@b>", "sender": "bob@b.example",
             "handler": "orders", "status": "failed", "reason": "plate refused",
             "errors": [["$.plate", "is required"]], "folder": "failed", "uidvalidity": 9,
             "uid": 5},
        ],
    )  # fmt: skip


def test_schema_errors_are_stored_and_read_back_as_json_objects(history: History):
    error = {"path": "$", "kind": "unknown", "message": "m", "key": "nmae", "suggestion": "name"}
    history.record("failed", message_key="k9", status="failed", errors=[error])
    state = history.state("k9")
    assert state is not None and state.errors == [error]
    [event] = history.events(message_key="k9")
    assert event.errors == [error]


def test_events_filter_by_each_field(history: History):
    seed(history)
    assert [e.kind for e in history.events(message_key="k1")] == ["handled", "received"]
    assert [e.message_key for e in history.events(status="failed")] == ["k2"]
    assert [e.kind for e in history.events(handler="orders")] == ["failed"]
    assert [e.message_key for e in history.events(sender="BOB@")] == ["k2"]
    assert [e.message_key for e in history.events(identifier="VEH-1")] == ["k1"]
    assert len(history.events(since=datetime.now(UTC) - timedelta(minutes=1))) == 4
    assert history.events(until=datetime.now(UTC) - timedelta(minutes=1)) == []
    assert [e.kind for e in history.timeline("k1")] == ["received", "handled"]
    assert len(history.events(limit=3)) == 3 and len(history.events(limit=3, offset=3)) == 1


def test_state_lookups_by_key_location_message_id_and_filters(history: History):
    seed(history)
    k2 = history.state("k2")
    # a [path, message] pair, as the previous version stored errors, reads as a JSON object
    assert k2 is not None and k2.errors == [{"path": "$.plate", "message": "is required"}]
    assert not k2.handled
    assert set(history.states_at("failed", 9, [5, 6])) == {5}
    assert history.states_at("failed", 8, [5]) == {}  # another UIDVALIDITY: not the same message
    assert history.states_by_message_id(["<1@a>"])["<1@a>"].uid == 3
    assert history.uids_where("failed", 9, reason="REFUSED") == {5}
    assert history.uids_where("failed", 9, handler="vehicle") == set()
    assert history.uids_where("failed", 9, sender="bob") == {5}
    assert [m.message_key for m in history.messages(status="processed")] == ["k1"]


def test_partial_state_updates_keep_other_columns(history: History):
    seed(history)
    history.record("moved", message_key="k2", folder="processed", uidvalidity=7, uid=4)
    k2 = history.state("k2")
    assert k2 is not None
    assert (k2.folder, k2.uid, k2.reason, k2.handler) == ("processed", 4, "plate refused", "orders")


def test_corrections_keep_before_after_and_actor(history: History):
    history.record("corrected", message_key="k9", actor="olga", before={"a": 1}, after={"a": 2})
    [event] = history.events(actor="olga")
    assert (event.before, event.after, event.kind) == ({"a": 1}, {"a": 2}, "corrected")


def test_admin_events_without_a_message_are_recorded(history: History):
    history.record("admin", actor="root", reason="created user olga", after={"user": "olga"})
    [event] = history.events(kind="admin")
    assert event.message_key is None and event.actor == "root"


def test_a_failed_batch_writes_nothing(history: History):
    with pytest.raises(ValueError, match="bad state fields"):
        history.record_batch(
            [LogEvent(EventKind.RECEIVED, message_key="x")], [{"message_key": "x", "nope": 1}]
        )
    assert history.events() == []


def test_an_event_field_the_log_has_no_column_for_is_refused(history: History):
    with pytest.raises(ValueError, match="nope"):
        history.record(EventKind.RECEIVED, message_key="x", nope=1)
    assert history.events() == []


def test_log_events_carry_exactly_the_columns_of_the_log():
    assert {f.name for f in dataclasses.fields(LogEvent)} == EVENT_COLUMNS
    event = LogEvent(EventKind.MOVED, message_key="k")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.kind = EventKind.FAILED  # type: ignore[misc]


def test_counts_per_day(history: History):
    seed(history)
    today = datetime.now(UTC).date()
    counts = history.counts_per_day(
        datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)
    )
    assert sorted(counts) == [(today, "failed", 1), (today, "processed", 1)]


def test_purge_applies_retention_but_keeps_failed_states(history: History):
    seed(history)
    old = datetime.now(UTC) - timedelta(days=40)
    with history.engine.begin() as conn:
        conn.execute(sa.update(events_table).values(at=old))
        conn.execute(sa.text("UPDATE mc_messages SET updated_at = :t"), {"t": old})
    history.record("received", message_key="k3")
    assert history.purge() == 4
    assert [e.message_key for e in history.events()] == ["k3"]
    assert history.state("k1") is None and history.state("k2") is not None
    assert History(engine=history.engine).purge() == 0  # no retention set


def test_handled_marks_are_committed_at_once_and_found_by_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'marks.db'}"
    history = History(url)
    history.mark_handled("k1", message_id="<a@b>", handler="vehicle")
    history.mark_handled("k1", message_id="<a@b>", handler="vehicle")  # a second mark is no error
    other = History(url)  # another connection (process) sees it without any further commit
    assert other.handled_keys(["k1", "k2"]) == {"k1"}
    other.record_batch([], [{"message_key": "k2", "status": "processed", "handled": True}])
    assert history.handled_keys(["k1", "k2", "k3"]) == {"k1", "k2"}
    other.close()
    history.close()


def test_text_is_stored_as_postgresql_would_take_it_on_sqlite_too(tmp_path: Path) -> None:
    history = History(f"sqlite:///{tmp_path / 'fit.db'}")
    history.record(
        "received", message_key="k", sender="x" * 2000 + "@example.org", subject="a\x00b"
    )
    [event] = history.events(message_key="k")
    state = history.state("k")
    assert state is not None
    assert event.sender == state.sender == "x" * 512
    assert event.subject == state.subject == "a\ufffdb"
    history.close()


def test_marks_of_a_sqlite_file_live_in_a_journal_until_recorded(tmp_path: Path) -> None:
    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    journal = tmp_path / "h.db-handled"
    history.mark_handled("k1", message_id="<1@x>", handler="vehicle")
    history.mark_handled("k2", message_id="<2@x>", handler="vehicle")
    assert journal.read_text().count("\n") == 2
    history.record_batch([], [{"message_key": "k1", "status": "processed", "handled": True}])
    assert '"k1"' not in journal.read_text() and '"k2"' in journal.read_text()
    assert history.handled_keys(["k1", "k2", "k3"]) == {"k1", "k2"}
    history.close()
    reopened = History(f"sqlite:///{tmp_path / 'h.db'}")  # after a crash: the mark is still read
    assert reopened.handled_keys(["k2"]) == {"k2"}
    reopened.close()


def test_a_new_sqlite_history_and_its_wal_files_are_private(tmp_path: Path):
    import os

    old = os.umask(0o022)
    try:
        h = History(f"sqlite:///{tmp_path / 'h.db'}")
        h.record("received", message_key="k1", sender="a@example.org")
        h.events(limit=1)
    finally:
        os.umask(old)
    try:
        made = sorted(p.name for p in tmp_path.iterdir())
        assert {"h.db", "h.db-wal", "h.db-shm"} <= set(made)
        for name in made:
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        h.close()


def test_a_batch_naming_a_message_twice_ends_as_one_upsert_after_the_other(history: History):
    history.record_batch([], [{"message_key": "k1", "status": "failed", "handled": True}])
    history.record_batch(
        [],
        [
            {"message_key": "k1", "status": "processed", "reason": "a", "handled": False},
            {"message_key": "k2", "status": "failed", "reason": "b", "handled": True},
            {"message_key": "k2", "status": "processed", "reason": "c", "handled": False},
            {"message_key": "k3", "status": "failed", "reason": "d"},
            {"message_key": "k3", "status": "processed", "reason": None},
        ],
    )
    states = history.states(["k1", "k2", "k3"])
    seen = {k: (s.status, s.reason, s.handled) for k, s in states.items()}
    assert seen == {  # handled only ever turns on; otherwise the later row's values
        "k1": ("processed", "a", True),
        "k2": ("processed", "c", True),
        "k3": ("processed", None, False),
    }


def test_state_rows_are_fitted_and_keep_their_json_on_both_databases(history: History):
    history.record_batch(
        [],
        [
            {"message_key": "k1", "sender": "x" * 600, "subject": "a\x00b", "uid": 2**40,
             "errors": [{"path": "$.a", "message": "\\N \x00"}], "payload": {"n": [1, None]},
             "received_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
            {"message_key": "k2", "sender": None, "subject": "", "uid": None, "errors": [],
             "payload": None, "received_at": None},
        ],
    )  # fmt: skip
    one, two = history.state("k1"), history.state("k2")
    assert one is not None and two is not None
    assert (one.sender, one.subject, one.uid) == ("x" * 512, "a\ufffdb", 2**40)
    assert one.errors == [{"path": "$.a", "message": "\\N \x00"}]
    assert one.payload == {"n": [1, None]}
    assert one.received_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (two.sender, two.subject, two.uid, two.errors, two.payload) == (None, "", None, [], None)
    assert two.received_at is None and not two.handled


def test_keys_of_any_text_are_looked_up_exactly(history: History):
    odd = ['a"b', "c\\d", "e,f", "{g}", "h i", "NULL", "é€"]
    history.record_batch([], [{"message_key": k, "status": "processed"} for k in odd])
    for k in odd[:3]:
        history.mark_handled(k)
    wanted = [*odd, "a", "b", "c", '"a"']
    assert set(history.states(wanted)) == set(odd)
    assert history.marked_keys(wanted) == set(odd[:3])
