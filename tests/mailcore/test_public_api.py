"""The package root is the public API: its names, and that importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import mailcore

# The API a handler author or integrator writes against. Adding a name is a decision (add it
# here too); removing one breaks somebody's code.
PUBLIC = {
    "Attachment", "ConfigError", "ConnectionLost", "DATABASE_METADATA", "DEFAULT_PAYLOAD_LIMITS",
    "Engine", "Extraction", "Folders", "HandlerContext", "HandlerFailed", "HandlerSpec", "Headers",
    "History", "IdentScheme", "ImapConfig", "ImapMailbox", "Inspection", "Limits",
    "MIN_RETRY_SECONDS", "Mailbox", "MailboxError", "MailcoreError", "MaildirMailbox",
    "MemoryMailbox", "MoveResult", "Outcome", "PayloadInvalid", "PayloadLimits", "PayloadSource",
    "PayloadTooLarge", "ProblemKind", "RegistrationError", "Registry", "RetentionSchedule",
    "RoutingError", "SendError", "Settings", "SmtpConfig", "Summary", "TEMPLATE_NAME", "Template",
    "TemplateConflict", "TemplateError", "TemplateHasErrors", "TemplateProblem", "TemplateStore",
    "TemplateVersion", "UidValidityChanged", "UnknownHandler", "UnknownTemplate",
    "UnsendableValue", "check_payload", "compose", "configured_sender", "extract", "load_json",
    "load_registry", "load_yaml", "message_key", "open_mailbox", "preview", "render",
    "sample_from_schema", "send", "smtp_from_settings", "template_field_problems",
    "sent_folder_setting",
    "Security", "Unwrapper", "Keyring", "KeyStore", "StoredKey", "read_keys", "key_store",
    "seal_message", "security_unwrapper", "language_tag", "recipient_language",
    "OAuthTokenStore", "OAuthTokenState", "TokenHealth", "oauth2_token_store",
    "AutoKind", "BounceReason", "BounceReport", "FeedbackReport", "RecipientReport",
    "BounceSeverity", "bounce_address", "ReplyConfidence", "ForwardedMessage",
    "Ingress", "IngressProvider", "IngressSettings", "Envelope", "PushRequest", "ReplayGuard",
    "store_message", "OutboxStore", "WebhookSecret", "verify_webhook", "webhook_subscriptions",
    "FailureKind",
}  # fmt: skip


def test_the_root_exports_exactly_the_public_api() -> None:
    assert set(mailcore.__all__) == PUBLIC
    assert len(mailcore.__all__) == len(PUBLIC)  # no name listed twice


def test_every_public_name_resolves_to_what_its_module_defines() -> None:
    import importlib

    from mailcore.errors import MailcoreError

    for name in PUBLIC:
        where = mailcore._LAZY.get(name)
        if where is None:  # the errors, imported eagerly
            assert issubclass(getattr(mailcore, name), MailcoreError), name
            continue
        module, _, attr = where.partition(":")
        assert getattr(mailcore, name) is getattr(importlib.import_module(module), attr or name)
    namespace: dict[str, object] = {}
    exec("from mailcore import *", namespace)  # noqa: S102 - the star import users write
    assert set(namespace) >= PUBLIC


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        mailcore.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("mailcore.NoSuchThing resolved")


def test_importing_mailcore_loads_no_database_template_or_imap_library() -> None:
    code = (
        "import sys, mailcore\n"
        "heavy = {'sqlalchemy', 'jinja2', 'imapclient', 'jsonschema', 'bs4', 'markdown'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readmes_handler_test_runs_as_written(tmp_path) -> None:
    from pathlib import Path

    from tests.mailcore.engine_support import registry

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("Testing your handlers needs no mail server") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    namespace: dict[str, object] = {"registry": registry}
    exec(code, namespace)  # noqa: S102 - the README's example, as a reader would paste it
    namespace["test_vehicle_update_is_processed"](tmp_path)  # type: ignore[operator]
