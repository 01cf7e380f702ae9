"""A receiver's 2xx may ask for a mail back: composed from the template store's template and
sent through the [smtp] server (a real aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import json
from email import message_from_bytes

from hypothesis import given
from hypothesis import strategies as st

from mailcore.config import Settings
from mailcore.errors import HandlerFailed
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.outcomes import Status
from mailcore.store.history import History
from mailcore.store.template_store import TemplateStore
from mailcore.webhooks.delivery import Attempt, AttemptOutcome
from mailcore.webhooks.handlers import _reason
from mailcore.webhooks.replies import ReplyRequest, ReplySender
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


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    value=JSON
    | st.fixed_dictionaries(
        {"template": st.text(max_size=200)},
        optional={"data": JSON, "to": JSON, "identifier": JSON, "lang": JSON},
    )
)
def test_any_answer_is_a_reply_request_or_a_reason(value: object) -> None:
    try:
        request = ReplyRequest.read(value, "orders")
    except HandlerFailed as exc:
        assert "webhook 'orders' asked for a reply" in str(exc)
        return
    assert len(request.template) <= 128 and isinstance(request.data, dict)
    assert all(isinstance(a, str) for a in request.to) and len(request.to) <= 20


@given(body=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_refusal_body_gives_a_short_reason_or_none(body: bytes) -> None:
    reason = _reason(Attempt(AttemptOutcome.REFUSED, 422, "answered 422", body, 0.0))
    assert reason is None or (0 < len(reason) <= 500 and "\n" not in reason)
