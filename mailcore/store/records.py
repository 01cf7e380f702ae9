"""The history's records: `LogEvent` (an event to write), `Event` (a row of mc_events read back),
`MessageState` (a row of mc_messages) and how a result row becomes one; `EventKind`, the kinds
of event the log holds.

Schema errors are stored as JSON objects (mailcore.processing.vocabulary.SchemaError.as_json:
path, kind, message...); a row written by the previous version holds [path, message] pairs,
read here as objects with only those two keys, so its errors still show.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from mailcore.store.tables import now, utc


class EventKind(StrEnum):
    """What an event of the log records; equal to its string, as the rows hold it.

    Owned here, where the log is (the store cannot import processing); processing and the
    console take it from mailcore.processing.vocabulary.
    """

    RECEIVED = "received"
    EXTRACTED = "extracted"
    ROUTED = "routed"
    HANDLED = "handled"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    AUTO_REPLY = "auto-reply"
    MOVED = "moved"
    CORRECTED = "corrected"
    RESUBMITTED = "resubmitted"
    REJECTED = "rejected"
    ADMIN = "admin"  # an account change (console.accounts)
    AUTH = "auth"  # a failed login or a lockout (console.throttle)
    TEMPLATE = "template"  # a template version saved or restored (store.template_saving)
    SENT = "sent"  # a mail composed from a template and sent (the console, the JSON API)


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One event to log, as its writers (the engine, the console's stores) hand it to
    `History.record_batch`; `at` and `actor` are filled in there when left out."""

    kind: EventKind
    # which message (None for an account, login or template event)
    message_key: str | None = None
    message_id: str | None = None
    sender: str | None = None
    subject: str | None = None
    identifier: str | None = None
    # where it is
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    # what became of it, and why
    status: str | None = None
    handler: str | None = None
    reason: str | None = None
    errors: list[dict[str, Any]] | None = None  # schema errors as JSON objects (see above)
    failure: str | None = None  # a failed event's kind (mailcore.processing FailureKind)
    before: dict[str, Any] | None = None  # what an operator corrected: the payload before,
    after: dict[str, Any] | None = None  # and after (or facts of the step: a handler's result)
    # who, and when
    actor: str | None = None
    at: datetime | None = None
    mailbox: str | None = None  # the configured mailbox it lies in; None: the default one

    def row(self, stamp: datetime) -> dict[str, Any]:
        """The mc_events row: every column, `at` and `actor` defaulted (stamp, "engine")."""
        out = dict(zip(_LOG_FIELDS, _LOG_VALUES(self), strict=True))
        out["at"] = self.at or stamp
        out["actor"] = self.actor or "engine"
        return out


_LOG_FIELDS = tuple(f.name for f in fields(LogEvent))
_LOG_VALUES = operator.attrgetter(*_LOG_FIELDS)


@dataclass(frozen=True)
class Event:
    """One row of the event log, read back."""

    id: int
    at: datetime
    kind: str  # an EventKind, as text: a row may hold a kind of another version
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
    errors: list[dict[str, Any]] | None  # schema errors as JSON objects (see above)
    mailbox: str | None = None  # the configured mailbox; None: the default one
    failure: str | None = None  # a failed event's FailureKind; None on older rows


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
    errors: list[dict[str, Any]]  # schema errors as JSON objects (see above)
    payload: dict[str, Any] | None
    handled: bool
    folder: str | None
    uidvalidity: int | None
    uid: int | None
    received_at: datetime | None
    updated_at: datetime
    mailbox: str | None = None  # the configured mailbox it lies in; None: the default one
    failure: str | None = None  # why it failed, a FailureKind; None on older rows


def _errors(value: Any) -> list[dict[str, Any]]:
    """Stored schema errors as JSON objects; an old [path, message] pair becomes one too."""
    return [
        dict(e) if isinstance(e, dict) else {"path": str(e[0]), "message": str(e[1])}
        for e in value or []
    ]


def event_from_row(row: Any) -> Event:
    m = row._mapping
    return Event(
        **{f.name: m[f.name] for f in fields(Event) if f.name not in {"at", "errors"}},
        at=utc(m["at"]) or now(),
        errors=_errors(m["errors"]) if m["errors"] is not None else None,
    )


def state_from_row(row: Any) -> MessageState:
    m = row._mapping
    return MessageState(
        **{
            f.name: m[f.name]
            for f in fields(MessageState)
            if f.name not in {"errors", "received_at", "updated_at", "handled"}
        },
        errors=_errors(m["errors"]),
        handled=bool(m["handled"]),
        received_at=utc(m["received_at"]),
        updated_at=utc(m["updated_at"]) or now(),
    )
