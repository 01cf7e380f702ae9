"""A receiver's 2xx may ask for a mail back: composed from the template store's template and
sent through the [smtp] server (a real aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

from email import message_from_bytes

from mailcore.config import Settings
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.outcomes import Status
from mailcore.store.history import History
from mailcore.store.template_store import TemplateStore
from mailcore.webhooks.replies import ReplySender
from tests.mailcore.smtp_server import smtp_server
from tests.mailcore.webhooks.conftest import EngineFactory
from tests.mailcore.webhooks.test_handlers import order_mail
from tests.webhook_receiver import WebhookReceiver


def _settings(host: str, port: int) -> Settings:
    return Settings.from_mapping(
        {
            "smtp": {"url": f"smtp://{host}:{port}?security=plain", "sender": "ops@acme.example"},
            "ident": {"domain": "acme.example"},
        }
    )


def test_a_reply_asked_for_is_composed_and_sent(
    webhook_engine: EngineFactory,
    receiver: WebhookReceiver,
    maildir: MaildirMailbox,
    history: History,
) -> None:
    TemplateStore(history.engine).save(
        "order-ok", "Order {{ qty }} confirmed", "We got {{ qty }} items.\n", {"qty": 1},
        "first", "test",
    )  # fmt: skip
    reply = {"template": "order-ok", "data": {"qty": 3}}
    receiver.script((200, {"reply": reply}))
    with smtp_server() as smtp:
        replier = ReplySender(_settings(smtp.host, smtp.port), history.engine)
        maildir.append("INBOX", order_mail())
        [outcome] = webhook_engine(receiver.url, replier).poll_once()
        assert outcome.status == Status.PROCESSED
        [sent] = smtp.recorder.messages
    assert sent.rcpt_tos == ["alice@example.org"]  # the mail's sender by default
    mail = message_from_bytes(sent.data)
    assert mail["Subject"] == "[ORD-7] Order 3 confirmed"  # the mail's identifier
    assert mail["In-Reply-To"] and mail["In-Reply-To"] in order_mail_ids(history, maildir)
    [event] = [e for e in history.timeline(outcome_key(history, maildir)) if e.kind == "handled"]
    assert event.after is not None and event.after["reply_message_id"] == mail["Message-ID"]


def test_a_reply_that_cannot_be_sent_fails_the_mail_saying_so(
    webhook_engine: EngineFactory,
    receiver: WebhookReceiver,
    maildir: MaildirMailbox,
    history: History,
) -> None:
    receiver.script((200, {"reply": {"template": "missing"}}))
    replier = ReplySender(Settings.from_mapping({}), history.engine)
    maildir.append("INBOX", order_mail())
    [outcome] = webhook_engine(receiver.url, replier).poll_once()
    assert outcome.status == Status.FAILED
    assert "accepted the mail but its reply ('missing') was not sent" in (outcome.reason or "")


def order_mail_ids(history: History, maildir: MaildirMailbox) -> list[str]:
    return [str(history.state(outcome_key(history, maildir)).message_id)]  # type: ignore[union-attr]


def outcome_key(history: History, maildir: MaildirMailbox) -> str:
    uid = maildir.uids("processed")[0]
    return history.states_at("processed", maildir.uidvalidity("processed"), [uid])[uid].message_key
