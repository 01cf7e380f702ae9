"""The closed vocabularies of processing, one owner each: what became of a message (`Status`),
how it reached its handler (`RouteVia`), what kind of failure filed it in `failed`
(`FailureKind`, recorded beside the English reason so the console can name it in the reader's
language), what a schema error is about (`ErrorKind`) and the
structured `SchemaError` record the registry produces, the engine carries, the history stores
(as a JSON object) and the console places on field rows. `EventKind`, the kinds of event the
history logs, is owned by mailcore.store.records (the store cannot import processing) and
re-exported here.

Each vocabulary is a StrEnum: a member equals its string, so rows stored as text and templates
comparing with literals keep working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mailcore.store.records import EventKind

__all__ = [
    "ErrorKind",
    "ErrorList",
    "EventKind",
    "FailureKind",
    "RouteVia",
    "SchemaError",
    "Status",
    "as_schema_errors",
]


class Status(StrEnum):
    """What became of a message; equal to its string, as the history and the console hold it."""

    PROCESSED = "processed"
    FAILED = "failed"
    AUTO = "auto"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class RouteVia(StrEnum):
    """How a message reached its handler (the "routed" event's reason says "by <via>")."""

    PREFIX = "prefix"  # the identifier's prefix
    SUBADDRESS = "subaddress"  # a recipient's +subaddress
    SUBJECT = "subject"  # a subject keyword
    MATCH = "match"  # a handler's match(extraction) callable
    DEFAULT = "default"  # the default handler
    OPERATOR = "operator"  # the handler an operator picked when resubmitting
    HISTORY = "history"  # a rerun: the handler the history recorded


class FailureKind(StrEnum):
    """Why a message was filed in `failed`, as code and the console tell it apart (the reason
    beside it is the detail: the engine's English, or a handler's own words). Stored in the
    `failure` columns of mc_messages and mc_events (migration 0006); a row written before has
    none. A handler may name one: `HandlerFailed(message, failure=FailureKind.X)`."""

    NO_HANDLER = "no_handler"  # no identifier, subaddress, keyword or route took it
    UNKNOWN_IDENTIFIER = "unknown_identifier"  # an identifier no handler's prefix takes
    UNKNOWN_HANDLER = "unknown_handler"  # an operator picked a handler that is not registered
    TOO_LARGE = "too_large"  # over max_message_size: not parsed
    UNDECRYPTED = "undecrypted"  # encrypted, and no key opened it
    SIGNATURE_REQUIRED = "signature_required"  # the handler wants a valid, trusted signature
    REPLY_UNSURE = "reply_unsure"  # the reply cut is less sure than the handler wants
    NO_PAYLOAD = "no_payload"  # no JSON part, YAML/JSON document or key: value lines
    PAYLOAD_LIMITS = "payload_limits"  # the payload is over the payload limits
    SCHEMA = "schema"  # the payload does not match the handler's schema
    HANDLER_REFUSED = "handler_refused"  # the handler raised HandlerFailed: its own words
    HANDLER_ERROR = "handler_error"  # the handler raised another exception
    WEBHOOK_REFUSED = "webhook_refused"  # a webhook handler's endpoint answered 4xx
    WEBHOOK_UNREACHABLE = "webhook_unreachable"  # its retries were spent without delivery
    INTERNAL = "internal"  # a bug in extraction or the engine

    @classmethod
    def unrouted(cls, identifier: str | None, *, by_operator: bool) -> FailureKind:
        """Why no handler took a message: the operator's unknown handler, or the mail's."""
        if by_operator:
            return cls.UNKNOWN_HANDLER
        return cls.UNKNOWN_IDENTIFIER if identifier else cls.NO_HANDLER

    @classmethod
    def of_schema(cls, errors: Sequence[SchemaError]) -> FailureKind:
        """PAYLOAD_LIMITS for a payload only over its limits, SCHEMA otherwise."""
        limits = all(e.kind == ErrorKind.LIMIT for e in errors)
        return cls.PAYLOAD_LIMITS if limits else cls.SCHEMA

    @classmethod
    def of(cls, value: object) -> FailureKind | None:
        """The kind a row holds, None for none or one of another version."""
        return cls(value) if isinstance(value, str) and value in _FAILURES else None


_FAILURES = frozenset(str(k) for k in FailureKind)


class ErrorKind(StrEnum):
    """What a schema error is about."""

    REQUIRED = "required"  # a property is missing: `key` names it, `path` is where it belongs
    UNKNOWN = "unknown"  # keys the schema does not allow: `keys`; a misspelling: `suggestion`
    TYPE = "type"
    FORMAT = "format"
    PATTERN = "pattern"
    ENUM = "enum"  # enum or const
    RANGE = "range"  # minimum/maximum, lengths, item and property counts, multipleOf
    LIMIT = "limit"  # over the payload limits (mailcore.inbound.payload)
    HANDLER = "handler"  # no handler chosen, or an unknown one: nothing can be valid
    OTHER = "other"


# jsonschema's validator keyword -> the kind of its errors.
_KINDS = {
    "required": ErrorKind.REQUIRED,
    "additionalProperties": ErrorKind.UNKNOWN,
    "type": ErrorKind.TYPE,
    "format": ErrorKind.FORMAT,
    "pattern": ErrorKind.PATTERN,
    "enum": ErrorKind.ENUM,
    "const": ErrorKind.ENUM,
    **dict.fromkeys(
        ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
         "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"),
        ErrorKind.RANGE,
    ),
}  # fmt: skip
_VALUES = frozenset(ErrorKind)


@dataclass(frozen=True)
class SchemaError:
    """One thing wrong with a payload, at a JSON path (``$.owner.name``).

    `message` is the text operators read; the other fields say the same for code: `kind`,
    `key` (the missing property, or the unknown key a `suggestion` is for) and `keys` (the
    unknown keys an UNKNOWN error lists).
    """

    path: str
    kind: ErrorKind
    message: str
    key: str | None = None
    suggestion: str | None = None
    keys: tuple[str, ...] = ()

    @staticmethod
    def kind_of(validator: str) -> ErrorKind:
        """The kind of a jsonschema error by its validator keyword."""
        return _KINDS.get(validator, ErrorKind.OTHER)

    @classmethod
    def from_pair(cls, path: str, message: str) -> SchemaError:
        """A (json-path, message) pair as a record: how the previous version stored errors and
        how `PayloadInvalid.errors` holds them. Only a missing property ("is required" at its
        own path) is told apart; the message is kept as it is."""
        if message == "is required":
            return cls(path, ErrorKind.REQUIRED, message)
        return cls(path, ErrorKind.OTHER, message)

    @classmethod
    def from_json(cls, value: Any) -> SchemaError:
        """A record from its JSON object (`as_json`), or from an old [path, message] pair."""
        if isinstance(value, SchemaError):
            return value
        if isinstance(value, Mapping):
            kind = value.get("kind")
            return cls(
                str(value.get("path", "$")),
                ErrorKind(kind) if kind in _VALUES else ErrorKind.OTHER,
                str(value.get("message", "")),
                value.get("key"),
                value.get("suggestion"),
                tuple(value.get("keys") or ()),
            )
        path, message = value
        return cls.from_pair(str(path), str(message))

    def as_json(self) -> dict[str, Any]:
        """The record as a JSON object (only the fields set), as the history stores it."""
        out: dict[str, Any] = {"path": self.path, "kind": str(self.kind), "message": self.message}
        if self.key is not None:
            out["key"] = self.key
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        if self.keys:
            out["keys"] = list(self.keys)
        return out

    @property
    def pair(self) -> tuple[str, str]:
        """(path, message), the form of the previous version."""
        return self.path, self.message


ErrorList = list[SchemaError]


def as_schema_errors(errors: Sequence[Any] | None) -> ErrorList:
    """Records from records, JSON objects or (path, message) pairs (old rows, PayloadInvalid)."""
    return [SchemaError.from_json(e) for e in errors or ()]
