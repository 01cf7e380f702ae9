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

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mailcore.store import sqlite_fastpath
from mailcore.store.db import METADATA, connect
from mailcore.store.handled_marks import HandledMarks
from mailcore.store.records import Event, MessageState, event_from_row, state_from_row
from mailcore.store.tables import (
    EVENT_COLUMNS,
    EVENT_TEXT,
    OPEN_STATUSES,
    STATE_COLUMNS,
    STATE_TEXT,
    chunks,
    events_table,
    fit,
    fit_text,
    handled_table,
    messages_table,
    now,
    utc,
)

__all__ = [
    "EVENT_COLUMNS",
    "STATE_COLUMNS",
    "Event",
    "History",
    "MessageState",
    "events_table",
    "handled_table",
    "messages_table",
    "now",
]

logger = logging.getLogger(__name__)


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
        self._marks = HandledMarks(self._engine)

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
            rows.append(row if sqlite else fit(row, EVENT_TEXT))  # SQLite: fitted there
        with self._engine.begin() as conn:
            if rows and sqlite:
                # The engine writes ~5 events per message: skip per-row statement compilation.
                sqlite_fastpath.insert_events(conn, rows)
            elif rows:
                full = dict.fromkeys(EVENT_COLUMNS)
                conn.execute(events_table.insert(), [{**full, **r} for r in rows])
            self._upsert(conn, states, stamp)
        if any(s.get("handled") for s in states):
            self._marks.settle()

    def _upsert(self, conn: sa.Connection, states: Sequence[Mapping[str, Any]], stamp: datetime):
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for s in states:
            unknown = set(s) - STATE_COLUMNS
            if unknown or "message_key" not in s:
                raise ValueError(f"bad state fields: {sorted(unknown) or 'no message_key'}")
            row = {"updated_at": stamp, **s}
            if self._dialect != "sqlite":  # SQLite: fitted in sqlite_fastpath
                row = fit(row, STATE_TEXT)
            groups[tuple(sorted(row))].append(row)
        for cols, group in groups.items():
            if self._dialect == "sqlite":
                sqlite_fastpath.upsert_states(conn, cols, group)
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
        """Durably note that a message's handler succeeded, before returning (the engine calls
        this the moment a handler returns); see `HandledMarks.mark`."""
        self._marks.mark(message_key, message_id=message_id, handler=handler)

    def handled_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages had their handler succeed (marked or recorded so): a
        message so marked is filed as a duplicate, never handled again."""
        return self._marks.keys(keys)

    # -- message states ------------------------------------------------------------------

    def state(self, message_key: str) -> MessageState | None:
        """The current state of one message, or None if never seen."""
        return self.states([message_key]).get(message_key)

    def states(self, keys: Iterable[str]) -> dict[str, MessageState]:
        """Current states by message_key (unknown keys are absent)."""
        out: dict[str, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(keys))):
                for row in conn.execute(sa.select(t).where(t.c.message_key.in_(chunk))):
                    out[row.message_key] = state_from_row(row)
        return out

    def states_at(
        self, folder: str, uidvalidity: int, uids: Iterable[int]
    ) -> dict[int, MessageState]:
        """States of the messages now at these UIDs of `folder` (indexed on the location)."""
        out: dict[int, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            for chunk in chunks(list(uids)):
                q = sa.select(t).where(
                    t.c.folder == folder, t.c.uidvalidity == uidvalidity, t.c.uid.in_(chunk)
                )
                for row in conn.execute(q.order_by(t.c.updated_at)):
                    out[int(row.uid)] = state_from_row(row)
        return out

    def states_by_message_id(
        self, message_ids: Iterable[str], folder: str | None = None
    ) -> dict[str, MessageState]:
        """Latest state per Message-ID (optionally only for messages now in `folder`)."""
        out: dict[str, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            # Stored cut to the column's length: look up the same cut, answer by the id asked.
            asked = {fit_text(m, STATE_TEXT["message_id"]): m for m in message_ids}
            for chunk in chunks(list(asked)):
                q = sa.select(t).where(t.c.message_id.in_(chunk))
                if folder is not None:
                    q = q.where(t.c.folder == folder)
                for row in conn.execute(q.order_by(t.c.updated_at)):
                    out[asked[row.message_id]] = state_from_row(row)
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
            return [state_from_row(r) for r in conn.execute(q)]

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
            q = q.where(t.c.at >= utc(since))
        if until is not None:
            q = q.where(t.c.at < utc(until))
        q = q.order_by(t.c.at.desc(), t.c.id.desc()).limit(limit).offset(offset)
        with self._engine.connect() as conn:
            return [event_from_row(r) for r in conn.execute(q)]

    def timeline(self, message_key: str) -> list[Event]:
        """Everything that happened to one message, oldest first."""
        t = events_table
        q = sa.select(t).where(t.c.message_key == message_key).order_by(t.c.id)
        with self._engine.connect() as conn:
            return [event_from_row(r) for r in conn.execute(q)]

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
            t.c.status.is_not(None), t.c.at >= utc(since), t.c.at < utc(until)
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
                    sa.or_(m.c.status.is_(None), m.c.status.not_in(OPEN_STATUSES)),
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
        self._marks.close()
        self._engine.dispose()


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
