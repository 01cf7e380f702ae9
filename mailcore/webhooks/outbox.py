"""Events out: the history events subscriptions ask for, written to the outbox in the same
transaction as the events (`OutboxWriter`, installed as `History.outbox`), then delivered
signed, retried with backoff and logged (`OutboxDeliverer`, one pass at a time or a thread).

An event is never lost: its row exists exactly when its history event does, and stays pending
until a 2xx (delivered), a refusal or the last retry (failed, kept for the admins' log).
Delivery is at least once -- a deliverer killed between the answer and the write posts it
again -- with the same ``webhook-id`` every time, for the receiver to deduplicate.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mailcore.store.outbox import OutboxRow, OutboxState, OutboxStore
from mailcore.store.records import EventKind, LogEvent
from mailcore.webhooks.delivery import attempt, new_session
from mailcore.webhooks.settings import EventType, Subscription
from mailcore.webhooks.signing import signed_headers

__all__ = ["OutboxDeliverer", "OutboxWriter", "event_type"]

log = logging.getLogger(__name__)

_KINDS = {
    EventKind.HANDLED: EventType.PROCESSED,
    EventKind.FAILED: EventType.FAILED,
    EventKind.RESUBMITTED: EventType.RESUBMITTED,
    EventKind.REJECTED: EventType.REJECTED,
}
_PER_PASS = 10  # events taken at once by a deliverer
_FACTS = ("message_key", "message_id", "sender", "subject", "identifier", "handler", "status")
_MORE = ("reason", "mailbox", "folder", "uid", "actor")


def event_type(event: LogEvent) -> EventType | None:
    """What a history event is for the subscribers, None when it is nothing for them."""
    if event.kind == EventKind.EXTRACTED:
        return EventType.BOUNCED if (event.after or {}).get("bounce") else None
    return _KINDS.get(event.kind)


def _body(kind: EventType, event: LogEvent, stamp: datetime) -> str:
    data = {k: getattr(event, k) for k in (*_FACTS, *_MORE)}
    at = (event.at or stamp).isoformat()
    return json.dumps(
        {"type": f"message.{kind}", "timestamp": at, "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


class OutboxWriter:
    """`History.outbox`: one outbox row per event and subscription that asks for its kind."""

    def __init__(self, subscriptions: Sequence[Subscription]) -> None:
        self.subscriptions = list(subscriptions)
        self._wanted = frozenset(k for s in subscriptions for k in s.kinds)
        self.deliverer: OutboxDeliverer | None = None  # set by mailcore.webhooks.install_events

    def __call__(self, conn: sa.Connection, events: Sequence[LogEvent], stamp: datetime) -> None:
        rows = []
        for event in events:
            kind = event_type(event)
            if kind is None or kind not in self._wanted:
                continue
            body = _body(kind, event, stamp)
            for sub in self.subscriptions:
                if kind in sub.kinds:
                    rows.append(
                        {"webhook_id": "evt_" + secrets.token_hex(16), "subscription": sub.name,
                         "kind": str(kind), "message_key": event.message_key, "body": body}
                    )  # fmt: skip
        OutboxStore.enqueue(conn, rows, stamp.timestamp())


class OutboxDeliverer:
    """Posts the due outbox rows; `run_once` for one pass, `start`/`stop` for a thread."""

    def __init__(
        self, store: OutboxStore, subscriptions: Sequence[Subscription], interval: float = 2.0
    ) -> None:
        self.store = store
        self.subscriptions = {s.name: s for s in subscriptions}
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: float | None = None) -> int:
        """Post every due event once; returns how many were tried."""
        # Leased for as long as posting them all one after the other can take, so that no
        # other deliverer takes one over meanwhile.
        each = max((s.policy.timeout * 2 + 5 for s in self.subscriptions.values()), default=60)
        rows = self.store.take_due(each * _PER_PASS, limit=_PER_PASS, now=now)
        if not rows:
            return 0
        with new_session() as session:
            for row in rows:
                self._deliver(session, row)
        return len(rows)

    def _deliver(self, session: Any, row: OutboxRow) -> None:
        sub = self.subscriptions.get(row.subscription)
        if sub is None:
            detail = f"subscription {row.subscription!r} is no longer configured"
            entry = {"outcome": "refused", "status": None, "detail": detail, "elapsed": 0.0}
            self.store.settle(row, entry, OutboxState.FAILED)
            return
        body = row.body.encode()
        headers = signed_headers([sub.secret], row.webhook_id, body)
        got = attempt(session, sub.url, body, headers, sub.policy.timeout)
        entry = {"outcome": str(got.outcome), "status": got.status, "detail": got.detail,
                 "elapsed": got.elapsed}  # fmt: skip
        if got.delivered:
            self.store.settle(row, entry, OutboxState.DELIVERED)
        elif got.outcome.retried and row.attempts < sub.policy.retries:
            wait = sub.policy.wait(row.attempts, got.retry_after)
            self.store.settle(row, entry, OutboxState.PENDING, time.time() + wait)
        else:
            self.store.settle(row, entry, OutboxState.FAILED)
            log.warning("event %s to %s failed: %s", row.webhook_id, sub.name, got.detail)

    def start(self) -> None:
        """Deliver in a daemon thread every `interval` seconds until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="mailcore-outbox", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self.run_once() and not self._stop.is_set():
                    pass
            except Exception:  # the database away for a moment: try again next round
                log.exception("delivering the events-out outbox failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
