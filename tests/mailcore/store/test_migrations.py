"""Schema migrations: the head revision is exactly the tables the code declares (a table or
column changed without a migration fails here), and a database made by the code of 457116b
(the last mailcore without migrations) reaches head with its rows, on SQLite at start-up and
on PostgreSQL by `mailcore migrate`."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailcore.store import migrations
from mailcore.store.db import METADATA, connect, engine_for
from mailcore.store.migrations import DatabaseOutOfDate

ROOT = Path(__file__).resolve().parents[3]
MAILCORE = Path(sys.executable).parent / "mailcore"
BASELINE_CODE = ROOT / "tests" / "fixtures" / "baseline" / "mailcore-457116b.tar.gz"

# Run by the code of 457116b: a database as that mailcore left it, with a row in each store.
OLD_CODE = """
import sys
import mailcore
assert mailcore.__file__.startswith(sys.argv[2]), mailcore.__file__
from mailcore.store.history import History
from mailcore.store.records import EventKind
from mailcore.store.template_store import TemplateStore
from console.accounts import Accounts

history = History(sys.argv[1])
history.record(
    EventKind.RECEIVED, message_key="k1", message_id="<m1@example.org>",
    sender="alice@example.org", subject="Vehicle update", folder="INBOX", uidvalidity=7,
    uid=42, status="failed", reason="no handler",
)
Accounts(history.engine, history).create("olduser", "correct horse battery", "operator")
TemplateStore(history.engine, history).save(
    "welcome", "Hello", "Dear {{ name }}", {"name": "Ann"}, "first", "olduser"
)
history.engine.dispose()
"""


def declare_every_table() -> None:
    """Import every module of mailcore and the console: each table is on METADATA then."""
    import console
    import mailcore

    for package in (mailcore, console):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)


def compare(engine: sa.Engine) -> list[Any]:
    declare_every_table()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, METADATA))


def test_head_is_the_schema_the_code_declares(database_url: str) -> None:
    assert migrations.head() == migrations.HEAD, "set HEAD to the newest revision's id"
    engine = engine_for(database_url)
    try:
        migrations.upgrade(engine)  # a fresh database: built by the migrations alone
        with engine.connect() as conn:
            assert migrations.state(conn).is_current
        assert compare(engine) == [], (
            "tables declared without a migration: add a revision to"
            " mailcore/store/migrations/versions/ (README: Upgrading: schema migrations)"
        )
    finally:
        engine.dispose()


def test_an_empty_database_is_made_at_head_without_running_each_migration(
    database_url: str,
) -> None:
    declare_every_table()  # as in the console's process (else the console makes its own)
    engine = connect(database_url)  # what every store opens a new database with
    try:
        with engine.connect() as conn:
            assert migrations.state(conn).current == migrations.HEAD
        assert compare(engine) == []  # the same tables as the migrations make (above)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def old_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mailcore and console packages of commit 457116b (tests/fixtures/baseline)."""
    root = tmp_path_factory.mktemp("mailcore-457116b")
    with tarfile.open(BASELINE_CODE) as tar:
        tar.extractall(root, filter="data")
    return root


def make_old_database(old_code: Path, url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    run = subprocess.run(
        [sys.executable, "-c", OLD_CODE, url, str(old_code)],
        cwd=old_code,
        env={**env, "PYTHONPATH": str(old_code)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr


def rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """What the old code wrote, as the upgrade must keep it."""
    queries = {
        "events": "SELECT kind, message_key, message_id, sender, uid FROM mc_events",
        "messages": "SELECT message_key, status, reason, folder, uidvalidity, uid FROM mc_messages",
        "users": "SELECT username, password_hash, role FROM console_users",
        "templates": "SELECT name, version, subject, body, created_by FROM template_versions",
    }
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.exec_driver_sql(q)] for k, q in queries.items()}


def test_a_sqlite_database_of_457116b_is_upgraded_at_start_up(
    old_code: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    make_old_database(old_code, url)
    raw = engine_for(url)
    before = rows(raw)
    with raw.connect() as conn:
        assert migrations.state(conn).current is None and not migrations.state(conn).empty
    assert before["messages"] == [("k1", "failed", "no handler", "INBOX", 7, 42)]

    engine = connect(url)  # what History, the console and every command open it with
    try:
        assert rows(engine) == before
        assert compare(engine) == []
        with engine.connect() as conn:
            mailbox = conn.exec_driver_sql("SELECT mailbox FROM mc_messages").scalar_one()
        assert mailbox is None  # the default mailbox
        from mailcore.store.history import History

        state = History(engine=engine).state("k1")
        assert state is not None and state.sender == "alice@example.org" and state.uid == 42
    finally:
        engine.dispose()
        raw.dispose()


def test_a_postgresql_database_of_457116b_is_refused_then_migrated(
    old_code: Path, postgres_url: str
) -> None:
    make_old_database(old_code, postgres_url)
    raw = engine_for(postgres_url)
    before = rows(raw)
    with pytest.raises(DatabaseOutOfDate, match="run `mailcore migrate`"):
        connect(postgres_url)

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    env["MAILCORE_DATABASE_URL"] = postgres_url
    check = subprocess.run(
        [str(MAILCORE), "migrate", "--check"], env=env, capture_output=True, text=True
    )
    assert check.returncode == 1 and "from before migrations" in check.stdout
    run = subprocess.run([str(MAILCORE), "migrate"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"upgraded from none to {migrations.head()}" in run.stdout
    again = subprocess.run([str(MAILCORE), "migrate"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "nothing to do" in again.stdout

    engine = connect(postgres_url)
    try:
        assert rows(engine) == before
        assert compare(engine) == []
    finally:
        engine.dispose()
        raw.dispose()


def test_a_database_of_a_newer_mailcore_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    connect(url).dispose()
    raw = engine_for(url)
    with raw.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    raw.dispose()
    with pytest.raises(DatabaseOutOfDate, match="newer mailcore -- upgrade mailcore"):
        connect(url)


def test_a_template_table_from_before_languages_gains_their_column(database_url: str) -> None:
    from mailcore.store.template_store import TemplateStore, template_versions

    raw = engine_for(database_url)
    old = sa.Table(
        "template_versions",
        sa.MetaData(),
        *[c._copy() for c in template_versions.columns if c.name != "variants"],
    )
    with raw.begin() as conn:  # a database of a mailcore without migrations nor variants
        old.create(conn)
        values = {"subject": "Hi", "body": "Hello", "sample_data": "{}", "note": ""}
        values.update(name="old", created_by="x")
        conn.execute(old.insert().values(version=1, created_at=sa.func.now(), **values))
    raw.dispose()
    migrations.upgrade(db := engine_for(database_url))  # what connect() or migrate runs
    try:
        store = TemplateStore(db)
        assert store.get("old").variants == {}
        saved = store.save("old", "Hi", "Hello", {}, "", "y", variants={"fr": ("Salut", "")})
        assert saved.number == 2 and store.get("old").variants == {"fr": ("Salut", "")}
    finally:
        db.dispose()


UPGRADE_AT_START = """
import sys
from mailcore.store.db import connect

connect(sys.argv[1]).dispose()
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_starting_together_upgrade_once(
    old_code: Path, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if kind == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    make_old_database(old_code, url)
    before = rows(raw := engine_for(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    env["MAILCORE_DATABASE_URL"] = url
    # SQLite: every process upgrades at its start; PostgreSQL: operators running migrate twice
    args = [sys.executable, "-c", UPGRADE_AT_START, url] if kind == "sqlite" else [MAILCORE]
    procs = [
        subprocess.Popen(
            [*map(str, args), *(["migrate"] if kind != "sqlite" else [])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert all(code == 0 for code, _, _ in results), results
    if kind != "sqlite":  # one upgraded; the others waited for it, then found nothing to do
        assert sum("upgraded from none" in out for _, out, _ in results) == 1, results
    try:
        assert rows(raw) == before
        with raw.connect() as conn:
            assert migrations.state(conn).is_current
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    finally:
        raw.dispose()
