"""The Standard Webhooks format (standardwebhooks.com, spec 1.0.0), symmetric part: the one
place that writes and checks it.

A secret is ``whsec_`` + base64 of at least 24 random bytes (at most 64 here). A delivery
carries three headers: ``webhook-id`` (the same on every retry of one event: the receiver's
idempotency key), ``webhook-timestamp`` (Unix seconds of this attempt) and
``webhook-signature``: space-separated ``v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>``,
one per secret (more than one while a secret is being rotated).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mailcore.errors import ConfigError, MailcoreError

__all__ = [
    "SECRET_PREFIX",
    "TOLERANCE_SECONDS",
    "SignatureInvalid",
    "WebhookSecret",
    "signed_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300  # a timestamp further from now than this is refused by `verify`
_MIN_KEY, _MAX_KEY = 24, 64
# An id or timestamp holding a '.' would make two signed contents alike (the spec forbids it).
_ID = re.compile(r"[A-Za-z0-9_:-]{1,128}")


class SignatureInvalid(MailcoreError):
    """A delivery whose signature, id or timestamp does not check out (`verify`)."""


@dataclass(frozen=True)
class WebhookSecret:
    """A ``whsec_`` secret; the key is never shown by repr."""

    key: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str, where: str = "the webhook secret") -> WebhookSecret:
        """The secret written as ``whsec_<base64>``; ConfigError saying what is wrong."""
        text = text.strip()
        if not text.startswith(SECRET_PREFIX):
            raise ConfigError(
                f"{where} must start with {SECRET_PREFIX!r} (Standard Webhooks); make one with"
                ' `python -c "import mailcore.webhooks.signing as s; print(s.WebhookSecret'
                '.generate())"`'
            )
        try:
            key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{where} is not base64 after {SECRET_PREFIX!r}") from None
        if not _MIN_KEY <= len(key) <= _MAX_KEY:
            raise ConfigError(
                f"{where} holds {len(key)} bytes; Standard Webhooks wants {_MIN_KEY} to"
                f" {_MAX_KEY} random bytes"
            )
        return cls(key)

    @classmethod
    def generate(cls) -> str:
        """A new secret, as it is written in the settings."""
        return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()

    def signature(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """``v1,<base64>`` of this delivery."""
        content = f"{msg_id}.{timestamp}.".encode() + body
        digest = hmac.new(self.key, content, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()


def _checked_id(msg_id: str) -> str:
    if not _ID.fullmatch(msg_id):
        raise ValueError(f"a webhook id is 1-128 of A-Z a-z 0-9 _ : -, not {msg_id[:40]!r}")
    return msg_id


def signed_headers(
    secrets_: Sequence[WebhookSecret], msg_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of one delivery attempt of `body` (timestamp: now)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    msg_id = _checked_id(msg_id)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": " ".join(s.signature(msg_id, stamp, body) for s in secrets_),
        "content-type": "application/json",
    }


def verify(
    secret: WebhookSecret,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """The webhook-id of a delivery whose headers check out; SignatureInvalid otherwise.
    `headers`: looked up in lower case (a dict of lower-cased names, or a case-insensitive
    mapping such as requests' or werkzeug's)."""
    msg_id = headers.get("webhook-id") or ""
    stamp = headers.get("webhook-timestamp") or ""
    if not _ID.fullmatch(msg_id) or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureInvalid("webhook-id or webhook-timestamp missing or malformed")
    moment = time.time() if now is None else now
    if abs(moment - int(stamp)) > tolerance:
        raise SignatureInvalid(f"webhook-timestamp {stamp} is more than {tolerance}s away")
    expected = secret.signature(msg_id, int(stamp), body)
    given = (headers.get("webhook-signature") or "").split()[:16]
    if not any(hmac.compare_digest(expected, g) for g in given):
        raise SignatureInvalid("no webhook-signature matches the secret")
    return msg_id
