"""Who may push mail: each endpoint's documented request check, and the replay guard (pure).

Every comparison of a secret or a signature is constant-time (`hmac.compare_digest`).

- Bearer tokens (``Authorization: Bearer <token>``) and HTTP Basic credentials: Postmark
  authenticates its webhooks with Basic credentials in the webhook URL
  (https://postmarkapp.com/developer/webhooks/webhooks-overview, "Basic HTTP authentication").
- `MimeSigner`: our own POST /ingress/mime signature, HMAC-SHA256 over
  ``<timestamp>\\n<recipient>\\n<sender>\\n`` and the body, hex in ``X-Mailcore-Signature``,
  fed while the body streams in.
- `mailgun_valid`: HMAC-SHA256 of timestamp + token with the webhook signing key, hex
  (https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks).
- `SendgridVerifier`: Inbound Parse security policies sign the request with ECDSA (P-256,
  SHA-256), the signature base64 in ``X-Twilio-Email-Event-Webhook-Signature`` over the
  ``X-Twilio-Email-Event-Webhook-Timestamp`` value followed by the raw body, checked with the
  policy's public key
  (https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/securing-your-parse-webhooks,
  and the event webhook's verification it shares:
  https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
- `fresh`: a signed timestamp no older (nor further ahead) than `max_age` seconds;
  `ReplayGuard` remembers the signatures of requests whose mail was stored, until they are
  stale anyway, so a captured request cannot be played again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

__all__ = [
    "MimeSigner",
    "ReplayGuard",
    "SendgridVerifier",
    "basic_valid",
    "bearer_valid",
    "fresh",
    "mailgun_valid",
]

MAX_HEADER = 4096


def _same(given: str | bytes, expected: str | bytes) -> bool:
    a = given.encode("utf-8", "surrogateescape") if isinstance(given, str) else given
    b = expected.encode("utf-8", "surrogateescape") if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


def bearer_valid(authorization: str | None, token: str) -> bool:
    """Whether ``Authorization: Bearer <token>`` carries `token`."""
    if not authorization or len(authorization) > MAX_HEADER:
        return False
    scheme, _, given = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and _same(given.strip(), token)


def basic_valid(authorization: str | None, username: str, password: str) -> bool:
    """Whether ``Authorization: Basic ...`` carries `username` and `password`."""
    if not authorization or len(authorization) > MAX_HEADER:
        return False
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, sep, secret = decoded.partition(b":")
    # both compared, whatever the first gives: no early answer to time
    user_ok = _same(user, username.encode("utf-8"))
    secret_ok = _same(secret, password.encode("utf-8"))
    return bool(sep) and user_ok and secret_ok


def fresh(timestamp: str | None, max_age: int, now: float | None = None) -> bool:
    """Whether `timestamp` (Unix seconds) is within `max_age` seconds of now, either way."""
    if not timestamp or len(timestamp) > 20:
        return False
    try:
        when = int(timestamp.strip())
    except ValueError:
        return False
    return abs((time.time() if now is None else now) - when) <= max_age


class MimeSigner:
    """HMAC-SHA256 of one POST /ingress/mime request, fed its body as it streams in."""

    def __init__(self, key: str, timestamp: str, recipient: str, sender: str) -> None:
        self._mac = hmac.new(key.encode("utf-8"), digestmod=hashlib.sha256)
        self._mac.update(f"{timestamp}\n{recipient}\n{sender}\n".encode("utf-8", "replace"))

    def update(self, chunk: bytes) -> None:
        self._mac.update(chunk)

    def valid(self, signature: str | None) -> bool:
        """Whether `signature` (hex, optionally after ``sha256=``) is this request's."""
        if not signature or len(signature) > MAX_HEADER:
            return False
        given = signature.strip().removeprefix("sha256=").lower()
        return _same(given, self._mac.hexdigest())


def mailgun_valid(signing_key: str, timestamp: str, token: str, signature: str) -> bool:
    """Mailgun's check: hex HMAC-SHA256 of timestamp + token under the signing key."""
    if max(len(timestamp), len(token), len(signature)) > MAX_HEADER:
        return False
    expected = hmac.new(
        signing_key.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return _same(signature.strip().lower(), expected)


class SendgridVerifier:
    """SendGrid's ECDSA check of one request, fed its raw body as it streams in."""

    def __init__(self, public_key: str, timestamp: str) -> None:
        self._key = _ec_public_key(public_key)
        self._digest = hashlib.sha256(timestamp.encode("utf-8", "replace"))

    def update(self, chunk: bytes) -> None:
        self._digest.update(chunk)

    def valid(self, signature: str | None) -> bool:
        if not signature or len(signature) > MAX_HEADER:
            return False
        try:
            der = base64.b64decode(signature.strip(), validate=True)
            prehashed = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
            self._key.verify(der, self._digest.digest(), prehashed)
        except (binascii.Error, ValueError, InvalidSignature):
            return False
        return True


def _ec_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The policy's public key: base64 DER (as SendGrid shows it) or PEM."""
    body = text.strip()
    if "BEGIN PUBLIC KEY" in body:
        key = serialization.load_pem_public_key(body.encode())
    else:
        key = serialization.load_der_public_key(base64.b64decode(body))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the SendGrid public key is not an elliptic-curve key")
    return key


class ReplayGuard:
    """Signatures already used, each forgotten `max_age` seconds after it was seen (it is
    stale by then, and refused as such); at most `capacity` of them, oldest out first."""

    def __init__(self, max_age: int, capacity: int = 100_000) -> None:
        self.max_age = max_age
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def used(self, key: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            self._expire(now)
            return key in self._seen

    def remember(self, key: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._seen[key] = now
            self._seen.move_to_end(key)
            self._expire(now)
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._seen:
            key, seen = next(iter(self._seen.items()))
            if now - seen <= 2 * self.max_age:  # a timestamp ahead of us lives that long
                break
            self._seen.popitem(last=False)
