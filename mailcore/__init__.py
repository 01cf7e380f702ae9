"""mailcore: turn partners' e-mails into payloads, and write them conservative replies.

The public API lives here; the subpackages draw the layers behind it:

- `mailcore.inbound`: raw bytes -> `Extraction` (pure: no I/O, nothing of the other layers);
- `mailcore.processing`: the handler `Registry` and the `Engine` (extract, route, validate,
  handle, file, record) with the failed-mail actions the console calls;
- `mailcore.mailboxes`: the `Mailbox` protocol, IMAP, Maildir and an in-memory mailbox;
- `mailcore.store`: the processing `History` and the `TemplateStore` (SQLAlchemy);
- `mailcore.outbound`: templates, `compose`, S/MIME signing and `send`.
- `mailcore.security`: S/MIME and OpenPGP verification, decryption and sealing; the key store.

    from mailcore import Engine, History, Registry, Settings, open_mailbox

Names are imported on first use, so ``import mailcore`` stays cheap (the command line parses a
mail without loading the database or the template engine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mailcore.errors import (
    ConfigError,
    ConnectionLost,
    HandlerFailed,
    MailboxError,
    MailcoreError,
    PayloadInvalid,
    RegistrationError,
    RoutingError,
    SendError,
    TemplateError,
    UidValidityChanged,
    UnknownHandler,
    UnsendableValue,
)

# Public name -> the module that defines it ("module:name" where the module calls it otherwise).
_LAZY: dict[str, str] = {
    # inbound
    "extract": "mailcore.inbound.extract",
    "Extraction": "mailcore.inbound.extract",
    "Attachment": "mailcore.inbound.extract",
    "PayloadSource": "mailcore.inbound.extract",
    "ReplyConfidence": "mailcore.inbound.quoting",
    "ForwardedMessage": "mailcore.inbound.forwards",
    "Headers": "mailcore.inbound.headers",
    "PayloadLimits": "mailcore.inbound.payload",
    "PayloadTooLarge": "mailcore.inbound.payload",
    "DEFAULT_PAYLOAD_LIMITS": "mailcore.inbound.payload:DEFAULT_LIMITS",
    "check_payload": "mailcore.inbound.payload",
    "load_json": "mailcore.inbound.payload",
    "load_yaml": "mailcore.inbound.payload",
    "AutoKind": "mailcore.inbound.automatic",
    "BounceReason": "mailcore.inbound.automatic",
    "BounceReport": "mailcore.inbound.automatic",
    "FeedbackReport": "mailcore.inbound.automatic",
    "RecipientReport": "mailcore.inbound.automatic",
    "BounceSeverity": "mailcore.inbound.automatic:Severity",
    # processing
    "Registry": "mailcore.processing.registry",
    "HandlerContext": "mailcore.processing.registry",
    "HandlerSpec": "mailcore.processing.registry",
    "load_registry": "mailcore.processing.registry",
    "Engine": "mailcore.processing.engine",
    "Limits": "mailcore.processing.engine",
    "Outcome": "mailcore.processing.engine",
    "Inspection": "mailcore.processing.engine",
    "FailureKind": "mailcore.processing.vocabulary",
    "message_key": "mailcore.processing.engine",
    "MIN_RETRY_SECONDS": "mailcore.processing.engine",
    # mailboxes
    "Mailbox": "mailcore.mailboxes.protocol",
    "Summary": "mailcore.mailboxes.protocol",
    "MoveResult": "mailcore.mailboxes.protocol",
    "ImapConfig": "mailcore.mailboxes.imap",
    "ImapMailbox": "mailcore.mailboxes.imap",
    "MaildirMailbox": "mailcore.mailboxes.maildir",
    "MemoryMailbox": "mailcore.mailboxes.memory",
    # store
    "History": "mailcore.store.history",
    "TemplateStore": "mailcore.store.template_store",
    "TemplateVersion": "mailcore.store.template_store:Version",
    "TemplateConflict": "mailcore.store.template_store",
    "TemplateHasErrors": "mailcore.store.template_store",
    "UnknownTemplate": "mailcore.store.template_store",
    "TEMPLATE_NAME": "mailcore.store.template_store:NAME_RE",
    "template_field_problems": "mailcore.store.template_store:field_problems",
    "sample_from_schema": "mailcore.store.template_store",
    "DATABASE_METADATA": "mailcore.store.db:METADATA",
    "RetentionSchedule": "mailcore.store.retention",
    "OAuthTokenStore": "mailcore.store.oauth_tokens",
    "OAuthTokenState": "mailcore.store.oauth_tokens:TokenState",
    "TokenHealth": "mailcore.store.oauth_tokens",
    "oauth2_token_store": "mailcore.oauth2:token_store",
    "OutboxStore": "mailcore.store.outbox",
    # webhooks
    "WebhookSecret": "mailcore.webhooks.signing",
    "verify_webhook": "mailcore.webhooks.signing:verify",
    "webhook_subscriptions": "mailcore.webhooks.settings:subscriptions",
    # outbound
    "Template": "mailcore.outbound.templating",
    "TemplateProblem": "mailcore.outbound.templating:Problem",
    "ProblemKind": "mailcore.outbound.templating",
    "render": "mailcore.outbound.templating",
    "language_tag": "mailcore.outbound.templating",
    "recipient_language": "mailcore.outbound.templating",
    "compose": "mailcore.outbound.compose",
    "preview": "mailcore.outbound.compose",
    "bounce_address": "mailcore.outbound.compose",
    "SmtpConfig": "mailcore.outbound.smtp",
    "send": "mailcore.outbound.smtp",
    "configured_sender": "mailcore.outbound.settings",
    "smtp_from_settings": "mailcore.outbound.settings",
    "sent_folder_setting": "mailcore.outbound.settings",
    # security: S/MIME and OpenPGP, inbound and outbound
    "Security": "mailcore.inbound.model",
    "Unwrapper": "mailcore.security.unwrap",
    "Keyring": "mailcore.security.keyring",
    "KeyStore": "mailcore.store.keys",
    "StoredKey": "mailcore.store.keys",
    "read_keys": "mailcore.security.keyinfo",
    "key_store": "mailcore.security.service",
    "seal_message": "mailcore.security.service",
    "security_unwrapper": "mailcore.security.service:unwrapper",
    # push ingress: an MTA's pipe (mailcore ingest) and the HTTP endpoints
    "Ingress": "mailcore.ingress.http",
    "IngressProvider": "mailcore.ingress.http:Provider",
    "IngressSettings": "mailcore.ingress.settings",
    "PushRequest": "mailcore.ingress.http",
    "ReplayGuard": "mailcore.ingress.signatures",
    "Envelope": "mailcore.ingress.envelope",
    "store_message": "mailcore.ingress.store",
    # configuration and identifiers
    "Settings": "mailcore.config",
    "Folders": "mailcore.config",
    "open_mailbox": "mailcore.config",
    "IdentScheme": "mailcore.ident",
}

__all__ = [
    "Attachment",
    "AutoKind",
    "BounceReason",
    "BounceReport",
    "BounceSeverity",
    "ConfigError",
    "ConnectionLost",
    "DATABASE_METADATA",
    "DEFAULT_PAYLOAD_LIMITS",
    "Engine",
    "Envelope",
    "Extraction",
    "FailureKind",
    "FeedbackReport",
    "Folders",
    "ForwardedMessage",
    "HandlerContext",
    "HandlerFailed",
    "HandlerSpec",
    "Headers",
    "History",
    "Ingress",
    "IngressProvider",
    "IngressSettings",
    "PushRequest",
    "ReplayGuard",
    "store_message",
    "IdentScheme",
    "ImapConfig",
    "ImapMailbox",
    "Inspection",
    "KeyStore",
    "Keyring",
    "Limits",
    "MIN_RETRY_SECONDS",
    "Mailbox",
    "MailboxError",
    "MailcoreError",
    "MaildirMailbox",
    "MemoryMailbox",
    "MoveResult",
    "Outcome",
    "PayloadInvalid",
    "PayloadLimits",
    "PayloadSource",
    "PayloadTooLarge",
    "ProblemKind",
    "RecipientReport",
    "RegistrationError",
    "ReplyConfidence",
    "Registry",
    "RetentionSchedule",
    "RoutingError",
    "Security",
    "SendError",
    "Settings",
    "SmtpConfig",
    "StoredKey",
    "Summary",
    "TEMPLATE_NAME",
    "Template",
    "TemplateConflict",
    "TemplateError",
    "TemplateHasErrors",
    "TemplateProblem",
    "TemplateStore",
    "TemplateVersion",
    "UidValidityChanged",
    "UnknownHandler",
    "UnknownTemplate",
    "UnsendableValue",
    "Unwrapper",
    "bounce_address",
    "check_payload",
    "compose",
    "configured_sender",
    "extract",
    "key_store",
    "language_tag",
    "load_json",
    "load_registry",
    "load_yaml",
    "message_key",
    "open_mailbox",
    "preview",
    "read_keys",
    "recipient_language",
    "render",
    "sample_from_schema",
    "seal_message",
    "security_unwrapper",
    "send",
    "smtp_from_settings",
    "sent_folder_setting",
    "template_field_problems",
    "OAuthTokenState",
    "OAuthTokenStore",
    "TokenHealth",
    "oauth2_token_store",
    "OutboxStore",
    "WebhookSecret",
    "verify_webhook",
    "webhook_subscriptions",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'mailcore' has no attribute {name!r}")
    module, _, attr = where.partition(":")
    value = getattr(importlib.import_module(module), attr or name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from mailcore.config import Folders, Settings, open_mailbox
    from mailcore.ident import IdentScheme
    from mailcore.inbound.extract import Attachment, Extraction, PayloadSource, extract
    from mailcore.inbound.forwards import ForwardedMessage
    from mailcore.inbound.headers import Headers
    from mailcore.inbound.model import Security
    from mailcore.inbound.payload import DEFAULT_LIMITS as DEFAULT_PAYLOAD_LIMITS
    from mailcore.inbound.payload import (
        PayloadLimits,
        PayloadTooLarge,
        check_payload,
        load_json,
        load_yaml,
    )
    from mailcore.inbound.quoting import ReplyConfidence
    from mailcore.ingress.envelope import Envelope
    from mailcore.ingress.http import Ingress, PushRequest
    from mailcore.ingress.http import Provider as IngressProvider
    from mailcore.ingress.settings import IngressSettings
    from mailcore.ingress.signatures import ReplayGuard
    from mailcore.ingress.store import store_message
    from mailcore.mailboxes.imap import ImapConfig, ImapMailbox
    from mailcore.mailboxes.maildir import MaildirMailbox
    from mailcore.mailboxes.memory import MemoryMailbox
    from mailcore.mailboxes.protocol import Mailbox, MoveResult, Summary
    from mailcore.oauth2 import token_store as oauth2_token_store
    from mailcore.outbound.compose import compose, preview
    from mailcore.outbound.settings import configured_sender, smtp_from_settings
    from mailcore.outbound.smtp import SmtpConfig, send
    from mailcore.outbound.templating import Problem as TemplateProblem
    from mailcore.outbound.templating import (
        ProblemKind,
        Template,
        language_tag,
        recipient_language,
        render,
    )
    from mailcore.processing.engine import (
        MIN_RETRY_SECONDS,
        Engine,
        Inspection,
        Limits,
        Outcome,
        message_key,
    )
    from mailcore.processing.registry import HandlerContext, HandlerSpec, Registry, load_registry
    from mailcore.processing.vocabulary import FailureKind
    from mailcore.security.keyinfo import read_keys
    from mailcore.security.keyring import Keyring
    from mailcore.security.service import key_store, seal_message
    from mailcore.security.service import unwrapper as security_unwrapper
    from mailcore.security.unwrap import Unwrapper
    from mailcore.store.db import METADATA as DATABASE_METADATA
    from mailcore.store.history import History
    from mailcore.store.keys import KeyStore, StoredKey
    from mailcore.store.oauth_tokens import OAuthTokenStore, TokenHealth
    from mailcore.store.oauth_tokens import TokenState as OAuthTokenState
    from mailcore.store.outbox import OutboxStore
    from mailcore.store.retention import RetentionSchedule
    from mailcore.store.template_store import NAME_RE as TEMPLATE_NAME
    from mailcore.store.template_store import (
        TemplateConflict,
        TemplateHasErrors,
        TemplateStore,
        UnknownTemplate,
        sample_from_schema,
    )
    from mailcore.store.template_store import Version as TemplateVersion
    from mailcore.store.template_store import field_problems as template_field_problems
    from mailcore.webhooks.settings import subscriptions as webhook_subscriptions
    from mailcore.webhooks.signing import WebhookSecret
    from mailcore.webhooks.signing import verify as verify_webhook
