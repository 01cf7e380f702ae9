"""The processing history: an event log plus one current-state row per message (SQLAlchemy Core).

`mc_events` records everything that happened (received, extracted, routed, handled, failed,
moved, auto-reply, duplicate, corrected, resubmitted, rejected, and other stores' events such as
``admin``), with who did it and, for corrections, the payload before and after.
`mc_messages` holds where each message is now and why, keyed by `message_key` (a digest of the
raw bytes, so a copy of the same message is the same key): the console's lookups -- the failure
reason of a UID in `failed`, "was this handled already?" -- are one indexed query.

SQLite (a file) by default, PostgreSQL by URL. `History` is the facade; it writes, and is
built from the modules beside it: `tables` (the schema, on `mailcore.store.db.METADATA`),
`records` (`Event`, `EventKind`, `MessageState`), `queries` (the reads), `sqlite_fastpath`
(the hand-written SQLite writes) and `handled_marks` (the "handler succeeded" marks). The
names other code imports from here (the tables, `Event`, `EventKind`, `MessageState`,
`now`...) are re-exported.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from mailcore.store import pg_fastpath, sqlite_fastpath
from mailcore.store.db import METADATA, connect
from mailcore.store.handled_marks import HandledMarks
from mailcore.store.queries import HistoryQueries
from mailcore.store.records import Event, EventKind, LogEvent, MessageState
from mailcore.store.tables import (
    EVENT_COLUMNS,
    EVENT_TEXT,
    OPEN_STATUSES,
    STATE_COLUMNS,
    STATE_TEXT,
    events_table,
    fit,
    handled_table,
    messages_table,
    now,
)

__all__ = [
    "EVENT_COLUMNS",
    "STATE_COLUMNS",
    "Event",
    "EventKind",
    "History",
    "LogEvent",
    "MessageState",
    "events_table",
    "handled_table",
    "messages_table",
    "now",
]

logger = logging.getLogger(__name__)


class History(HistoryQueries):
    """The event log and message states; thread-safe through SQLAlchemy's pool.

    Writes events and states (`record`, `record_batch`), delegates the handled marks to
    `HandledMarks` (handled_marks.py), applies retention (`purge`); its reads are those of
    `HistoryQueries` (queries.py).
    """

    def __init__(
        self,
        url: str = "sqlite:///mailcore.db",
        retention_days: int | None = None,
        *,
        engine: sa.Engine | None = None,
    ) -> None:
        if engine is not None:
            METADATA.create_all(engine)
        super().__init__(engine if engine is not None else connect(url))
        self.retention_days = retention_days
        self._marks = HandledMarks(self._engine)
        self._copies = pg_fastpath.copies_events(self._engine)
        # Called with each batch's connection, events and time, inside its transaction: the
        # events-out outbox (mailcore.webhooks.outbox) writes its rows there.
        self.outbox: Callable[[sa.Connection, Sequence[LogEvent], datetime], None] | None = None

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine; other stores (accounts, templates) share it."""
        return self._engine

    # -- writing -------------------------------------------------------------------------

    def record(self, kind: EventKind, **fields: Any) -> None:
        """Log one event; with a message_key, the message's state takes the fields given too."""
        try:
            event = LogEvent(kind, **fields)
        except TypeError as exc:  # a field the log has no column for
            raise ValueError(f"bad event field(s) for {kind!r}: {exc}") from None
        state = {k: v for k, v in fields.items() if k in STATE_COLUMNS and v is not None}
        if fields.get("message_key") is None or kind == EventKind.ADMIN:
            state = {}
        self.record_batch([event], [state] if state else [])

    def record_batch(
        self, events: Sequence[LogEvent], states: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Insert events and upsert message states in one transaction.

        Each state mapping holds message_key and the columns to set; others keep their value.
        """
        stamp = now()
        with self._engine.begin() as conn:
            if events and self._dialect == "sqlite":
                # The engine writes ~5 events per message: skip per-row statement compilation.
                sqlite_fastpath.insert_events(conn, events, stamp)  # fitted there
            elif events and self._copies:  # PostgreSQL: one COPY, 4-5x an executemany
                pg_fastpath.copy_events(conn, events, stamp)  # fitted there
            elif events:
                rows = [fit(e.row(stamp), EVENT_TEXT) for e in events]
                conn.execute(events_table.insert(), rows)
            self._upsert(conn, states, stamp)
            if self.outbox is not None and events:
                self.outbox(conn, events, stamp)
        handled = [s["message_key"] for s in states if s.get("handled")]
        if handled:
            self._marks.settle(handled)  # recorded by this commit: not looked up again

    def _upsert(self, conn: sa.Connection, states: Sequence[Mapping[str, Any]], stamp: datetime):
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for s in states:
            unknown = set(s) - STATE_COLUMNS
            if unknown or "message_key" not in s:
                raise ValueError(f"bad state fields: {sorted(unknown) or 'no message_key'}")
            row = {"updated_at": stamp, **s}
            if self._dialect != "sqlite" and not self._copies:  # else fitted in the fast paths
                row = fit(row, STATE_TEXT)
            groups[tuple(sorted(row))].append(row)
        for cols, group in groups.items():
            if self._dialect == "sqlite":
                sqlite_fastpath.upsert_states(conn, cols, group)
                continue
            if self._copies:  # PostgreSQL with psycopg: one statement, a third of the time
                pg_fastpath.upsert_states(conn, cols, group)
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
        """Note that a message's handler succeeded, so that it survives this process being
        killed, before returning (the engine calls this the moment a handler returns; the mark
        is committed by the next `confirm_marks`); see `HandledMarks.mark`."""
        self._marks.mark(message_key, message_id=message_id, handler=handler)

    def confirm_marks(self) -> None:
        """Return once the handled marks sent so far are committed (`HandledMarks.confirm`):
        the engine calls it before each handler call; MarkNotWritten if one cannot be."""
        self._marks.confirm()

    def sync_marks(self) -> None:
        """Make the handled marks written so far durable (`HandledMarks.sync`): the engine
        calls it after each chunk's handlers; MarkNotWritten when the disk refuses them."""
        self._marks.sync()

    def handled_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages had their handler succeed (marked or recorded so): a
        message so marked is filed as a duplicate, never handled again."""
        return self._marks.keys(keys)

    def marked_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages carry a handled mark, whether or not their state rows
        record it yet (`handled_keys` without the state rows, for a caller that reads them
        itself -- after this: a mark is dropped once they record it)."""
        return self._marks.marked(keys)

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
            self._marks.purge(conn, older_than)
        logger.info("purged %d history events older than %s", deleted.rowcount, older_than)
        return int(deleted.rowcount or 0)

    def close(self) -> None:
        """Release pooled connections."""
        self._marks.close()
        self._engine.dispose()
