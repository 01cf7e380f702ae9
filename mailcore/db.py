"""Database access shared by the history, accounts and template stores (SQLAlchemy Core).

Each store declares its tables on `METADATA`; `connect(url)` creates what is missing.
SQLite (a file) is the default, PostgreSQL works by URL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

METADATA = sa.MetaData()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the console read while the engine writes; NORMAL sync is safe with WAL.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def connect(url: str) -> sa.Engine:
    """An engine for `url` with every declared table created."""
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    METADATA.create_all(engine)
    return engine
