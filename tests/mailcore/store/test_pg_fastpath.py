"""PostgreSQL's fast writes for real: the marks' own connection (one autocommit statement per
mark) and the events' COPY, against the private server of tests/servers.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from mailcore.store.history import EventKind, History, LogEvent
from tests.servers import Postgres


@pytest.fixture
def history(postgres: Postgres) -> Iterator[History]:
    """A History on a database of its own: the tests count and end its sessions."""
    url = postgres.create_database()
    h = History(url)
    yield h
    h.close()
    postgres.drop_database(str(sa.make_url(url).database))


def _source(conn: sa.Connection) -> str:
    q = "SELECT source FROM pg_settings WHERE name = 'synchronous_commit'"
    return str(conn.exec_driver_sql(q).scalar())


def test_a_mark_is_seen_by_another_history_when_it_returns(history: History) -> None:
    other = History(history.engine.url.render_as_string(hide_password=False))
    try:
        history.mark_handled("k1", message_id="<a\x00b@example.org>", handler="h")
        assert other.handled_keys(["k1", "k2"]) == {"k1"}
        history.mark_handled("k1", handler="h")  # marked before: kept once, no error
        with other.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT message_id FROM mc_handled").all()
        assert rows == [("<a\ufffdb@example.org>",)]
    finally:
        other.close()


def test_the_marks_setting_never_reaches_the_pooled_connections(history: History) -> None:
    history.mark_handled("k1")
    engine = history.engine
    # Every connection the pool can hold at once: none is the marks' connection.
    conns = [engine.connect() for _ in range(engine.pool.size())]  # type: ignore[attr-defined]
    try:
        assert [_source(c) for c in conns] == [_source(conns[0])] * len(conns)
        assert _source(conns[0]) != "session"
        marks = conns[0].exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        )
        assert marks.scalar() == len(conns) + 1  # the pool's and the marks' own
    finally:
        for c in conns:
            c.close()


def test_a_marks_connection_the_server_dropped_is_replaced(history: History) -> None:
    history.mark_handled("k1")
    with history.engine.connect() as conn:
        dropped = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar()
    assert dropped == 1  # the marks' connection

    history.mark_handled("k2")

    assert history.handled_keys(["k1", "k2"]) == {"k1", "k2"}


def test_marks_from_many_threads_are_all_kept(history: History) -> None:
    def mark(t: int) -> None:
        for i in range(40):
            history.mark_handled(f"t{t}-{i}", handler="h")

    threads = [threading.Thread(target=mark, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wanted = [f"t{t}-{i}" for t in range(6) for i in range(40)]
    assert history.handled_keys(wanted) == set(wanted)


def test_events_copied_read_back_as_written(history: History) -> None:
    awkward = "tab\there\nnew line \\N back\\slash \x00 nul, « unicode »"
    events = [
        LogEvent(
            EventKind.HANDLED,
            message_key=f"k{i}",
            subject=awkward,
            sender="x" * 600,
            folder="INBOX",
            uidvalidity=7,
            uid=i,
            after={"n": i, "text": awkward, "list": [1, None]} if i % 2 else None,
            errors=[{"path": "$.a", "message": "\\N"}] if i == 3 else None,
        )
        for i in range(300)
    ]
    history.record_batch(events, [{"message_key": "k1", "status": "processed"}])

    back = {e.message_key: e for e in history.events(limit=1000)}
    assert len(back) == 300
    one, two, three = back["k1"], back["k2"], back["k3"]
    assert one.subject == awkward.replace("\x00", "\ufffd")
    assert one.sender == "x" * 512
    assert one.after == {"n": 1, "text": awkward, "list": [1, None]}
    assert two.after is None and two.errors is None and two.actor == "engine"
    assert three.errors == [{"path": "$.a", "message": "\\N"}]
    assert (one.folder, one.uidvalidity, one.uid, one.kind) == ("INBOX", 7, 1, "handled")
    assert one.at.tzinfo is not None
