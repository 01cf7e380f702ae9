"""The database schema's migrations (Alembic): `versions/` holds one revision per schema
change, from `0001` (the schema of the last mailcore without migrations) on.

`ensure_current` runs whenever a store opens the database (`mailcore.store.db.connect`): an
empty database is built by the migrations, a SQLite database behind them is upgraded there
and then (one file, one machine: the demo and small set-ups keep working in one command),
and any other database behind them is refused with "run mailcore migrate" (PostgreSQL is
shared by processes on several machines: its upgrade is the operator's step). `upgrade`
(`mailcore migrate`) applies what is missing. Both hold a lock while they look and change --
SQLite's exclusive transaction, PostgreSQL's advisory lock -- so processes starting together
upgrade once.
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from mailcore.errors import ConfigError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

__all__ = [
    "HEAD",
    "DatabaseOutOfDate",
    "SchemaState",
    "ensure_current",
    "head",
    "state",
    "upgrade",
]

log = logging.getLogger(__name__)

LOCATION = Path(__file__).resolve().parent
# The newest revision in versions/, known without Alembic so that opening a current database
# costs one query and no import (tests/mailcore/store/test_migrations.py checks it is right).
HEAD = "0006"
# The modules declaring the store's tables: all are created in an empty database (the
# console's own tables are made by the console, as before migrations).
TABLE_MODULES = (
    "mailcore.store.tables",
    "mailcore.store.claims",
    "mailcore.store.keys",
    "mailcore.store.template_table",
    "mailcore.store.oauth_tokens",
    "mailcore.store.outbox",
)
VERSION_TABLE = (
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
    " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)
# pg_advisory_xact_lock's key: any constant of our own
_PG_LOCK = 0x6D61696C636F7265 & 0x7FFFFFFFFFFFFFFF


class DatabaseOutOfDate(ConfigError):
    """The database's schema is older than this mailcore (run `mailcore migrate`), or newer."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its revision (None: unversioned), the code's head, and
    whether it holds any table at all."""

    current: str | None
    head: str
    empty: bool

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    @property
    def known(self) -> bool:
        """Whether this mailcore knows the revision (a newer mailcore's is unknown)."""
        return self.current is None or self.current in revisions()

    def describe(self) -> str:
        if self.is_current:
            return f"schema at revision {self.head} (current)"
        if self.empty:
            return f"empty (the migrations create revision {self.head})"
        if not self.known:
            return (
                f"schema at revision {self.current}, which this mailcore does not know (its"
                f" newest is {self.head}): the database was upgraded by a newer mailcore --"
                " upgrade mailcore"
            )
        at = f"at revision {self.current}" if self.current else "from before migrations"
        return f"schema {at}, this mailcore needs {self.head}: run `mailcore migrate`"


@functools.cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(LOCATION))


def head() -> str:
    """The newest revision this code knows."""
    found = _script().get_current_head()
    assert found is not None
    return found


@functools.cache
def revisions() -> frozenset[str]:
    return frozenset(r.revision for r in _script().walk_revisions())


def state(conn: sa.Connection) -> SchemaState:
    """Where the database behind `conn` stands."""
    current = _current(conn)
    empty = current is None and not sa.inspect(conn).get_table_names()
    return SchemaState(current, HEAD, empty)


def _current(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def ensure_current(engine: sa.Engine) -> SchemaState:
    """At start-up: nothing when the schema is current; build an empty database; upgrade a
    SQLite one; else raise DatabaseOutOfDate saying what to do."""
    with engine.connect() as conn:
        if _current(conn) == HEAD:
            return SchemaState(HEAD, HEAD, False)
        _lock(conn)
        found = state(conn)  # again, under the lock: another process may have just done it
        if found.empty:
            _create(conn)
            conn.commit()
            return found
        conn.rollback()
    if found.is_current:
        return found
    if not found.known or engine.dialect.name != "sqlite":
        raise DatabaseOutOfDate(f"database {_label(engine)}: {found.describe()}")
    return upgrade(engine)


def _create(conn: sa.Connection) -> None:
    """An empty database: every table as the code declares it (what the migrations make, as
    the tests check), stamped at HEAD, without running the migrations one by one."""
    from mailcore.store.db import METADATA

    for name in TABLE_MODULES:
        importlib.import_module(name)
    METADATA.create_all(conn)
    conn.exec_driver_sql(VERSION_TABLE)
    conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD})


def upgrade(engine: sa.Engine, revision: str = "head") -> SchemaState:
    """Apply the revisions the database lacks, under the lock; returns the state before."""
    with engine.connect() as conn:
        _lock(conn)
        before = state(conn)
        if not before.known:
            conn.rollback()
            raise DatabaseOutOfDate(f"database {_label(engine)}: {before.describe()}")
        if before.current != HEAD or revision != "head":
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(LOCATION))
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            log.info(
                "database %s: upgraded from %s to %s", _label(engine), before.current, revision
            )
        conn.commit()
    return before


def _lock(conn: sa.Connection) -> None:
    """Hold the database's migration lock until the transaction ends."""
    if conn.dialect.name == "sqlite":
        # pysqlite opens no transaction before DDL by itself: this one holds the write lock
        # (other processes wait on their busy timeout) until the commit.
        conn.exec_driver_sql("BEGIN EXCLUSIVE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})


def _label(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
