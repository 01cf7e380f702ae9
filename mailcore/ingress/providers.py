"""The provider webhooks' bodies and checks: Mailgun and SendGrid forms, Postmark's JSON.

Each reader returns (the spooled message, its envelope, the signature to remember once it is
stored) or raises `Refused` with the HTTP status to answer. The documents followed are cited
in `mailcore.ingress.http` and `mailcore.ingress.signatures`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from mailcore.errors import MailcoreError
from mailcore.ingress.envelope import Envelope
from mailcore.ingress.form import FormInvalid, StreamedForm, boundary_of
from mailcore.ingress.settings import IngressSettings
from mailcore.ingress.signatures import (
    ReplayGuard,
    SendgridVerifier,
    basic_valid,
    fresh,
    mailgun_valid,
)
from mailcore.ingress.spool import Spool

if TYPE_CHECKING:
    from mailcore.ingress.http import PushRequest

__all__ = ["Refused", "bounded_json", "check_basic", "mailgun", "sendgrid"]

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="mailcore ingress"'}
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


class Refused(MailcoreError):
    """A request answered with `status` and this message."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


def check_basic(request: PushRequest, username: str, password: str | None) -> None:
    if not password or not basic_valid(request.headers.get("Authorization"), username, password):
        raise Refused(401, "wrong or missing Basic credentials", BASIC_CHALLENGE)


def bounded_read(body: Iterable[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    for chunk in body:
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the request is over {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def bounded_json(request: PushRequest, limit: int) -> dict[str, Any]:
    """The JSON object of the body (in memory: Postmark posts JSON only)."""
    try:
        data = json.loads(bounded_read(request.body, limit))
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is not a JSON object")
    return data


def _form(
    request: PushRequest, wanted: str, settings: IngressSettings, feed: Any = None
) -> tuple[dict[str, str], Spool | None]:
    """The small fields and the spooled `wanted` field of a multipart (streamed) or
    urlencoded (read in memory, bounded) body; `feed(chunk)` sees every raw chunk."""
    kind = (request.content_type or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        body = bounded_read(request.body, 2 * settings.max_size)
        if feed is not None:
            feed(body)
        # latin-1 both ways: the message's bytes come back exactly as they were escaped
        pairs = parse_qsl(body.decode("latin-1"), encoding="latin-1")
        fields = {k: v.encode("latin-1") for k, v in pairs}
        raw = fields.pop(wanted, None)
        spool = Spool(settings.max_size).extend([raw]) if raw else None
        return {k: v[:4096].decode("utf-8", "replace") for k, v in fields.items()}, spool
    form = StreamedForm(boundary_of(request.content_type), wanted, settings.max_size)
    try:
        for chunk in request.body:
            if feed is not None:
                feed(chunk)
            form.feed(chunk)
        form.close()
    except BaseException:
        form.discard()
        raise
    return form.fields, form.message


def _spooled(message: Spool | None, what: str) -> Spool:
    if message is None:
        raise Refused(400, what)
    return message


def mailgun(
    settings: IngressSettings, guard: ReplayGuard, request: PushRequest
) -> tuple[Spool, Envelope, str | None]:
    """A Mailgun route's forward() to a URL ending in ``mime``."""
    fields, message = _form(request, "body-mime", settings)
    try:
        timestamp = fields.get("timestamp", "")
        token = fields.get("token", "")
        signature = fields.get("signature", "")
        key = settings.mailgun_signing_key or ""
        if not (token and mailgun_valid(key, timestamp, token, signature)):
            raise Refused(401, "the Mailgun signature does not match (webhook signing key?)")
        if not fresh(timestamp, settings.max_age):
            raise Refused(401, f"the Mailgun timestamp is over {settings.max_age}s away")
        if guard.used("mailgun:" + token):
            raise Refused(409, "this Mailgun token was used already")
        spool = _spooled(message, "no body-mime: the route's URL must end in 'mime'")
        envelope = Envelope(fields.get("recipient") or None, fields.get("sender"))
    except BaseException:
        if message is not None:
            message.close()
        raise
    return spool, envelope, "mailgun:" + token


def sendgrid(
    settings: IngressSettings, guard: ReplayGuard, request: PushRequest
) -> tuple[Spool, Envelope, str | None]:
    """SendGrid Inbound Parse, raw: Basic credentials and/or the signature policy."""
    if settings.sendgrid_password:
        check_basic(request, settings.sendgrid_username, settings.sendgrid_password)
    verifier, signature = _sendgrid_verifier(settings, request)
    fields, message = _form(request, "email", settings, verifier.update if verifier else None)
    try:
        if verifier is not None and not verifier.valid(signature):
            raise Refused(401, "the SendGrid signature does not match (policy's public key?)")
        if signature is not None and guard.used("sendgrid:" + signature):
            raise Refused(409, "this SendGrid signature was used already")
        spool = _spooled(message, "no email field: turn on 'POST the raw, full MIME message'")
        envelope = _sendgrid_envelope(fields.get("envelope"))
    except BaseException:
        if message is not None:
            message.close()
        raise
    return spool, envelope, "sendgrid:" + signature if signature else None


def _sendgrid_verifier(
    settings: IngressSettings, request: PushRequest
) -> tuple[SendgridVerifier | None, str | None]:
    if not settings.sendgrid_public_key:
        return None, None
    signature = request.headers.get(SENDGRID_SIGNATURE)
    timestamp = request.headers.get(SENDGRID_TIMESTAMP) or ""
    if not signature:
        raise Refused(401, f"no {SENDGRID_SIGNATURE} header")
    if not fresh(timestamp, settings.max_age):
        raise Refused(401, f"{SENDGRID_TIMESTAMP} is missing or over {settings.max_age}s away")
    try:
        return SendgridVerifier(settings.sendgrid_public_key, timestamp), signature.strip()
    except ValueError:
        raise Refused(503, "[ingress] sendgrid_public_key is not a public key") from None


def _sendgrid_envelope(text: str | None) -> Envelope:
    """``envelope`` is JSON: {"to": ["rcpt@..."], "from": "sender@..."}."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        raise FormInvalid("the envelope field is not JSON") from None
    to = data.get("to") if isinstance(data, dict) else None
    sender = data.get("from") if isinstance(data, dict) else None
    recipient = to[0] if isinstance(to, list) and to and isinstance(to[0], str) else None
    return Envelope(recipient, sender if isinstance(sender, str) else None)
