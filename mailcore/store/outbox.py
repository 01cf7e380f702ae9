"""The events-out outbox, in the history database: `mc_outbox` (one row per event and
subscription, written in the transaction of the history event it tells of) and
`mc_outbox_attempts` (the delivery log: every POST, its outcome, status code and detail).

`OutboxStore` enqueues (on the history's connection), hands due rows to one deliverer at a
time (a lease per row, so pollers on several machines never post one event at once), records
each attempt and lists the log. Times are Unix seconds of the writer's clock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from mailcore.store.db import METADATA

__all__ = ["DeliveryLogRow", "OutboxRow", "OutboxState", "OutboxStore", "outbox_table"]

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class OutboxState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # refused, or every retry spent: kept, with why, for the admins


outbox_table = sa.Table(
    "mc_outbox",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.String(64), nullable=False, unique=True),
    sa.Column("subscription", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("message_key", sa.String(64)),
    sa.Column("body", sa.Text, nullable=False),  # the JSON posted, the same on every retry
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_detail", sa.Text),
    sa.Index("ix_mc_outbox_due", "state", "next_at"),
)

attempts_table = sa.Table(
    "mc_outbox_attempts",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", sa.BigInteger, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("status", sa.Integer),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("elapsed", sa.Float, nullable=False),
    sa.Index("ix_mc_outbox_attempts_event", "outbox_id", "id"),
)


@dataclass(frozen=True)
class OutboxRow:
    """One event to deliver to one subscription."""

    id: int
    webhook_id: str
    subscription: str
    kind: str
    message_key: str | None
    body: str
    state: str
    attempts: int
    next_at: float
    last_status: int | None
    last_detail: str | None


@dataclass(frozen=True)
class DeliveryLogRow:
    """One attempt of the delivery log, with its event."""

    at: datetime
    subscription: str
    kind: str
    webhook_id: str
    message_key: str | None
    attempt: int
    outcome: str
    status: int | None
    detail: str
    state: str  # the event's state now


def _row(r: Any) -> OutboxRow:
    m = r._mapping
    return OutboxRow(**{k: m[k] for k in OutboxRow.__dataclass_fields__})


class OutboxStore:
    """The outbox's reads and writes (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        METADATA.create_all(engine, tables=[outbox_table, attempts_table])

    @staticmethod
    def enqueue(conn: sa.Connection, rows: Sequence[dict[str, Any]], stamp: float) -> None:
        """Add events (webhook_id, subscription, kind, message_key, body) on `conn`: in the
        caller's transaction, so an event exists exactly when its history event does."""
        if rows:
            full = [
                {**r, "created": stamp, "state": OutboxState.PENDING, "attempts": 0,
                 "next_at": stamp}
                for r in rows
            ]  # fmt: skip
            conn.execute(outbox_table.insert(), full)

    def take_due(self, lease: float, limit: int = 50, now: float | None = None) -> list[OutboxRow]:
        """Pending events whose time has come and that no deliverer holds, each now leased to
        the caller for `lease` seconds (one compare-and-set per row)."""
        now = time.time() if now is None else now
        o = outbox_table
        free = sa.or_(o.c.lease_until.is_(None), o.c.lease_until < now)
        due = sa.and_(o.c.state == OutboxState.PENDING, o.c.next_at <= now, free)
        taken: list[OutboxRow] = []
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(o).where(due).order_by(o.c.id).limit(limit)).all()
            for r in rows:
                got = conn.execute(
                    o.update().where(o.c.id == r.id, free).values(lease_until=now + lease)
                )
                if got.rowcount == 1:
                    taken.append(_row(r))
        return taken

    def settle(
        self,
        row: OutboxRow,
        attempt: dict[str, Any],
        state: OutboxState,
        next_at: float | None = None,
    ) -> None:
        """Log one attempt (outcome, status, detail, elapsed) and move the event on: delivered,
        failed, or pending again at `next_at`; its lease released."""
        now = time.time()
        o = outbox_table
        with self.engine.begin() as conn:
            conn.execute(attempts_table.insert().values(outbox_id=row.id, at=now, **attempt))
            conn.execute(
                o.update()
                .where(o.c.id == row.id)
                .values(
                    state=state,
                    attempts=o.c.attempts + 1,
                    next_at=next_at if next_at is not None else row.next_at,
                    lease_until=None,
                    last_status=attempt.get("status"),
                    last_detail=attempt["detail"],
                )
            )

    def get(self, webhook_id: str) -> OutboxRow | None:
        o = outbox_table
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(o).where(o.c.webhook_id == webhook_id)).first()
        return _row(r) if r is not None else None

    def events(self, limit: int = 200) -> list[OutboxRow]:
        """The newest events, newest first."""
        o = outbox_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(o).order_by(o.c.id.desc()).limit(limit)).all()
        return [_row(r) for r in rows]

    def log(self, limit: int = 200) -> list[DeliveryLogRow]:
        """The newest attempts with their events, newest first (the admins' page)."""
        a, o = attempts_table, outbox_table
        number = sa.func.count().over(partition_by=a.c.outbox_id, order_by=a.c.id)
        inner = sa.select(a, number.label("attempt")).subquery()
        q = (
            sa.select(inner, o.c.subscription, o.c.kind, o.c.webhook_id, o.c.message_key, o.c.state)
            .join(o, o.c.id == inner.c.outbox_id)
            .order_by(inner.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            DeliveryLogRow(
                datetime.fromtimestamp(r.at, UTC),
                r.subscription,
                r.kind,
                r.webhook_id,
                r.message_key,
                int(r.attempt),
                r.outcome,
                r.status,
                r.detail,
                r.state,
            )  # fmt: skip
            for r in rows
        ]
