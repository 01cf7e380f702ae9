"""`Ingress.receive`: one HTTP push (raw MIME or a provider's webhook) to a stored message.

Sans-IO: the web layer (console/ingress.py) hands over the request's headers and its body as
chunks (`PushRequest`), and sends back the `Answer`. What each endpoint checks and reads:

- ``mime``: the raw message as the body (``Content-Type: message/rfc822``), the envelope in
  ``X-Mailcore-Recipient`` / ``X-Mailcore-Sender``; ``Authorization: Bearer <mime_token>``,
  or an HMAC-SHA256 (`signatures.MimeSigner`) in ``X-Mailcore-Signature`` with
  ``X-Mailcore-Timestamp``;
- ``postmark``: Postmark's inbound JSON with ``RawEmail`` (the server's "Include raw email
  content in JSON payload" option) and ``OriginalRecipient``, Basic credentials
  (https://postmarkapp.com/developer/webhooks/inbound-webhook);
- ``mailgun``: a route's forward() to a URL ending in ``mime``, which posts ``body-mime``,
  ``recipient``, ``sender`` and the signed ``timestamp``/``token``/``signature``
  (https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http);
- ``sendgrid``: Inbound Parse with "POST the raw, full MIME message": ``email`` and the JSON
  ``envelope`` (https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/setting-up-the-inbound-parse-webhook),
  Basic credentials and/or the security policy's ECDSA signature.

Answers: 200 once the mailbox confirmed the message; 401 for a wrong secret or signature or a
stale timestamp; 409 for a signature already used; 413 over `max_size`; 400/415 for a body
that is not what the endpoint takes; 503 with Retry-After when the mailbox did not store it
(the provider retries); 404 for an endpoint whose secret is not set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from mailcore.ingress import providers
from mailcore.ingress.envelope import Envelope, EnvelopeInvalid
from mailcore.ingress.form import FormInvalid
from mailcore.ingress.providers import Refused
from mailcore.ingress.settings import IngressSettings
from mailcore.ingress.signatures import MimeSigner, ReplayGuard, bearer_valid, fresh
from mailcore.ingress.spool import MessageTooLarge, Spool
from mailcore.ingress.store import EmptyMessage, StoreUnavailable, store_message
from mailcore.mailboxes.protocol import Mailbox

__all__ = ["Answer", "Ingress", "Provider", "PushRequest"]

RETRY_AFTER = "60"


class Provider(StrEnum):
    """The push endpoints, by the path segment after /ingress/."""

    MIME = "mime"
    POSTMARK = "postmark"
    MAILGUN = "mailgun"
    SENDGRID = "sendgrid"


class HeaderMap(Protocol):
    """Case-insensitive header lookup (werkzeug's Headers, or a dict in lower case)."""

    def get(self, key: str) -> str | None: ...


@dataclass(frozen=True)
class PushRequest:
    """What the web layer passes on: case-insensitive headers and the body's chunks."""

    headers: HeaderMap
    body: Iterable[bytes]
    content_type: str | None = None
    content_length: int | None = None


@dataclass(frozen=True)
class Answer:
    """The HTTP answer: status, a short text (never the mail's content), extra headers."""

    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    uid: int | None = None


class Ingress:
    """The push endpoints on one mailbox's inbox (see the module docstring)."""

    def __init__(
        self,
        settings: IngressSettings,
        mailbox: Mailbox,
        folder: str = "INBOX",
        guard: ReplayGuard | None = None,
    ) -> None:
        self.settings = settings
        self.mailbox = mailbox
        self.folder = folder
        self.guard = guard if guard is not None else ReplayGuard(settings.max_age)

    @property
    def request_limit(self) -> int:
        """The most a request body may hold: the message, and a provider's other fields."""
        return 2 * self.settings.max_size + 1024 * 1024

    def enabled(self, provider: Provider) -> bool:
        s = self.settings
        return bool(
            {
                Provider.MIME: s.mime_token or s.mime_hmac_key,
                Provider.POSTMARK: s.postmark_password,
                Provider.MAILGUN: s.mailgun_signing_key,
                Provider.SENDGRID: s.sendgrid_password or s.sendgrid_public_key,
            }[provider]
        )

    def receive(self, provider: Provider, request: PushRequest) -> Answer:
        """Check, spool and store one pushed message; the answer to send back."""
        if not self.enabled(provider):
            return Answer(404, f"/ingress/{provider} is off: its secret is not configured")
        if request.content_length is not None and request.content_length > self.request_limit:
            return Answer(413, str(MessageTooLarge(self.settings.max_size)))
        reader: Callable[[PushRequest], tuple[Spool, Envelope, str | None]] = {
            Provider.MIME: self._mime,
            Provider.POSTMARK: self._postmark,
            Provider.MAILGUN: lambda r: providers.mailgun(self.settings, self.guard, r),
            Provider.SENDGRID: lambda r: providers.sendgrid(self.settings, self.guard, r),
        }[provider]
        try:
            spool, envelope, used = reader(request)
        except Refused as exc:
            return Answer(exc.status, str(exc), exc.headers)
        except MessageTooLarge as exc:
            return Answer(413, str(exc))
        except (EnvelopeInvalid, FormInvalid) as exc:
            return Answer(400, str(exc))
        with spool:
            return self._store(spool, envelope, used)

    def _store(self, spool: Spool, envelope: Envelope, used: str | None) -> Answer:
        try:
            uid = store_message(self.mailbox, self.folder, spool, envelope)
        except EmptyMessage as exc:
            return Answer(400, str(exc))
        except StoreUnavailable as exc:
            return Answer(503, f"not stored, try again later: {exc}", {"Retry-After": RETRY_AFTER})
        if used is not None:
            self.guard.remember(used)
        return Answer(200, "stored", uid=uid)

    def _mime(self, request: PushRequest) -> tuple[Spool, Envelope, str | None]:
        kind = (request.content_type or "").split(";")[0].strip().lower()
        if kind not in ("message/rfc822", "application/octet-stream"):
            raise Refused(415, "POST the raw message as message/rfc822")
        headers = request.headers
        recipient = headers.get("X-Mailcore-Recipient")
        sender = headers.get("X-Mailcore-Sender")
        envelope = Envelope(recipient, sender)
        signer, signature = self._mime_signer(headers, recipient or "", sender or "")
        spool = Spool(self.settings.max_size)
        try:
            for chunk in request.body:
                if signer is not None:
                    signer.update(chunk)
                spool.write(chunk)
            if signer is not None and not signer.valid(signature):
                raise Refused(401, "the X-Mailcore-Signature does not match the body")
            if signature is not None and self.guard.used(signature):
                raise Refused(409, "this signature was used already: sign each request anew")
        except BaseException:
            spool.close()
            raise
        return spool, envelope, signature

    def _mime_signer(
        self, headers: HeaderMap, recipient: str, sender: str
    ) -> tuple[MimeSigner | None, str | None]:
        s = self.settings
        authorization = headers.get("Authorization")
        if s.mime_token and bearer_valid(authorization, s.mime_token):
            return None, None
        signature = headers.get("X-Mailcore-Signature")
        timestamp = headers.get("X-Mailcore-Timestamp") or ""
        if not s.mime_hmac_key or not signature:
            raise Refused(401, "a bearer token or an X-Mailcore-Signature is needed")
        if not fresh(timestamp, s.max_age):
            raise Refused(401, f"X-Mailcore-Timestamp is missing or over {s.max_age}s away")
        return MimeSigner(s.mime_hmac_key, timestamp, recipient, sender), signature.strip()

    def _postmark(self, request: PushRequest) -> tuple[Spool, Envelope, str | None]:
        providers.check_basic(
            request, self.settings.postmark_username, self.settings.postmark_password
        )
        data = providers.bounded_json(request, self.request_limit)
        raw = data.get("RawEmail")
        if not isinstance(raw, str) or not raw:
            raise Refused(
                400, "no RawEmail: turn on the inbound stream's 'Include raw email content'"
            )
        recipient = data.get("OriginalRecipient")
        envelope = Envelope(recipient if isinstance(recipient, str) and recipient else None)
        spool = Spool(self.settings.max_size)
        try:
            spool.write(raw.encode("utf-8", "surrogateescape"))
        except BaseException:
            spool.close()
            raise
        return spool, envelope, None
