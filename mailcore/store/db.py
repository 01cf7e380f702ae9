"""Database access shared by the history, accounts and template stores (SQLAlchemy Core).

Each store declares its tables on `METADATA`; the migrations (`mailcore.store.migrations`)
make the database's schema match it, and `connect(url)` checks that they have run (building
an empty database, upgrading a SQLite one, else saying "run mailcore migrate").
SQLite (a file) is the default, PostgreSQL works by URL.
"""

from __future__ import annotations

import os
import select
import time
from typing import Any

import sqlalchemy as sa

from mailcore.errors import ConfigError

METADATA = sa.MetaData()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the console read while the engine writes; NORMAL sync is safe with WAL.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def connect(url: str) -> sa.Engine:
    """An engine for `url` whose schema is current (see `mailcore.store.migrations`)."""
    from mailcore.store.migrations import ensure_current

    engine = engine_for(url)
    try:
        ensure_current(engine)
    except BaseException:  # a DBAPIError (server down, locked) is the caller's to retry
        engine.dispose()
        raise
    return engine


def engine_for(url: str) -> sa.Engine:
    """An engine for `url`, its schema unchecked (`mailcore migrate` checks it).

    ``postgresql://`` and ``postgres://`` (how hosting platforms often spell it) use psycopg 3,
    the ``postgres`` extra; a missing driver is a ConfigError.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = sa.make_url(url)
        if parsed.drivername == "postgresql":  # SQLAlchemy 2.0 would pick psycopg2
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite":
            _create_private(parsed.database)
            engine = sa.create_engine(parsed)
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(parsed)
            _ping_when_in_doubt(engine)
    except (ImportError, sa.exc.NoSuchModuleError, sa.exc.ArgumentError) as e:
        hint = " (pip install 'mailcore[postgres]')" if "postgres" in url else ""
        raise ConfigError(f"cannot use database {_safe(url)}: {e}{hint}") from e
    return engine


# A pooled connection used less than this long ago whose socket holds nothing to read is
# taken as it is; any other is pinged first.
TRUSTED_SECONDS = 1.0
_IDLE_SINCE = "mailcore_idle_since"


def _ping_when_in_doubt(engine: sa.Engine) -> None:
    """Ping a pooled connection on checkout only when it may have died: idle for more than
    `TRUSTED_SECONDS`, or with something to read on its socket while idle (a server that
    ends a session -- a restart, pg_terminate_backend, a proxy's timeout -- sends a last
    message and closes it, which makes the socket readable).

    Server connections die behind the pool; a poller running for weeks must not fail its
    next batch on a dead one. SQLAlchemy's pool_pre_ping pings at every checkout, a round
    trip each time: the engine checks out a connection six to eight times per chunk (claims,
    reads, writes), and on a loaded machine each ping cost 0.3-1 ms of its thread. A failed
    ping invalidates the pool and reconnects, as pool_pre_ping does."""

    def checkin(dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None:  # never checked in: just connected
            return
        if time.monotonic() - since < TRUSTED_SECONDS and not _has_input(dbapi_conn):
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_conn, None):
                raise sa.exc.InvalidatePoolError() from err  # the pool reconnects
            raise

    sa.event.listen(engine, "checkin", checkin)
    sa.event.listen(engine, "checkout", checkout)


def _has_input(dbapi_conn: Any) -> bool:
    """Whether the idle connection's socket has something to read (or cannot be looked at)."""
    try:
        return bool(select.select([dbapi_conn.fileno()], [], [], 0)[0])
    except (AttributeError, OSError, ValueError):
        return True  # no socket to look at: in doubt


def _create_private(database: str | None) -> None:
    """Create a missing SQLite file as 0600 (history, accounts' password hashes) before SQLite
    does with the umask's 0644; SQLite gives its -wal and -shm files the same mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:  # e.g. a missing directory: let SQLite report it as it always has
        pass


def _safe(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unparseable URL)"
