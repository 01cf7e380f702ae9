"""The processing history: an event log plus one current-state row per message (SQLAlchemy Core).

`mc_events` records everything that happened (received, extracted, routed, handled, failed,
moved, auto-reply, duplicate, corrected, resubmitted, rejected, and other stores' events such as
``admin``), with who did it and, for corrections, the payload before and after.
`mc_messages` holds where each message is now and why, keyed by `message_key` (a digest of the
raw bytes, so a copy of the same message is the same key): the console's lookups -- the failure
reason of a UID in `failed`, "was this handled already?" -- are one indexed query.

SQLite (a file) by default, PostgreSQL by URL; tables live on `mailcore.store.db.METADATA`.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mailcore.store.db import METADATA, connect

logger = logging.getLogger(__name__)

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only
_UTC_DT = sa.DateTime(timezone=True)

events_table = sa.Table(
    "mc_events",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("at", _UTC_DT, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("message_key", sa.String(64)),
    sa.Column("message_id", sa.String(998)),
    sa.Column("status", sa.String(16)),
    sa.Column("handler", sa.String(128)),
    sa.Column("sender", sa.String(512)),
    sa.Column("subject", sa.Text),
    sa.Column("identifier", sa.String(128)),
    sa.Column("folder", sa.String(255)),
    sa.Column("uidvalidity", sa.BigInteger),
    sa.Column("uid", sa.BigInteger),
    sa.Column("reason", sa.Text),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
    sa.Column("errors", sa.JSON),
    sa.Index("ix_mc_events_key", "message_key", "id"),
    sa.Index("ix_mc_events_at", "at"),
    # Partial indexes: most rows (extracted, routed, moved) have no status or identifier, and
    # the engine writes about five rows per message, so every index entry saved counts.
    *(
        sa.Index(
            f"ix_mc_events_{col}",
            col,
            "at",
            sqlite_where=sa.text(f"{col} IS NOT NULL"),
            postgresql_where=sa.text(f"{col} IS NOT NULL"),
        )
        for col in ("status", "handler", "identifier")
    ),
)

messages_table = sa.Table(
    "mc_messages",
    METADATA,
    sa.Column("message_key", sa.String(64), primary_key=True),
    sa.Column("message_id", sa.String(998)),
    sa.Column("sender", sa.String(512)),
    sa.Column("subject", sa.Text),
    sa.Column("identifier", sa.String(128)),
    sa.Column("handler", sa.String(128)),
    sa.Column("status", sa.String(16)),
    sa.Column("reason", sa.Text),
    sa.Column("errors", sa.JSON),
    sa.Column("payload", sa.JSON),  # the last payload an operator submitted, if any
    sa.Column("handled", sa.Boolean, nullable=False, default=False),
    sa.Column("folder", sa.String(255)),
    sa.Column("uidvalidity", sa.BigInteger),
    sa.Column("uid", sa.BigInteger),
    sa.Column("received_at", _UTC_DT),
    sa.Column("updated_at", _UTC_DT, nullable=False),
    sa.Index("ix_mc_messages_location", "folder", "uidvalidity", "uid"),
    sa.Index("ix_mc_messages_message_id", "message_id"),
    sa.Index("ix_mc_messages_status", "status", "updated_at"),
    sa.Index("ix_mc_messages_handler", "handler"),
    sa.Index("ix_mc_messages_identifier", "identifier"),
)

# "This message's handler succeeded", written and committed on its own the moment the handler
# returns: the engine's batch write and the move come later, and a crash in between must not
# make the handler run again. Kept apart from mc_messages so the write is one small row.
handled_table = sa.Table(
    "mc_handled",
    METADATA,
    sa.Column("message_key", sa.String(64), primary_key=True),
    sa.Column("message_id", sa.String(998)),
    sa.Column("handler", sa.String(128)),
    sa.Column("at", _UTC_DT, nullable=False),
    sqlite_with_rowid=False,
)

EVENT_COLUMNS = frozenset(c.name for c in events_table.columns) - {"id"}
STATE_COLUMNS = frozenset(c.name for c in messages_table.columns)
# Statuses still subject to action; their state rows outlive the retention period.
_OPEN_STATUSES = ("failed",)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    """One row of the event log."""

    id: int
    at: datetime
    kind: str
    message_key: str | None
    message_id: str | None
    status: str | None
    handler: str | None
    sender: str | None
    subject: str | None
    identifier: str | None
    folder: str | None
    uidvalidity: int | None
    uid: int | None
    reason: str | None
    actor: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    errors: list[tuple[str, str]] | None


@dataclass(frozen=True)
class MessageState:
    """Where a message is now, and why."""

    message_key: str
    message_id: str | None
    sender: str | None
    subject: str | None
    identifier: str | None
    handler: str | None
    status: str | None
    reason: str | None
    errors: list[tuple[str, str]]
    payload: dict[str, Any] | None
    handled: bool
    folder: str | None
    uidvalidity: int | None
    uid: int | None
    received_at: datetime | None
    updated_at: datetime


def _errors(value: Any) -> list[tuple[str, str]]:
    return [(str(p), str(m)) for p, m in value or []]


def _event(row: Any) -> Event:
    m = row._mapping
    return Event(
        **{f.name: m[f.name] for f in fields(Event) if f.name not in {"at", "errors"}},
        at=_utc(m["at"]) or now(),
        errors=_errors(m["errors"]) if m["errors"] is not None else None,
    )


def _state(row: Any) -> MessageState:
    m = row._mapping
    return MessageState(
        **{
            f.name: m[f.name]
            for f in fields(MessageState)
            if f.name not in {"errors", "received_at", "updated_at", "handled"}
        },
        errors=_errors(m["errors"]),
        handled=bool(m["handled"]),
        received_at=_utc(m["received_at"]),
        updated_at=_utc(m["updated_at"]) or now(),
    )


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class History:
    """The event log and message states; thread-safe through SQLAlchemy's pool."""

    def __init__(
        self,
        url: str = "sqlite:///mailcore.db",
        retention_days: int | None = None,
        *,
        engine: sa.Engine | None = None,
    ) -> None:
        self._engine = engine if engine is not None else connect(url)
        if engine is not None:
            METADATA.create_all(engine)
        self.retention_days = retention_days
        self._dialect = self._engine.dialect.name
        # A SQLite file keeps its handled marks in a journal beside it (see mark_handled).
        self._journal: Any = None  # a MarkJournal
        database = self._engine.url.database
        is_file = database and database != ":memory:" and not database.startswith("file:")
        if self._dialect == "sqlite" and is_file and os.name == "posix":  # flock
            from mailcore.store.handled_marks import MarkJournal

            self._journal = MarkJournal(f"{database}-handled")

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine; other stores (accounts, templates) share it."""
        return self._engine

    # -- writing -------------------------------------------------------------------------

    def record(self, kind: str, **fields: Any) -> None:
        """Log one event; with a message_key, the message's state takes the fields given too."""
        state = {k: v for k, v in fields.items() if k in STATE_COLUMNS and v is not None}
        if fields.get("message_key") is None or kind in {"admin"}:
            state = {}
        self.record_batch([{"kind": kind, **fields}], [state] if state else [])

    def record_batch(
        self, events: Sequence[Mapping[str, Any]], states: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Insert events and upsert message states in one transaction.

        Each state mapping holds message_key and the columns to set; others keep their value.
        """
        stamp = now()
        rows = []
        sqlite = self._dialect == "sqlite"
        for e in events:
            if not EVENT_COLUMNS.issuperset(e):
                unknown = sorted(set(e) - EVENT_COLUMNS)
                raise ValueError(f"unknown event field(s): {', '.join(unknown)}")
            row = {**e, "at": e.get("at") or stamp, "actor": e.get("actor") or "engine"}
            rows.append(row if sqlite else _fit(row, _EVENT_TEXT))  # SQLite: fitted below
        with self._engine.begin() as conn:
            if rows and sqlite:
                # The engine writes ~5 events per message: skip per-row statement compilation.
                conn.exec_driver_sql(
                    _SQLITE_EVENT_INSERT, _sqlite_rows(_EVENT_ORDER, rows, events_table)
                )
            elif rows:
                full = dict.fromkeys(EVENT_COLUMNS)
                conn.execute(events_table.insert(), [{**full, **r} for r in rows])
            self._upsert(conn, states, stamp)
        if self._journal is not None and any(s.get("handled") for s in states):
            self._journal.settle(self._recorded_handled)

    def _upsert(self, conn: sa.Connection, states: Sequence[Mapping[str, Any]], stamp: datetime):
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for s in states:
            unknown = set(s) - STATE_COLUMNS
            if unknown or "message_key" not in s:
                raise ValueError(f"bad state fields: {sorted(unknown) or 'no message_key'}")
            row = {"updated_at": stamp, **s}
            if self._dialect != "sqlite":  # SQLite: fitted in _sqlite_rows
                row = _fit(row, _STATE_TEXT)
            groups[tuple(sorted(row))].append(row)
        for cols, group in groups.items():
            if self._dialect == "sqlite":
                if "handled" not in cols:
                    cols = (*cols, "handled")
                    group = [{"handled": False, **r} for r in group]
                conn.exec_driver_sql(
                    _sqlite_upsert(cols), _sqlite_rows(cols, group, messages_table)
                )
                continue
            if self._dialect == "postgresql":
                from sqlalchemy.dialects import postgresql

                stmt = postgresql.insert(messages_table)
                update: dict[str, Any] = {c: stmt.excluded[c] for c in cols if c != "message_key"}
                if "handled" in update:  # only ever turns on, as on SQLite
                    update["handled"] = sa.or_(messages_table.c.handled, stmt.excluded.handled)
                conn.execute(
                    stmt.on_conflict_do_update(index_elements=["message_key"], set_=update),
                    [{"handled": False, **r} for r in group] if "handled" not in cols else group,
                )
                continue
            # Portable fallback: update, then insert what did not exist.
            for r in group:
                done = conn.execute(
                    messages_table.update()
                    .where(messages_table.c.message_key == r["message_key"])
                    .values({k: v for k, v in r.items() if k != "message_key"})
                )
                if not done.rowcount:
                    conn.execute(messages_table.insert().values({"handled": False, **r}))

    def mark_handled(
        self, message_key: str, *, message_id: str | None = None, handler: str | None = None
    ) -> None:
        """Durably note that a message's handler succeeded, before returning.

        The engine calls this the moment a handler returns, before anything else; a message
        so marked is filed as a duplicate, never handled again (see `handled_keys`). SQLite
        files append it to a journal beside the database (a write survives the process being
        killed; `record_batch` drops the marks it has recorded); other databases commit a row.
        """
        row = _fit(
            {"message_key": message_key, "message_id": message_id, "handler": handler},
            _HANDLED_TEXT,
        )
        if self._journal is not None:
            self._journal.add(message_key, row["message_id"], row["handler"])
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(handled_table.insert().values(**row, at=now()))
        except sa.exc.IntegrityError:
            pass  # marked before

    def handled_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages had their handler succeed (marked or recorded so)."""
        wanted = list(dict.fromkeys(keys))
        out = self._recorded_handled(wanted)
        with self._engine.connect() as conn:
            h = handled_table
            for chunk in _chunks(wanted):
                q = sa.select(h.c.message_key).where(h.c.message_key.in_(chunk))
                out.update(conn.scalars(q))
        if self._journal is not None:
            out |= self._journal.keys(wanted)
        return out

    def _recorded_handled(self, keys: Iterable[str]) -> set[str]:
        out: set[str] = set()
        m = messages_table
        with self._engine.connect() as conn:
            for chunk in _chunks(list(keys)):
                q = sa.select(m.c.message_key).where(m.c.message_key.in_(chunk), m.c.handled)
                out.update(conn.scalars(q))
        return out

    # -- message states ------------------------------------------------------------------

    def state(self, message_key: str) -> MessageState | None:
        """The current state of one message, or None if never seen."""
        return self.states([message_key]).get(message_key)

    def states(self, keys: Iterable[str]) -> dict[str, MessageState]:
        """Current states by message_key (unknown keys are absent)."""
        out: dict[str, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(keys))):
                for row in conn.execute(sa.select(t).where(t.c.message_key.in_(chunk))):
                    out[row.message_key] = _state(row)
        return out

    def states_at(
        self, folder: str, uidvalidity: int, uids: Iterable[int]
    ) -> dict[int, MessageState]:
        """States of the messages now at these UIDs of `folder` (indexed on the location)."""
        out: dict[int, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            for chunk in _chunks(list(uids)):
                q = sa.select(t).where(
                    t.c.folder == folder, t.c.uidvalidity == uidvalidity, t.c.uid.in_(chunk)
                )
                for row in conn.execute(q.order_by(t.c.updated_at)):
                    out[int(row.uid)] = _state(row)
        return out

    def states_by_message_id(
        self, message_ids: Iterable[str], folder: str | None = None
    ) -> dict[str, MessageState]:
        """Latest state per Message-ID (optionally only for messages now in `folder`)."""
        out: dict[str, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            # Stored cut to the column's length: look up the same cut, answer by the id asked.
            asked = {_fit_text(m, _STATE_TEXT["message_id"]): m for m in message_ids}
            for chunk in _chunks(list(asked)):
                q = sa.select(t).where(t.c.message_id.in_(chunk))
                if folder is not None:
                    q = q.where(t.c.folder == folder)
                for row in conn.execute(q.order_by(t.c.updated_at)):
                    out[asked[row.message_id]] = _state(row)
        return out

    def uids_where(
        self,
        folder: str,
        uidvalidity: int,
        *,
        reason: str | None = None,
        handler: str | None = None,
        sender: str | None = None,
    ) -> set[int]:
        """UIDs in `folder` whose state matches: reason and sender as case-insensitive
        substrings, handler exactly."""
        t = messages_table
        q = sa.select(t.c.uid).where(
            t.c.folder == folder, t.c.uidvalidity == uidvalidity, t.c.uid.is_not(None)
        )
        if reason:
            q = q.where(t.c.reason.ilike(f"%{_like(reason)}%", escape="\\"))
        q = _matching(q, t, sender=sender, handler=handler or None)
        with self._engine.connect() as conn:
            return {int(u) for (u,) in conn.execute(q)}

    def messages(
        self,
        *,
        status: str | None = None,
        handler: str | None = None,
        sender: str | None = None,
        identifier: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[MessageState]:
        """Message states, most recently updated first."""
        t = messages_table
        q = _matching(
            sa.select(t),
            t,
            sender=sender,
            status=status or None,
            handler=handler or None,
            identifier=identifier or None,
        )
        q = q.order_by(t.c.updated_at.desc()).limit(limit).offset(offset)
        with self._engine.connect() as conn:
            return [_state(r) for r in conn.execute(q)]

    # -- events --------------------------------------------------------------------------

    def events(
        self,
        *,
        message_key: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        handler: str | None = None,
        sender: str | None = None,
        identifier: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Event]:
        """Events matching every filter given, newest first."""
        t = events_table
        q = _matching(
            sa.select(t),
            t,
            sender=sender,
            message_key=message_key,
            kind=kind,
            status=status,
            handler=handler,
            identifier=identifier,
            actor=actor,
        )
        # Stored as UTC: compare in UTC whatever zone the caller's datetimes are in.
        if since is not None:
            q = q.where(t.c.at >= _utc(since))
        if until is not None:
            q = q.where(t.c.at < _utc(until))
        q = q.order_by(t.c.at.desc(), t.c.id.desc()).limit(limit).offset(offset)
        with self._engine.connect() as conn:
            return [_event(r) for r in conn.execute(q)]

    def timeline(self, message_key: str) -> list[Event]:
        """Everything that happened to one message, oldest first."""
        t = events_table
        q = sa.select(t).where(t.c.message_key == message_key).order_by(t.c.id)
        with self._engine.connect() as conn:
            return [_event(r) for r in conn.execute(q)]

    def counts_per_day(
        self,
        since: datetime,
        until: datetime,
        *,
        status: str | None = None,
        handler: str | None = None,
        sender: str | None = None,
        identifier: str | None = None,
    ) -> list[tuple[date, str, int]]:
        """(day, status, count) of outcomes (processed, failed, auto, duplicate, rejected).

        The filters mean what they mean for `events`: status, handler and identifier exactly,
        sender as a case-insensitive substring."""
        t = events_table
        day = self._utc_date(t.c.at)
        q = sa.select(day, t.c.status, sa.func.count()).where(
            t.c.status.is_not(None), t.c.at >= _utc(since), t.c.at < _utc(until)
        )
        q = _matching(q, t, sender=sender, status=status, handler=handler, identifier=identifier)
        q = q.group_by(day, t.c.status).order_by(day, t.c.status)
        with self._engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for d, outcome, n in rows:
            out.append((d if isinstance(d, date) else date.fromisoformat(str(d)), outcome, int(n)))
        return out

    def purge(self, older_than: datetime | None = None) -> int:
        """Delete events older than the retention period (and states of settled messages).

        Failed messages keep their state row however old, since they still wait for someone.
        Returns the number of events deleted; does nothing without a retention setting.
        """
        if older_than is None:
            if self.retention_days is None:
                return 0
            older_than = now() - timedelta(days=self.retention_days)
        with self._engine.begin() as conn:
            deleted = conn.execute(events_table.delete().where(events_table.c.at < older_than))
            m = messages_table
            conn.execute(
                m.delete().where(
                    m.c.updated_at < older_than,
                    sa.or_(m.c.status.is_(None), m.c.status.not_in(_OPEN_STATUSES)),
                )
            )
            conn.execute(handled_table.delete().where(handled_table.c.at < older_than))
        logger.info("purged %d history events older than %s", deleted.rowcount, older_than)
        return int(deleted.rowcount or 0)

    def _utc_date(self, column: Any) -> Any:
        """The UTC calendar day of a timestamp column (PostgreSQL would use its own zone)."""
        if self._dialect == "postgresql":
            return sa.func.date(sa.func.timezone("UTC", column))
        return sa.func.date(column)  # SQLite keeps UTC text

    def close(self) -> None:
        """Release pooled connections."""
        if self._journal is not None:
            self._journal.close()
        self._engine.dispose()


_JSON_COLUMNS = frozenset(
    c.name for t in (events_table, messages_table) for c in t.columns if isinstance(c.type, sa.JSON)
)
_EVENT_ORDER = tuple(sorted(EVENT_COLUMNS))
_SQLITE_EVENT_INSERT = "INSERT INTO mc_events ({}) VALUES ({})".format(
    ", ".join(_EVENT_ORDER), ", ".join("?" * len(_EVENT_ORDER))
)


@functools.lru_cache(maxsize=64)  # a batch stamps every row with the same instant
def _sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (UTC, no offset), so it reads it back."""
    return (_utc(value) or value).replace(tzinfo=None).isoformat(" ", "microseconds")


@functools.cache
def _converters(columns: tuple[str, ...]) -> tuple[tuple[int, Any], ...]:
    """(position, converter) for the columns whose values SQLite cannot take as they are."""
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, c in enumerate(columns):
        if c in _JSON_COLUMNS:
            out.append((i, json.dumps))
        elif c in {"at", "received_at", "updated_at"}:
            out.append((i, _sqlite_datetime))
    return tuple(out)


@functools.cache
def _sqlite_plan(
    columns: tuple[str, ...], table: str
) -> tuple[Callable[[Any], Any], dict[str, None], tuple[tuple[int, Any], ...], tuple[Any, ...]]:
    """How to turn a row mapping into the parameter tuple of `columns`, worked out once."""
    limits = _EVENT_TEXT if table == events_table.name else _STATE_TEXT
    texts = tuple((i, limits[c]) for i, c in enumerate(columns) if c in limits)
    return operator.itemgetter(*columns), dict.fromkeys(columns), _converters(columns), texts


def _sqlite_rows(
    columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]], table: sa.Table
) -> list[tuple[Any, ...]]:
    """Parameter tuples for executemany: text fitted as `_fit` does, JSON and times encoded."""
    pick, blank, converters, texts = _sqlite_plan(columns, table.name)
    out = []
    for row in rows:
        values = list(pick({**blank, **row}))
        for i, limit in texts:
            v = values[i]
            if v.__class__ is str and ("\x00" in v or (limit is not None and len(v) > limit)):
                values[i] = _fit_text(v, limit)
        for i, convert in converters:
            if values[i] is not None:
                values[i] = convert(values[i])
        out.append(tuple(values))
    return out


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


_EVENT_TEXT = {c.name: c.type.length for c in events_table.columns if isinstance(c.type, sa.String)}
_STATE_TEXT = {
    c.name: c.type.length for c in messages_table.columns if isinstance(c.type, sa.String)
}


_HANDLED_TEXT = {
    c.name: c.type.length for c in handled_table.columns if isinstance(c.type, sa.String)
}


def _fit_text(value: str, length: int | None) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    return value[:length] if length is not None and len(value) > length else value


def _fit(row: dict[str, Any], limits: Mapping[str, int | None]) -> dict[str, Any]:
    """`row` with its text as PostgreSQL takes it: no NUL characters, cut to the column's
    length. SQLite would store anything; a hostile header must not stop the history."""
    for name, value in row.items():
        # Checked inline: this runs for every value the engine writes (~70 per message).
        if value.__class__ is str and name in limits:
            length = limits[name]
            if "\x00" in value or (length is not None and len(value) > length):
                row[name] = _fit_text(value, length)
    return row


def _matching(q: Any, table: sa.Table, *, sender: str | None = None, **exact: Any) -> Any:
    """`q` narrowed to the rows of `table` whose columns equal the values given (None: any)
    and whose sender contains `sender`, case-insensitively (the history's usual filters)."""
    for name, value in exact.items():
        if value is not None:
            q = q.where(table.c[name] == value)
    if sender:
        q = q.where(table.c.sender.ilike(f"%{_like(sender)}%", escape="\\"))
    return q


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
