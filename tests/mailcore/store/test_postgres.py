"""PostgreSQL for real: the stores and an engine run against a private server (tests/servers.py).

What behaves the same on both backends is tested on both by the parametrized history and
template-store tests (`database_url`). These are the places where PostgreSQL differs from SQLite:
lengths and NUL characters SQLite lets through, the server's time zone (the test cluster runs
at UTC+14), concurrent writers, URLs without a driver name, the immutability trigger.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from console.accounts import AccountError, Accounts, LoginThrottled, ThrottlePolicy
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine, Folders
from mailcore.store.db import connect
from mailcore.store.history import EventKind, History, LogEvent
from mailcore.store.template_store import (
    TemplateConflict,
    TemplateHasErrors,
    TemplateStore,
    template_versions,
)
from tests.mailcore.engine_support import Calls, make_registry, vehicle_mail
from tests.servers import Postgres, message

BODY = "Hello {{ name }},\n\nyour vehicle **{{ plate }}** is ready.\n"
DATA = {"name": "Ada", "plate": "AB-123-CD"}


@pytest.fixture
def history(postgres_url: str) -> Iterator[History]:
    h = History(postgres_url, retention_days=30)
    yield h
    h.close()


def test_the_stores_really_run_on_postgresql(history: History) -> None:
    with history.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_setting('TimeZone')")).scalar() != "UTC"
    assert history.engine.dialect.name == "postgresql"
    assert history.engine.dialect.driver == "psycopg"


def _pooled_pid(history: History) -> int:
    with history.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _end_session(history: History, pid: int, idle_for: float = 0.0) -> None:
    """End one server session from outside the pool, as a restart or an admin would."""
    other = sa.create_engine(history.engine.url, poolclass=sa.pool.NullPool)
    with other.connect() as conn:
        conn.exec_driver_sql("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):  # gone from the server's sessions once its process exited
            alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
            if not conn.exec_driver_sql(alive, (pid,)).scalar():
                break
            time.sleep(0.02)
    other.dispose()
    time.sleep(idle_for)


@pytest.mark.parametrize("idle_for", [0.0, 1.2])  # just used (not pinged), and idle (pinged)
def test_a_pooled_connection_the_server_ended_is_replaced_before_it_is_used(
    history: History, idle_for: float
) -> None:
    history.record_batch([], [{"message_key": "k1", "status": "processed"}])
    pid = _pooled_pid(history)
    _end_session(history, pid, idle_for)

    assert set(history.states(["k1"])) == {"k1"}  # no error: a new connection
    assert _pooled_pid(history) != pid


def test_a_connection_used_a_moment_ago_is_not_pinged_again(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialect = history.engine.dialect
    pings: list[object] = []
    ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(conn) or ping(conn))
    _pooled_pid(history)
    for _ in range(3):
        history.states(["k1"])
    assert pings == []
    time.sleep(1.2)  # idle for longer than db.TRUSTED_SECONDS: pinged
    history.states(["k1"])
    assert len(pings) == 1


def test_urls_without_a_driver_name_use_psycopg(postgres: Postgres) -> None:
    # psycopg2 (SQLAlchemy 2.0's default for postgresql://) is not a dependency; postgres://
    # is how many hosting platforms spell it. A whole database here, as in production: the
    # tables land in its public schema, where the other tests each use a schema of their own.
    url = postgres.create_database()
    bare = url.replace("postgresql+psycopg://", "postgresql://")
    for each in (bare, bare.replace("postgresql://", "postgres://")):
        h = History(each)
        h.record("admin", actor="root", reason=each.split(":", 1)[0])
        assert h.engine.dialect.driver == "psycopg"
        h.close()
    h = History(url)
    assert [e.reason for e in h.events(kind="admin")] == ["postgres", "postgresql"]
    with h.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('public.mc_events')")).scalar()
    h.close()
    postgres.drop_database(url.rsplit("/", 1)[1])


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_counts_per_day_and_time_filters_use_utc_days_whatever_the_server_zone(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'h.db'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    h = History(url)
    late = datetime(2024, 5, 6, 23, 30, tzinfo=UTC)  # 2024-05-07 13:30 at the server
    h.record_batch(
        [
            LogEvent(EventKind.HANDLED, message_key="a", status="processed", at=late),
            LogEvent(EventKind.FAILED, message_key="b", status="failed",
             at=late + timedelta(hours=1)),
        ]
    )  # fmt: skip
    counts = h.counts_per_day(datetime(2024, 5, 6, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC))
    assert counts == [(date(2024, 5, 6), "processed", 1), (date(2024, 5, 7), "failed", 1)]
    [event] = h.events(until=datetime(2024, 5, 7, tzinfo=UTC))
    assert event.at == late and event.at.utcoffset() == timedelta(0)
    h.close()


def test_header_values_longer_than_their_column_or_with_nul_are_stored(history: History) -> None:
    # SQLite stores anything; PostgreSQL refuses over-long varchar values and NUL characters,
    # and a hostile mail must not be able to stop the history from recording it.
    sender = "x" * 2000 + "@example.org"
    history.record(
        "received",
        message_key="k",
        sender=sender,
        message_id="<" + "m" * 1500 + "@example.org>",
        identifier="VEH-" + "9" * 500,
        subject="before\x00after",
        reason="nul \x00 in a reason",
        after={"note": "nul \x00 in JSON"},
        folder="INBOX",
        uidvalidity=1,
        uid=1,
    )
    [event] = history.events()
    assert event.sender is not None and sender.startswith(event.sender) and len(event.sender) == 512
    assert event.subject == "before\ufffdafter" and event.reason == "nul \ufffd in a reason"
    assert event.after == {"note": "nul \x00 in JSON"}  # JSON escapes it: kept as it was
    state = history.state("k")
    assert state is not None and state.identifier is not None and len(state.identifier) == 128
    assert history.states_at("INBOX", 1, [1])[1].message_key == "k"


def test_handled_is_never_turned_off_by_a_later_state(history: History) -> None:
    history.record_batch([], [{"message_key": "k", "status": "processed", "handled": True}])
    history.record_batch([], [{"message_key": "k", "status": "failed", "handled": False}])
    state = history.state("k")
    assert state is not None and state.handled and state.status == "failed"


def test_like_filters_escape_wildcards(history: History) -> None:
    history.record("failed", message_key="a", status="failed", folder="failed", uidvalidity=1,
                   uid=1, reason="quota at 100%", sender="a_b@example.org")  # fmt: skip
    history.record("failed", message_key="b", status="failed", folder="failed", uidvalidity=1,
                   uid=2, reason="quota at 1000", sender="axb@example.org")  # fmt: skip
    assert history.uids_where("failed", 1, reason="100%") == {1}
    assert history.uids_where("failed", 1, sender="A_B") == {1}
    assert [e.message_key for e in history.events(sender="a_b")] == ["a"]


def test_accounts_create_authenticate_and_change_roles(history: History) -> None:
    accounts = Accounts(history.engine, history)
    admin = accounts.create("Root", "correct horse battery", "admin")
    olga = accounts.create("olga", "olga's long password", "operator", email="o@example.org")
    assert isinstance(admin.id, int) and admin.id != olga.id
    assert accounts.authenticate("ROOT", "correct horse battery") == admin
    assert accounts.authenticate("root", "wrong password!") is None
    assert accounts.authenticate("nobody", "correct horse battery") is None
    with pytest.raises(AccountError, match="already taken"):
        accounts.create("OLGA", "another long password", "author")
    with pytest.raises(AccountError, match="last active admin"):
        accounts.set_role("root", "operator", by="root")
    assert accounts.set_role("olga", "author", by="Root").has_role("author")
    accounts.set_active("olga", False, by="Root")
    assert accounts.authenticate("olga", "olga's long password") is None
    accounts.set_password("olga", "a new long password", by="Root")
    accounts.set_active("olga", True, by="Root")
    assert accounts.authenticate("olga", "a new long password") is not None
    assert [u.username for u in accounts.list()] == ["olga", "Root"]
    assert accounts.get(olga.id) is not None and accounts.by_name("OLGA") is not None
    throttled = Accounts(history.engine, history, throttle=ThrottlePolicy(per_user=2))
    assert throttled.login("olga", "wrong password 1", address="192.0.2.7") is None
    with pytest.raises(LoginThrottled):
        throttled.login("olga", "wrong password 2", address="192.0.2.7")
    with pytest.raises(LoginThrottled):  # locked: not even the right password gets in
        throttled.login("olga", "a new long password", address="192.0.2.7")
    assert len(history.events(kind="auth")) == 3  # two failures and the lockout
    audit = [e.reason for e in history.events(kind="admin", actor="Root")]
    assert "changed role of olga from operator to author" in audit
    assert not any("a new long password" in str(e) for e in history.events(kind="admin"))


def test_template_versions_refuse_a_raw_sql_update_on_postgresql(history: History) -> None:
    # The tables were created by History (all of METADATA): the trigger must come with them.
    store = TemplateStore(history.engine, history=history)
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")
    store.save("ready", "Car {{ plate }}", BODY, DATA, "second", by="bob")
    with pytest.raises(sa.exc.DBAPIError, match="immutable"), history.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE template_versions SET body = 'rewritten' WHERE version = 1")
    with pytest.raises(sa.exc.DBAPIError, match="immutable"), history.engine.begin() as conn:
        conn.execute(template_versions.update().values(created_by="mallory"))
    assert store.get("ready", 1).body == BODY
    v3 = store.restore("ready", 1, by="carol")
    assert (v3.number, v3.restored_from, v3.subject) == (3, 1, "Vehicle {{ plate }}")
    assert "+Subject: Vehicle {{ plate }}" in store.diff("ready", 2, 3)
    assert [v.number for v in store.versions("ready")] == [3, 2, 1]
    # A second process starting on the same database finds the trigger already there.
    again = TemplateStore(connect(str(history.engine.url.render_as_string(hide_password=False))))
    assert again.names() == ["ready"]
    again.db.dispose()
    assert [e.actor for e in history.events(kind="template")] == ["carol", "bob", "alice"]


def test_nul_characters_in_a_template_are_refused_before_the_database(database_url: str) -> None:
    store = TemplateStore(connect(database_url))
    with pytest.raises(TemplateHasErrors) as refused:
        store.save("ready", "Vehicle", "Hello,\n\nbad \x00 byte\n", {}, "", by="alice")
    [problem] = refused.value.problems
    assert (problem.source, problem.line, problem.kind) == ("body", 3, "refused")
    saved = store.save("ready", "Vehicle", "Hello.\n", {}, "note \x00 pasted", by="alice")
    assert store.get("ready", saved.number).note == "note  pasted"
    accounts = Accounts(store.db)
    with pytest.raises(AccountError, match="e-mail"):
        accounts.create("olga", "a long password", "operator", email="o" * 300 + "@example.org")
    assert accounts.list() == []
    store.db.dispose()


def _race(save: Callable[[int], object], n: int = 4) -> list[object]:
    """Run save(0..n-1) in threads released together; their results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[object] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results.append(save(i))
        except Exception as e:  # collected: the caller asserts which kind
            results.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_saves_of_one_template_conflict_instead_of_failing(database_url: str) -> None:
    store = TemplateStore(connect(database_url))
    store.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="alice")

    edits = _race(lambda n: store.save("ready", f"Car {n}", BODY, DATA, "", f"u{n}", base=1))

    saved = [r for r in edits if not isinstance(r, Exception)]
    assert len(saved) == 1, edits  # every editor started from version 1: one wins
    assert all(isinstance(r, TemplateConflict) for r in edits if isinstance(r, Exception)), edits
    # Without a base version (an import, a script) every save lands, one after the other.
    imports = _race(lambda n: store.save("ready", f"Van {n}", BODY, DATA, "", by=f"u{n}"))
    assert not [r for r in imports if isinstance(r, Exception)], imports
    assert [v.number for v in store.versions("ready")] == [6, 5, 4, 3, 2, 1]
    store.db.dispose()


def test_engine_on_maildir_with_history_on_postgresql(tmp_path: Path, history: History) -> None:
    mailbox = MaildirMailbox(tmp_path / "mail")
    calls = Calls()
    engine = Engine(mailbox, make_registry(calls), history)
    folders = Folders()
    mailbox.ensure_folder("INBOX")
    good, bad = vehicle_mail(plate="AB-123"), vehicle_mail(ident="VEH-7", plate="REFUSE")
    hostile = message(subject="=?utf-8?q?nul=00inside?=", sender="h" * 600 + "@example.org")
    for raw in (good, bad, hostile):
        mailbox.append("INBOX", raw)

    outcomes = engine.poll_once()

    assert sorted(o.status for o in outcomes) == ["failed", "failed", "processed"]
    page = engine.failed_page()
    assert page.total == 2
    assert "plate refused by the fleet system" in {i.reason for i in page.items}
    [refused] = engine.failed_page(reason="FLEET").items
    assert engine.failed_page(handler="vehicle").total == 1
    assert engine.failed_page(sender="hhhh").total == 1

    fixed = engine.resubmit(refused.summary.uid, {"plate_number": "XY-9", "year": 2020}, by="olga")

    assert fixed.status == "processed" and fixed.new_uid is not None
    assert calls[-1] == ("VEH-7", {"plate_number": "XY-9", "year": 2020})
    key = engine.inspect(fixed.new_uid, folders.processed).message_key
    kinds = [e.kind for e in history.timeline(key)]
    assert kinds.index("corrected") < kinds.index("resubmitted") < kinds.index("handled")
    [corrected] = [e for e in history.timeline(key) if e.kind == "corrected"]
    assert (corrected.actor, corrected.after) == ("olga", {"plate_number": "XY-9", "year": 2020})
    # The same bytes again: recognised from the history, the handler is not called twice.
    mailbox.append("INBOX", good)
    assert [o.status for o in engine.poll_once()] == ["duplicate"]
    assert len(calls) == 3
    today = datetime.now(UTC)
    counts: Counter[str] = Counter()
    for _, status, n in history.counts_per_day(today - timedelta(days=1), today):
        counts[status] += n  # near midnight the run may span two days
    assert counts.get("processed", 0) >= 2 and counts.get("duplicate") == 1
    mailbox.close()


def test_the_console_pages_work_on_postgresql(tmp_path: Path, history: History) -> None:
    from console import create_app
    from console.services import Services

    mailbox = MaildirMailbox(tmp_path / "mail")
    mailbox.ensure_folder("INBOX")
    mailbox.append("INBOX", vehicle_mail(ident="VEH-7", plate="REFUSE"))
    engine = Engine(mailbox, make_registry(Calls()), history)
    engine.poll_once()
    accounts = Accounts(history.engine, history)
    accounts.create("root", "correct horse battery", "admin")
    templates = TemplateStore(history.engine, history)
    templates.save("ready", "Vehicle {{ plate }}", BODY, DATA, "first", by="root")
    services = Services(None, mailbox, engine.registry, history, engine, accounts, templates)
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False,
         "MAILCORE_SERVICES": services}
    )  # fmt: skip
    client = app.test_client()
    login = {"username": "root", "password": "correct horse battery"}
    assert client.post("/login", data=login).status_code == 302
    pages = {
        "/failed/": "plate refused by the fleet system",
        "/failed/?reason=fleet&handler=vehicle": "VEH-7",
        "/history/": "VEH-7",
        "/history/export.csv": "VEH-7",
        "/templates/": "ready",
        "/templates/ready": "Vehicle {{ plate }}",
        "/admin/": "root",
    }
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert expected in response.get_data(as_text=True), path
    mailbox.close()
