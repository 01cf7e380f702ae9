"""The history's hand-written SQLite writes: events inserted and states upserted with plain SQL.

The engine writes about five events per message; compiling a SQLAlchemy statement per row
costs more than the write. On SQLite the history passes the rows here instead: parameter
tuples worked out once per set of columns, text fitted as `tables.fit` does, JSON and times
encoded as SQLAlchemy would store them (so its reads take them back unchanged).

The rows go in multi-row ``INSERT ... VALUES (...), (...)`` statements of up to 200 rows, in
their order, with a literal NULL wherever a value is None: sqlite3 binds a None (and a bool, an
enum) only after looking for an adapter and failing, about 0.4 us a value, and an event row has
ten of them -- an executemany of the same rows cost 18 us an event, these 10-12.
"""

from __future__ import annotations

import functools
import json
import operator
import sqlite3
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
_SQLITE_EVENT_INSERT = f"INSERT INTO mc_events ({', '.join(_EVENT_ORDER)})"
_ROWS_PER_STATEMENT = 200
_IS_NONE = functools.partial(operator.is_, None)


_EVENT_VALUES = operator.attrgetter(*_EVENT_ORDER)
_AT, _ACTOR = _EVENT_ORDER.index("at"), _EVENT_ORDER.index("actor")


def insert_events(conn: sa.Connection, events: Sequence[LogEvent], stamp: datetime) -> None:
    """Insert events (not yet fitted) into mc_events, in their order; `at` and `actor`
    default to `stamp` and "engine", as `LogEvent.row` does."""
    _, converters, texts = _sqlite_plan(_EVENT_ORDER, events_table.name)
    converters = tuple((i, c) for i, c in converters if i != _AT)  # `at`: below
    at = _sqlite_datetime(stamp)  # encoded once: most events take the batch's time
    params = []
    for e in events:
        values = list(_EVENT_VALUES(e))
        values[_AT] = at if values[_AT] is None else _sqlite_datetime(values[_AT])
        values[_ACTOR] = values[_ACTOR] or "engine"
        params.append(_encoded(values, converters, texts))
    _insert_rows(conn, _SQLITE_EVENT_INSERT, params)


def upsert_states(
    conn: sa.Connection, cols: tuple[str, ...], group: Sequence[Mapping[str, Any]]
) -> None:
    """Upsert state rows that all set the same (sorted) columns `cols` into mc_messages."""
    if "handled" not in cols:
        cols = (*cols, "handled")
        group = [{"handled": False, **r} for r in group]
    head, tail = _sqlite_upsert(cols)
    _insert_rows(conn, head, _sqlite_rows(cols, group, messages_table), tail)


def _insert_rows(
    conn: sa.Connection, head: str, rows: Sequence[tuple[Any, ...]], tail: str = ""
) -> None:
    """Run ``head VALUES (...), (...) tail`` for `rows` (parameter tuples in head's column
    order), a statement per 200 rows in their order, None as a literal NULL (see the module
    docstring): what an executemany of one row each would do."""
    if not rows:
        return
    limit = conn.connection.driver_connection.getlimit(  # type: ignore[union-attr]
        sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
    )
    per = max(1, min(_ROWS_PER_STATEMENT, limit // len(rows[0])))
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        values = ", ".join(_placeholders(tuple(map(_IS_NONE, row))) for row in part)
        given = tuple(v for row in part for v in row if v is not None)
        conn.exec_driver_sql(f"{head} VALUES {values}{tail}", given)


@functools.lru_cache(maxsize=256)  # one per pattern of None: a few per kind of event
def _placeholders(nones: tuple[bool, ...]) -> str:
    return "(" + ", ".join("NULL" if none else "?" for none in nones) + ")"


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
    """`values` (in column order) with text fitted as `fit` does, JSON and times encoded;
    a str subclass (the kinds and statuses, StrEnums) as the plain str of its text, which
    sqlite3 binds without looking for an adapter first (0.8 us a value)."""
    for i, limit in texts:
        v = values[i]
        if v.__class__ is not str:
            if not isinstance(v, str):
                continue
            v = values[i] = str.__str__(v)
        if "\x00" in v or (limit is not None and len(v) > limit):
            values[i] = fit_text(v, limit)
    for i, convert in converters:
        if values[i] is not None:
            values[i] = convert(values[i])
    return tuple(values)


@functools.cache
def _sqlite_upsert(columns: tuple[str, ...]) -> tuple[str, str]:
    """The upsert of state rows setting `columns`: what goes before its VALUES, and after."""
    updates = ", ".join(
        f"{c} = excluded.{c}" for c in columns if c not in {"message_key", "handled"}
    )
    if "handled" in columns:
        # "handled" only ever turns on: a later failure (a resubmit) must not forget it.
        updates += ", handled = max(handled, excluded.handled)"
    return (
        f"INSERT INTO mc_messages ({', '.join(columns)})",
        f" ON CONFLICT (message_key) DO UPDATE SET {updates}",
    )
