"""A webhook handler's answer may ask for a mail back: ``{"reply": {"template": NAME, "data":
{...}, "to": [...], "identifier": ..., "lang": ...}}`` (only `template` is required; `to`
defaults to the mail's sender, `identifier` to the mail's). `ReplySender` composes it from the
template store's latest version, signs/encrypts it as ``[security]`` says, sends it through
the ``[smtp]`` server -- the outbound code `mailcore send` uses (no copy is filed in a Sent
folder yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailcore.errors import HandlerFailed

if TYPE_CHECKING:
    import sqlalchemy as sa

    from mailcore.config import Settings
    from mailcore.processing.registry import HandlerContext

__all__ = ["ReplyRequest", "ReplySender", "Replier"]

_MAX_RECIPIENTS = 20


@dataclass(frozen=True)
class ReplyRequest:
    """What a receiver asked to be sent, checked."""

    template: str
    data: dict[str, Any] = field(default_factory=dict)
    to: tuple[str, ...] = ()
    identifier: str | None = None
    lang: str | None = None

    @classmethod
    def read(cls, value: Any, handler: str) -> ReplyRequest:
        """The request of a reply's `reply` member; HandlerFailed naming what is wrong."""
        if not isinstance(value, dict) or not isinstance(value.get("template"), str):
            raise HandlerFailed(f"webhook {handler!r} asked for a reply without a template name")
        to = value.get("to") or ()
        to = (to,) if isinstance(to, str) else to
        data = value.get("data") or {}
        ok = isinstance(data, dict) and isinstance(to, list | tuple) and len(to) <= _MAX_RECIPIENTS
        if not ok or not all(isinstance(a, str) for a in to):
            raise HandlerFailed(
                f"webhook {handler!r} asked for a reply whose data is not an object or whose"
                f" to is not a list of at most {_MAX_RECIPIENTS} addresses"
            )
        ident, lang = value.get("identifier"), value.get("lang")
        return cls(
            value["template"][:128],
            data,
            tuple(to),
            ident if isinstance(ident, str) else None,
            lang if isinstance(lang, str) else None,
        )


# (the mail's context, what was asked) -> the Message-ID of the mail sent
Replier = Callable[["HandlerContext", ReplyRequest], str]


@dataclass
class ReplySender:
    """Sends replies with the settings' SMTP server and the database's templates."""

    settings: Settings
    engine: sa.Engine

    def __call__(self, ctx: HandlerContext, request: ReplyRequest) -> str:
        from mailcore.errors import MailcoreError

        try:
            return self._send(ctx, request)
        except MailcoreError as exc:
            raise HandlerFailed(
                f"the receiver accepted the mail but its reply ({request.template!r}) was not"
                f" sent: {exc}; re-run it to send the reply (the receiver sees the same"
                " webhook-id)"
            ) from exc

    def _send(self, ctx: HandlerContext, request: ReplyRequest) -> str:
        from mailcore.outbound.compose import ComposeOptions, compose
        from mailcore.outbound.settings import smtp_from_settings
        from mailcore.outbound.smtp import send
        from mailcore.outbound.templating import Template
        from mailcore.security.service import seal_message
        from mailcore.store.template_store import TemplateStore

        version = TemplateStore(self.engine).get(request.template)
        template = Template(version.name, version.subject, version.body, dict(version.variants))
        identifier = request.identifier or ctx.identifier
        if not identifier:
            raise HandlerFailed("a reply needs an identifier: the mail has none, give one")
        smtp, sender = smtp_from_settings(self.settings)
        to = list(request.to) or [ctx.sender]
        options: ComposeOptions = {"scheme": self.settings.scheme}
        options["in_reply_to"] = ctx.extraction.headers.message_id
        if request.lang:
            options["lang"] = request.lang
        message = compose(template, request.data, to, identifier, sender=sender, **options)
        send(seal_message(self.settings, message), smtp)
        return str(message["Message-ID"])
