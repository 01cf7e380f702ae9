"""The history's PostgreSQL bulk writes: a chunk's events sent with ``COPY ... FROM STDIN``, its
message states upserted in ONE statement per set of columns (``INSERT ... SELECT FROM unnest``).

The engine writes about five events and two state rows per message. An executemany of INSERTs
(even pipelined by psycopg, one round trip) has the server parse, plan and run each row as its
own statement, about 0.1 ms a row; COPY streams the rows into the table in one command, four to
five times faster. The state upsert sends each column as one array and the server unnests them
into one ``INSERT ... ON CONFLICT DO UPDATE``: one statement planned once instead of one per
row (and no SQLAlchemy compilation per row), about a third of the executemany's time. Values
are those `LogEvent.row` and the state mappings give, text fitted as `tables.fit` does, JSON
encoded as SQLAlchemy would store it (an event's None stays SQL NULL, as on SQLite; a state's
None in a JSON column is JSON ``null``, as SQLAlchemy's JSON type writes it), inside the
caller's transaction. Only with psycopg 3 (the driver `mailcore.store.db.connect` picks);
other drivers keep the executemany.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mailcore.store.tables import (
    EVENT_COLUMNS,
    EVENT_TEXT,
    JSON_COLUMNS,
    STATE_TEXT,
    fit_text,
    messages_table,
)

if TYPE_CHECKING:
    from mailcore.store.records import LogEvent

__all__ = ["copies_events", "copy_events", "upsert_states"]

_ORDER = tuple(sorted(EVENT_COLUMNS))
_JSON = tuple(i for i, c in enumerate(_ORDER) if c in JSON_COLUMNS)
_COPY = f"COPY mc_events ({', '.join(_ORDER)}) FROM STDIN"
_VALUES = operator.attrgetter(*_ORDER)  # a LogEvent's fields in the COPY's column order
_AT, _ACTOR = _ORDER.index("at"), _ORDER.index("actor")
_TEXTS = tuple((i, EVENT_TEXT[c]) for i, c in enumerate(_ORDER) if c in EVENT_TEXT)


def copies_events(engine: sa.Engine) -> bool:
    """Whether `copy_events` and `upsert_states` can write this database (PostgreSQL with
    psycopg 3)."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


def copy_events(conn: sa.Connection, events: Sequence[LogEvent], stamp: datetime) -> None:
    """Insert events (not yet fitted) into mc_events with one COPY, in `conn`'s transaction;
    `at` and `actor` default to `stamp` and "engine", as `LogEvent.row` does."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(_COPY) as copy:
            write = copy.write_row
            for event in events:
                write(_values(event, stamp))
    finally:
        cursor.close()


def _values(event: LogEvent, stamp: datetime) -> list[Any]:
    """The event's COPY row: `LogEvent.row` in column order, fitted as `fit` does (by hand:
    this runs for every event; a dict per row and `fit` over it cost twice as much)."""
    values = list(_VALUES(event))
    values[_AT] = values[_AT] or stamp
    values[_ACTOR] = values[_ACTOR] or "engine"
    for i, limit in _TEXTS:
        v = values[i]
        if v.__class__ is str and ("\x00" in v or (limit is not None and len(v) > limit)):
            values[i] = fit_text(v, limit)
    for i in _JSON:
        if values[i] is not None:
            values[i] = json.dumps(values[i])
    return values


def _array_type(column: sa.Column[Any]) -> str:
    """The SQL type each state column's values are sent as, one array per column."""
    kind = column.type
    if isinstance(kind, sa.JSON | sa.String):  # JSON: sent as its text, cast when selected
        return "text"
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.Integer):
        return "bigint"
    if isinstance(kind, sa.DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    raise TypeError(f"no array type for {column.name} ({kind!r})")  # a new column: add it here


_ARRAY_TYPES = {c.name: _array_type(c) for c in messages_table.columns}


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in names)


@functools.cache
def _upsert_sql(columns: tuple[str, ...]) -> str:
    """The statement upserting state rows that set `columns` (sorted), one array each."""
    picked = [f't."{c}"::json' if c in JSON_COLUMNS else f't."{c}"' for c in columns]
    names = list(columns)
    if "handled" not in columns:  # false on insert, untouched on update
        names.append("handled")
        picked.append("false")
    updates = [f'"{c}" = excluded."{c}"' for c in columns if c not in {"message_key", "handled"}]
    if "handled" in columns:  # only ever turns on, as on SQLite
        updates.append('"handled" = mc_messages."handled" OR excluded."handled"')
    # %b: binary arrays; the text form costs four times as much to dump (escaping each value)
    arrays = ", ".join(f"%b::{_ARRAY_TYPES[c]}[]" for c in columns)
    action = f"UPDATE SET {', '.join(updates)}" if updates else "NOTHING"
    return (
        f"INSERT INTO mc_messages ({_quoted(names)})"
        f" SELECT {', '.join(picked)} FROM unnest({arrays})"
        f" AS t({_quoted(columns)})"
        f" ON CONFLICT (message_key) DO {action}"
    )


def upsert_states(
    conn: sa.Connection, columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Upsert state rows (not yet fitted) that all set the same sorted `columns` into
    mc_messages in one statement, in `conn`'s transaction; as one upsert per row in turn would.

    A key given twice is merged first (one statement cannot update a row twice): the later
    row's values, handled if either was -- what the second upsert would have left."""
    merged: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        key = row["message_key"]
        before = merged.get(key)
        if before is not None and before.get("handled") and not row.get("handled"):
            row = {**row, "handled": True}
        merged[key] = row
    arrays = []
    for c in columns:
        values = [r[c] for r in merged.values()]
        if c in JSON_COLUMNS:
            values = [json.dumps(v) for v in values]  # None: JSON null, as SQLAlchemy writes
        elif c in STATE_TEXT:
            limit = STATE_TEXT[c]
            values = [
                fit_text(v, limit)
                if v.__class__ is str and ("\x00" in v or (limit is not None and len(v) > limit))
                else v
                for v in values
            ]
        arrays.append(values)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_upsert_sql(columns), arrays)
    finally:
        cursor.close()
