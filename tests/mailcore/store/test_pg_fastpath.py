"""PostgreSQL's fast writes for real: the marks' own connection (one autocommit statement per
mark) and the events' COPY, against the private server of tests/servers.py."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine
from mailcore.store.history import EventKind, History, LogEvent
from tests.mailcore.engine_support import Calls, deliver, make_registry, vehicle_mail
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


_KILLED_AFTER_MARKING = r"""
import os, signal, sys
from mailcore.store.history import History
history = History(sys.argv[1])
for i in range(int(sys.argv[3])):
    history.mark_handled(f"{sys.argv[2]}-{i}", handler="h")
os.kill(os.getpid(), signal.SIGKILL)  # the last mark sent, its answer never read
"""


def test_a_mark_sent_survives_the_process_killed_before_its_answer(history: History) -> None:
    url = history.engine.url.render_as_string(hide_password=False)
    for run in range(2):
        child = subprocess.run(
            [sys.executable, "-c", _KILLED_AFTER_MARKING, url, f"r{run}", str(run * 7 + 1)],
            capture_output=True,
            timeout=60,
        )
        assert child.returncode == -9, child.stderr
    wanted = [f"r{run}-{i}" for run in range(2) for i in range(run * 7 + 1)]
    assert history.handled_keys(wanted) == set(wanted)


def test_a_mark_whose_answer_is_lost_is_sent_again(history: History) -> None:
    history.mark_handled("k1")
    history.confirm_marks()
    history.mark_handled("k2")  # sent; the connection is ended before its answer is read
    with history.engine.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    history.confirm_marks()
    history.mark_handled("k3")

    assert history.handled_keys(["k1", "k2", "k3"]) == {"k1", "k2", "k3"}


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


_KILLED_AFTER_THIRD_MARK = r"""
import json, os, signal, sys
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine
from mailcore.processing.registry import Registry
from mailcore.store.history import History
from tests.mailcore.engine_support import VEHICLE_SCHEMA
spec = json.loads(sys.argv[1])
history = History(spec["history"])
marked = 0
mark = history.mark_handled

def mark_then_die(*args, **kwargs):
    global marked
    mark(*args, **kwargs)  # sent: the engine would extract the next message meanwhile
    marked += 1
    if marked == 3:
        os.kill(os.getpid(), signal.SIGKILL)

history.mark_handled = mark_then_die
def vehicle(ctx):
    with open(spec["log"], "a") as log:
        log.write(ctx.payload["plate_number"] + "\n")
registry = Registry()
registry.add("vehicle", vehicle, prefix="VEH-", schema=VEHICLE_SCHEMA)
Engine(MaildirMailbox(spec["maildir"]), registry, history, claim_lease=0.5).poll_once()
"""


def test_an_engine_killed_after_a_mark_is_sent_never_runs_that_handler_again(
    history: History, tmp_path: Path
) -> None:
    mailbox = MaildirMailbox(tmp_path / "mail")
    plates = [f"KILL-{i}" for i in range(5)]
    deliver(mailbox, *(vehicle_mail(ident=f"VEH-{i}", plate=p) for i, p in enumerate(plates)))
    log = tmp_path / "handled.log"
    spec = {
        "history": history.engine.url.render_as_string(hide_password=False),
        "maildir": str(mailbox.root),
        "log": str(log),
    }
    run = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_THIRD_MARK, json.dumps(spec)],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == -9, run.stderr.decode()[-2000:]
    assert log.read_text().split() == plates[:3]  # the third mark sent, its answer never read
    time.sleep(0.6)  # the dead process's claims' lease
    calls = Calls()

    outcomes = Engine(mailbox, make_registry(calls), history).poll_once()

    assert sorted(p["plate_number"] for _, p in calls) == plates[3:]
    assert sorted(o.status for o in outcomes) == ["duplicate"] * 3 + ["processed"] * 2


def test_handler_workers_mark_at_once_on_postgresql(history: History, tmp_path: Path) -> None:
    mailbox = MaildirMailbox(tmp_path / "mail")
    mails = [vehicle_mail(ident=f"VEH-{i % 6}", plate=f"W-{i}") for i in range(24)]
    deliver(mailbox, *mails)
    calls = Calls()

    outcomes = Engine(mailbox, make_registry(calls), history, handler_workers=8).poll_once()

    assert [o.status for o in outcomes] == ["processed"] * 24
    assert sorted(p["plate_number"] for _, p in calls) == sorted(f"W-{i}" for i in range(24))
    with history.engine.connect() as conn:
        marked = conn.exec_driver_sql("SELECT count(*) FROM mc_handled").scalar()
        recorded = conn.exec_driver_sql("SELECT count(*) FROM mc_messages WHERE handled").scalar()
    assert (marked, recorded) == (24, 24)
