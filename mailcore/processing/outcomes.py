"""What the engine answers: a message's `Outcome` and its `Status` (owned by
mailcore.processing.vocabulary, re-exported here), the failed folder's pages
(`FailedPage` of `FailedItem`), one message's `Inspection`, the intake `Limits`, `NO_HANDLER`,
and `message_key`, the identity of a message (mailcore.inbound.identity: what the sender wrote,
without the trace fields added in transit; `legacy_message_key` is the older raw digest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailcore.inbound.extract import Extraction
from mailcore.inbound.identity import legacy_message_key, message_key
from mailcore.mailboxes.protocol import Summary
from mailcore.processing.vocabulary import ErrorKind, ErrorList, SchemaError, Status

__all__ = [
    "ErrorList",
    "FailedItem",
    "FailedPage",
    "Inspection",
    "Limits",
    "NO_HANDLER",
    "Outcome",
    "Status",
    "legacy_message_key",
    "message_key",
]

# What `Engine.validate` answers when no handler is known: nothing can be valid yet.
NO_HANDLER = SchemaError(
    "$", ErrorKind.HANDLER, "no handler chosen: pick the handler this mail is for"
)


@dataclass(frozen=True)
class Limits:
    """How much mail one poll takes in (the settings of the same names).

    A message over `max_message_size` bytes is filed in `failed` unparsed, with a reason naming
    the limit: only its header block is read, for the list. A poll fetches messages while their
    sizes add up to at most `batch_bytes` (always at least one), so a batch of large mail never
    sits in memory at once.
    """

    max_message_size: int = 25 * 1024 * 1024
    batch_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """What became of one message."""

    uid: int
    status: Status
    handler: str | None = None
    reason: str | None = None
    new_uid: int | None = None
    errors: ErrorList = field(default_factory=list)


@dataclass(frozen=True)
class FailedItem:
    summary: Summary
    handler: str | None
    reason: str | None
    failure: str | None = None  # the FailureKind of the reason; None on older rows


@dataclass(frozen=True)
class FailedPage:
    items: list[FailedItem]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Inspection:
    uid: int
    folder: str
    raw: bytes
    extraction: Extraction
    handler: str | None
    reason: str | None
    payload: dict[str, Any] | None  # aliased payload, or the last one an operator submitted
    errors: ErrorList
    schema: dict[str, Any] | None
    message_key: str
    failure: str | None = None  # the FailureKind of `reason`; None on older rows
