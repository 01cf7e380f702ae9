"""The history's PostgreSQL bulk write: a chunk's events sent with ``COPY ... FROM STDIN``.

The engine writes about five events per message. An executemany of INSERTs (even pipelined
by psycopg, one round trip) has the server parse, plan and run each row as its own statement,
about 0.1 ms a row; COPY streams the rows into the table in one command, four to five times
faster. The rows are those `LogEvent.row` gives, text fitted as `tables.fit` does, JSON
encoded as SQLAlchemy would store it (None stays SQL NULL, as on SQLite), inside the caller's
transaction. Only with psycopg 3 (the driver `mailcore.store.db.connect` picks); other drivers
keep the executemany.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mailcore.store.tables import EVENT_COLUMNS, EVENT_TEXT, JSON_COLUMNS, fit

if TYPE_CHECKING:
    from mailcore.store.records import LogEvent

__all__ = ["copies_events", "copy_events"]

_ORDER = tuple(sorted(EVENT_COLUMNS))
_JSON = tuple(i for i, c in enumerate(_ORDER) if c in JSON_COLUMNS)
_COPY = f"COPY mc_events ({', '.join(_ORDER)}) FROM STDIN"


def copies_events(engine: sa.Engine) -> bool:
    """Whether `copy_events` can write this database's events (PostgreSQL with psycopg 3)."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


def copy_events(conn: sa.Connection, events: Sequence[LogEvent], stamp: datetime) -> None:
    """Insert events (not yet fitted) into mc_events with one COPY, in `conn`'s transaction;
    `at` and `actor` default to `stamp` and "engine", as `LogEvent.row` does."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(_COPY) as copy:
            for event in events:
                copy.write_row(_values(fit(event.row(stamp), EVENT_TEXT)))
    finally:
        cursor.close()


def _values(row: dict[str, Any]) -> list[Any]:
    values = [row[c] for c in _ORDER]
    for i in _JSON:
        if values[i] is not None:
            values[i] = json.dumps(values[i])
    return values
