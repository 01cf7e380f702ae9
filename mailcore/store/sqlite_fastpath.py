"""The history's hand-written SQLite writes: events inserted and states upserted with plain SQL.

The engine writes about five events per message; compiling a SQLAlchemy statement per row
costs more than the write. On SQLite the history passes the rows here instead: parameter
tuples worked out once per set of columns, text fitted as `tables.fit` does, JSON and times
encoded as SQLAlchemy would store them (so its reads take them back unchanged).
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mailcore.store.tables import (
    EVENT_COLUMNS,
    EVENT_TEXT,
    JSON_COLUMNS,
    STATE_TEXT,
    events_table,
    fit_text,
    messages_table,
    utc,
)

if TYPE_CHECKING:
    from mailcore.store.records import LogEvent

_EVENT_ORDER = tuple(sorted(EVENT_COLUMNS))
_SQLITE_EVENT_INSERT = "INSERT INTO mc_events ({}) VALUES ({})".format(
    ", ".join(_EVENT_ORDER), ", ".join("?" * len(_EVENT_ORDER))
)


_EVENT_VALUES = operator.attrgetter(*_EVENT_ORDER)
_AT, _ACTOR = _EVENT_ORDER.index("at"), _EVENT_ORDER.index("actor")


def insert_events(conn: sa.Connection, events: Sequence[LogEvent], stamp: datetime) -> None:
    """Insert events (not yet fitted) into mc_events in one executemany; `at` and `actor`
    default to `stamp` and "engine", as `LogEvent.row` does."""
    _, converters, texts = _sqlite_plan(_EVENT_ORDER, events_table.name)
    params = []
    for e in events:
        values = list(_EVENT_VALUES(e))
        values[_AT] = values[_AT] or stamp
        values[_ACTOR] = values[_ACTOR] or "engine"
        params.append(_encoded(values, converters, texts))
    conn.exec_driver_sql(_SQLITE_EVENT_INSERT, params)


def upsert_states(
    conn: sa.Connection, cols: tuple[str, ...], group: Sequence[Mapping[str, Any]]
) -> None:
    """Upsert state rows that all set the same (sorted) columns `cols` into mc_messages."""
    if "handled" not in cols:
        cols = (*cols, "handled")
        group = [{"handled": False, **r} for r in group]
    conn.exec_driver_sql(_sqlite_upsert(cols), _sqlite_rows(cols, group, messages_table))


@functools.lru_cache(maxsize=64)  # a batch stamps every row with the same instant
def _sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (UTC, no offset), so it reads it back."""
    return (utc(value) or value).replace(tzinfo=None).isoformat(" ", "microseconds")


@functools.cache
def _converters(columns: tuple[str, ...]) -> tuple[tuple[int, Any], ...]:
    """(position, converter) for the columns whose values SQLite cannot take as they are."""
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, c in enumerate(columns):
        if c in JSON_COLUMNS:
            out.append((i, json.dumps))
        elif c in {"at", "received_at", "updated_at"}:
            out.append((i, _sqlite_datetime))
    return tuple(out)


@functools.cache
def _sqlite_plan(
    columns: tuple[str, ...], table: str
) -> tuple[Callable[[Any], Any], tuple[tuple[int, Any], ...], tuple[Any, ...]]:
    """How to turn a row mapping into the parameter tuple of `columns`, worked out once."""
    limits = EVENT_TEXT if table == events_table.name else STATE_TEXT
    texts = tuple((i, limits[c]) for i, c in enumerate(columns) if c in limits)
    return operator.itemgetter(*columns), _converters(columns), texts


def _sqlite_rows(
    columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]], table: sa.Table
) -> list[tuple[Any, ...]]:
    """Parameter tuples for executemany: text fitted as `fit` does, JSON and times encoded."""
    pick, converters, texts = _sqlite_plan(columns, table.name)
    return [_encoded(list(pick(row)), converters, texts) for row in rows]


def _encoded(
    values: list[Any], converters: tuple[tuple[int, Any], ...], texts: tuple[Any, ...]
) -> tuple[Any, ...]:
    """`values` (in column order) with text fitted as `fit` does, JSON and times encoded."""
    for i, limit in texts:
        v = values[i]
        if v.__class__ is str and ("\x00" in v or (limit is not None and len(v) > limit)):
            values[i] = fit_text(v, limit)
    for i, convert in converters:
        if values[i] is not None:
            values[i] = convert(values[i])
    return tuple(values)


@functools.cache
def _sqlite_upsert(columns: tuple[str, ...]) -> str:
    updates = ", ".join(
        f"{c} = excluded.{c}" for c in columns if c not in {"message_key", "handled"}
    )
    if "handled" in columns:
        # "handled" only ever turns on: a later failure (a resubmit) must not forget it.
        updates += ", handled = max(handled, excluded.handled)"
    return (
        f"INSERT INTO mc_messages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        f" ON CONFLICT (message_key) DO UPDATE SET {updates}"
    )
