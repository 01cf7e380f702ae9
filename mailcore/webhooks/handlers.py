"""Webhook handlers: a handler of the Registry that is an HTTP endpoint (``[[webhooks.handlers]]``).

Routed, schema-checked and recorded exactly as a Python handler; its call POSTs the mail as JSON
(`request_body`), signed per Standard Webhooks with ``webhook-id`` = the message key. 2xx:
processed (the answer may ask for a reply mail, replies.py); 4xx: failed with the answer's
``{"reason": ...}`` shown to operators; 5xx, 429, timeouts and unreachable: retried with backoff
within the call (never past half the claim lease: settings.py), then failed with what
happened.

Exactly once: the engine marks a handler's success the moment the call returns, so a mail
whose webhook answered 2xx is never posted again -- except when the process dies between the
answer and the mark: the next poll posts it again with the same webhook-id, and the receiver,
which records the ids it answered 2xx to, answers 2xx again without doing it twice. A 4xx
answer must not be recorded as done: an operator may resubmit the mail corrected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailcore.errors import ConfigError, HandlerFailed
from mailcore.processing.vocabulary import FailureKind
from mailcore.webhooks.delivery import Attempt, AttemptOutcome, deliver, describe
from mailcore.webhooks.replies import Replier, ReplyRequest
from mailcore.webhooks.settings import WebhookHandlerConfig, handler_configs

if TYPE_CHECKING:
    from mailcore.config import Settings
    from mailcore.processing.registry import HandlerContext, Registry

__all__ = ["WebhookHandler", "install_handlers", "request_body"]

_MAX_TEXT = 100_000  # characters of the mail's text sent along
_MAX_REASON = 500


_REFUSED = FailureKind.WEBHOOK_REFUSED


def request_body(ctx: HandlerContext) -> dict[str, Any]:
    """What the endpoint receives: the checked payload, the identifier, the mail's facts and
    what was extracted (text, reply confidence, attachments' metadata, never their bytes)."""
    ex = ctx.extraction
    h = ex.headers
    return {
        "handler": ctx.handler,
        "payload": ctx.payload,
        "identifier": ctx.identifier,
        "actor": ctx.actor,
        "message": {
            "key": ctx.message_key,
            "message_id": h.message_id,
            "from": h.from_,
            "to": h.to,
            "cc": h.cc,
            "subject": h.subject,
            "date": h.date.isoformat() if h.date else None,
        },
        "extraction": {
            "text": ex.text[:_MAX_TEXT],
            "reply_confidence": str(ex.reply_confidence),
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in ex.attachments[:100]
            ],
        },
    }


def _reply_json(attempt: Attempt) -> dict[str, Any]:
    try:
        found = json.loads(attempt.body.decode("utf-8", "replace")) if attempt.body else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _reason(attempt: Attempt) -> str | None:
    reason = _reply_json(attempt).get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return None
    reason = " ".join(reason.split())
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"


@dataclass
class WebhookHandler:
    """The HandlerFunc of one webhook handler."""

    config: WebhookHandlerConfig
    replier: Replier | None = None

    def __call__(self, ctx: HandlerContext) -> dict[str, Any]:
        body = json.dumps(  # default=str: a YAML payload's dates go as ISO text
            request_body(ctx), separators=(",", ":"), ensure_ascii=False, default=str
        ).encode()
        attempts = deliver(
            self.config.url, body, [self.config.secret], ctx.message_key, self.config.policy,
            within=self.config.time_limit,
        )  # fmt: skip
        last = attempts[-1]
        name = self.config.name
        if last.outcome is AttemptOutcome.REFUSED:
            reason = _reason(last)
            if reason:
                raise HandlerFailed(
                    f"webhook {name!r} refused the mail: {reason}", failure=_REFUSED
                )
            raise HandlerFailed(
                f"webhook {name!r} {last.detail}, without a reason", failure=_REFUSED
            )
        if not last.delivered:
            raise HandlerFailed(
                f"webhook {name!r} at {self.config.url} failed: {describe(attempts)}; re-run the"
                " mail once the endpoint works",
                failure=FailureKind.WEBHOOK_UNREACHABLE,
            )
        result: dict[str, Any] = {"webhook": name, "status": last.status, "attempts": len(attempts)}
        reply = _reply_json(last).get("reply")
        if reply is not None:
            if self.replier is None:
                raise HandlerFailed(f"webhook {name!r} asked for a reply; no SMTP is configured")
            result["reply_message_id"] = self.replier(ctx, ReplyRequest.read(reply, name))
        return result


def install_handlers(
    registry: Registry, configs: list[WebhookHandlerConfig], replier: Replier | None = None
) -> None:
    """Register the webhook handlers in `registry`, once (a registry shared by several
    mailboxes gets them once); a Python handler of the same name is a ConfigError."""
    for config in configs:
        if config.name in registry:
            if isinstance(registry.get(config.name).func, WebhookHandler):
                continue
            raise ConfigError(
                f"[[webhooks.handlers]] {config.name!r}: a Python handler has that name already"
            )
        registry.add(config.name, WebhookHandler(config, replier), **config.options)


def install_from_settings(
    registry: Registry, settings: Settings, engine: Any, env: Mapping[str, str] | None = None
) -> None:
    """The settings' webhook handlers in `registry`, replies sent with their SMTP server and
    the templates of `engine` (the history database)."""
    section = settings.section("webhooks")
    if not section.get("handlers"):
        return
    from mailcore.webhooks.replies import ReplySender

    configs = handler_configs(section, env, settings.source, settings.claim_lease)
    install_handlers(registry, configs, ReplySender(settings, engine))
