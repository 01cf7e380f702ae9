"""The history's reads: message states (by key, location, Message-ID, filters; mail per day
by current status) and events (filtered, one message's timeline, outcomes per day).

`HistoryQueries` holds them over an engine; `History` (history.py) is one, plus its writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypedDict, Unpack

import sqlalchemy as sa

from mailcore.store.mailbox_columns import in_mailbox
from mailcore.store.records import Event, MessageState, event_from_row, state_from_row
from mailcore.store.tables import (
    STATE_TEXT,
    chunks,
    events_table,
    fit_text,
    messages_table,
    one_of,
    utc,
)


class HistoryQueries:
    """Reads of the event log and the message states; thread-safe through SQLAlchemy's pool."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    # -- message states ------------------------------------------------------------------

    def state(self, message_key: str) -> MessageState | None:
        """The current state of one message, or None if never seen."""
        return self.states([message_key]).get(message_key)

    def states(self, keys: Iterable[str]) -> dict[str, MessageState]:
        """Current states by message_key (unknown keys are absent)."""
        out: dict[str, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            for where in one_of(self._dialect, t.c.message_key, list(dict.fromkeys(keys))):
                for row in conn.execute(sa.select(t).where(where)):
                    out[row.message_key] = state_from_row(row)
        return out

    def states_at(
        self, folder: str, uidvalidity: int, uids: Iterable[int], mailbox: str | None = None
    ) -> dict[int, MessageState]:
        """States of the messages now at these UIDs of `folder` of `mailbox` (None: the default
        one), indexed on the location."""
        out: dict[int, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            for chunk in chunks(list(uids)):
                q = sa.select(t).where(
                    t.c.folder == folder,
                    t.c.uidvalidity == uidvalidity,
                    t.c.uid.in_(chunk),
                    in_mailbox(t, mailbox),
                )
                for row in conn.execute(q.order_by(t.c.updated_at)):
                    out[int(row.uid)] = state_from_row(row)
        return out

    def states_by_message_id(
        self, message_ids: Iterable[str], folder: str | None = None, mailbox: str | None = None
    ) -> dict[str, MessageState]:
        """Latest state per Message-ID of the messages of `mailbox` (None: the default one),
        optionally only of those now in `folder`."""
        out: dict[str, MessageState] = {}
        t = messages_table
        with self._engine.connect() as conn:
            # Stored cut to the column's length: look up the same cut, answer by the id asked.
            asked = {fit_text(m, STATE_TEXT["message_id"]): m for m in message_ids}
            for chunk in chunks(list(asked)):
                q = sa.select(t).where(t.c.message_id.in_(chunk), in_mailbox(t, mailbox))
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
        mailbox: str | None = None,
    ) -> set[int]:
        """UIDs in `folder` of `mailbox` (None: the default one) whose state matches: reason
        and sender as case-insensitive substrings, handler exactly."""
        t = messages_table
        q = sa.select(t.c.uid).where(
            t.c.folder == folder,
            t.c.uidvalidity == uidvalidity,
            t.c.uid.is_not(None),
            in_mailbox(t, mailbox),
        )
        if reason:
            q = q.where(t.c.reason.ilike(f"%{_like(reason)}%", escape="\\"))
        q = _matching(q, t, {"sender": sender, "handler": handler})
        with self._engine.connect() as conn:
            return {int(u) for (u,) in conn.execute(q)}

    def messages(
        self, *, limit: int = 100, offset: int = 0, **match: Unpack[MessageListing]
    ) -> list[MessageState]:
        """Message states matching every filter given (updated in [since, until)), most
        recently updated first."""
        t = messages_table
        q = _matching(sa.select(t), t, match, t.c.updated_at)
        q = q.order_by(t.c.updated_at.desc()).limit(limit).offset(offset)
        with self._engine.connect() as conn:
            return [state_from_row(r) for r in conn.execute(q)]

    # -- events --------------------------------------------------------------------------

    def events(
        self, *, limit: int = 100, offset: int = 0, **match: Unpack[EventListing]
    ) -> list[Event]:
        """Events matching every filter given (at in [since, until)), newest first."""
        t = events_table
        q = _matching(sa.select(t), t, match, t.c.at)
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
        self, since: datetime, until: datetime, **match: Unpack[MessageFilters]
    ) -> list[tuple[date, str, int]]:
        """(day, status, count) of outcomes (processed, failed, auto, duplicate, rejected),
        of the events matching every filter given, as for `events`."""
        t = events_table
        day = self._utc_date(t.c.at)
        q = sa.select(day, t.c.status, sa.func.count()).where(
            t.c.status.is_not(None), t.c.at >= utc(since), t.c.at < utc(until)
        )
        q = _matching(q, t, match)
        q = q.group_by(day, t.c.status).order_by(day, t.c.status)
        with self._engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for d, outcome, n in rows:
            out.append((d if isinstance(d, date) else date.fromisoformat(str(d)), outcome, int(n)))
        return out

    def message_counts_per_day(
        self, since: datetime, until: datetime, **match: Unpack[MessageFilters]
    ) -> list[tuple[date, str, int]]:
        """(day, status, count) of messages: each message once, on the day it arrived (else
        was last updated), under its current status; the filters as for `messages`."""
        t = messages_table
        arrived = sa.func.coalesce(t.c.received_at, t.c.updated_at)
        day = self._utc_date(arrived)
        q = sa.select(day, t.c.status, sa.func.count()).where(
            t.c.status.is_not(None), arrived >= utc(since), arrived < utc(until)
        )
        q = _matching(q, t, match).group_by(day, t.c.status).order_by(day, t.c.status)
        with self._engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            (d if isinstance(d, date) else date.fromisoformat(str(d)), str(s), int(n))
            for d, s, n in rows
        ]

    def _utc_date(self, column: Any) -> Any:
        """The UTC calendar day of a timestamp column (PostgreSQL would use its own zone)."""
        if self._dialect == "postgresql":
            return sa.func.date(sa.func.timezone("UTC", column))
        return sa.func.date(column)  # SQLite keeps UTC text


class MessageFilters(TypedDict, total=False):
    """What the history's reads filter on: each column equal to the value given (None or
    absent: any), `sender` a case-insensitive substring."""

    status: str | None
    handler: str | None
    sender: str | None
    identifier: str | None


class EventFilters(MessageFilters, total=False):
    """`MessageFilters`, and what only events have."""

    message_key: str | None
    kind: str | None
    actor: str | None


class MessageListing(MessageFilters, total=False):
    """`MessageFilters` and a time range: [since, until) (datetimes in any zone)."""

    since: datetime | None
    until: datetime | None


class EventListing(EventFilters, MessageListing, total=False):
    """`EventFilters` and a time range."""


def _matching(q: Any, table: sa.Table, match: Mapping[str, Any], clock: Any | None = None) -> Any:
    """`q` narrowed to the rows of `table` that `match` (a `MessageFilters`, or a listing whose
    since/until apply to the `clock` column) selects."""
    for name, value in match.items():
        if name == "sender":
            if value:
                q = q.where(table.c.sender.ilike(f"%{_like(value)}%", escape="\\"))
        elif name in ("since", "until"):
            # Stored as UTC: compared in UTC whatever zone the caller's datetimes are in.
            if value is not None:
                at: Any = utc(value)
                q = q.where(clock >= at if name == "since" else clock < at)
        elif value is not None and value != "":
            q = q.where(table.c[name] == value)
    return q


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
