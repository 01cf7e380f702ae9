"""The extraction model: what `extract` finds in one message, and its JSON form.

`Extraction` is the result (headers, payload, visible text, attachments, identifier, auto-reply
verdict, defects); `PayloadSource` and `IdentifierSource` say where the payload and the
identifier were found; `Attachment` is a non-body part whose bytes are decoded only when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from mailcore.inbound.automatic import AutoKind, BounceReport, FeedbackReport
from mailcore.inbound.forwards import ForwardedMessage
from mailcore.inbound.headers import Headers
from mailcore.inbound.quoting import ReplyConfidence

__all__ = ["Attachment", "Extraction", "IdentifierSource", "PayloadSource", "Security"]


class PayloadSource(StrEnum):
    """Where the payload was found."""

    JSON_PART = "json-part"
    TEXT_DOCUMENT = "text-document"  # YAML or JSON document in the text
    KEY_LINES = "key-lines"
    OVER_LIMITS = "over-limits"  # found but refused by the PayloadLimits: defects[0] says why
    NONE = "none"


class IdentifierSource(StrEnum):
    """Where the identifier was found (a StrEnum: it equals its text, "subject"...)."""

    SUBADDRESS = "subaddress"  # the +tag of a To, Delivered-To or Cc address
    SUBJECT = "subject"  # a [REF] tag in the Subject
    REFERENCES = "references"  # In-Reply-To / References, or the returned headers of a bounce
    BOUNCE_ADDRESS = "bounce-address"  # the VERP address a bounce was sent to (mailcore.ident)


@dataclass(frozen=True)
class Security:
    """What `mailcore.security` found and undid: a signature (S/MIME or OpenPGP), encryption.

    `signer` is the certificate's subject or the OpenPGP key's fingerprint, `signer_email` its
    address; `reason` says why a signed mail is not valid or not trusted, or why an encrypted
    one was not decrypted; `layers` lists what was unwrapped, outermost first.
    """

    signed: bool = False
    scheme: str | None = None  # "smime" | "openpgp"
    signer: str | None = None
    signer_email: str | None = None
    matches_from: bool = False
    valid: bool = False
    trusted: bool = False
    encrypted: bool = False
    decrypted: bool = False
    reason: str | None = None
    layers: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        """A valid, trusted signature whose address is the sender's."""
        return self.signed and self.valid and self.trusted and self.matches_from

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"layers": list(self.layers)}


def _no_data() -> bytes:
    return b""


@dataclass(frozen=True)
class Attachment:
    """A non-body part; `data()` decodes its transfer encoding only when called."""

    filename: str | None
    content_type: str
    size: int
    content_id: str | None
    inline: bool
    _loader: Callable[[], bytes] = field(default=_no_data, repr=False, compare=False)

    def data(self) -> bytes:
        """The decoded bytes of the part."""
        return self._loader()

    def to_json(self) -> dict[str, Any]:
        """The metadata, never the bytes."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.repr}


@dataclass
class Extraction:
    """Everything found in one inbound message."""

    headers: Headers
    payload: dict[str, Any] | None
    payload_source: PayloadSource
    text: str  # visible text: signature and quoted history removed
    signature: str
    quoted: str
    html: str | None  # the raw HTML of the first text/html part, if any
    text_from_html: bool  # True when `text` came from HTML (no text/plain)
    attachments: list[Attachment]  # inline images included, with inline=True
    identifier: str | None
    identifier_source: IdentifierSource | None
    auto_reply: bool
    auto_reply_reason: str | None
    defects: list[str]
    # How sure the cut between `text` and `quoted` is, and why (mailcore.inbound.quoting).
    reply_confidence: ReplyConfidence = ReplyConfidence.CERTAIN
    reply_confidence_reason: str = "nothing quoted"
    forwarded: ForwardedMessage | None = None  # the message a forward passed on, if any
    security: Security | None = None  # set by mailcore.security on signed or encrypted mail
    auto_kind: AutoKind | None = None  # bounce / vacation / feedback-report / other, if automatic
    bounce: BounceReport | None = None  # a bounce's per-recipient records (mailcore.inbound.dsn)
    feedback: FeedbackReport | None = None  # an RFC 5965 complaint's fields

    @property
    def inline_images(self) -> list[Attachment]:
        return [a for a in self.attachments if a.inline and a.content_type.startswith("image/")]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (attachment metadata only, never their bytes)."""
        return {
            "headers": self.headers.to_json(),
            "payload": _jsonable(self.payload),
            "payload_source": self.payload_source.value,
            "text": self.text,
            "signature": self.signature,
            "quoted": self.quoted,
            "html": self.html,
            "text_from_html": self.text_from_html,
            "attachments": [a.to_json() for a in self.attachments],
            "identifier": self.identifier,
            "identifier_source": (
                None if self.identifier_source is None else self.identifier_source.value
            ),
            "auto_reply": self.auto_reply,
            "auto_reply_reason": self.auto_reply_reason,
            "defects": self.defects,
            "reply_confidence": self.reply_confidence.value,
            "reply_confidence_reason": self.reply_confidence_reason,
            "forwarded": None if self.forwarded is None else self.forwarded.to_json(),
        } | self._optional_json()

    def _optional_json(self) -> dict[str, Any]:
        """The fields present only when they apply: security, the automatic-mail records."""
        out: dict[str, Any] = {}
        if self.security is not None:
            out["security"] = self.security.to_json()
        if self.auto_kind is not None:
            out["auto_kind"] = self.auto_kind.value
            out["bounce"] = None if self.bounce is None else self.bounce.to_json()
            out["feedback"] = None if self.feedback is None else self.feedback.to_json()
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
