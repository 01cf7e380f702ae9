"""Webhook handlers against a real receiver on 127.0.0.1: the mail posted signed, 2xx
processed, a 4xx's reason shown, 5xx and timeouts retried, a wrong secret refused by the
receiver's own check, and the same webhook-id whenever a mail is posted again."""

from __future__ import annotations

import time

import pytest

from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine
from mailcore.processing.outcomes import Status
from mailcore.processing.registry import Registry
from mailcore.store.history import History
from mailcore.webhooks.outbox import OutboxWriter
from mailcore.webhooks.settings import handler_configs
from mailcore.webhooks.signing import WebhookSecret
from tests.mailcore.webhooks.conftest import SECRET_ENV, EngineFactory, entry
from tests.servers import message
from tests.webhook_receiver import Answer, WebhookReceiver


def order_mail(qty: str = "3", ident: str = "ORD-7") -> bytes:
    return message(subject=f"[{ident}] Order", body=f"qty: {qty}\r\n\r\nThanks\r\n")


def _reason(history: History, maildir: MaildirMailbox) -> str:
    uid = maildir.uids("failed")[0]
    state = history.states_at("failed", maildir.uidvalidity("failed"), [uid])[uid]
    return str(state.reason)


def test_a_2xx_is_processed_and_the_receiver_got_the_mail_signed(
    webhook_engine: EngineFactory, receiver: WebhookReceiver, maildir: MaildirMailbox
) -> None:
    engine = webhook_engine(receiver.url)
    maildir.append("INBOX", order_mail())
    [outcome] = engine.poll_once()
    assert outcome.status == Status.PROCESSED and outcome.handler == "orders"
    [got] = receiver.received
    assert got.verified and got.answered == 200
    assert got.body is not None
    assert got.body["payload"] == {"qty": 3}  # checked against the schema, coerced
    assert got.body["identifier"] == "ORD-7"
    assert got.body["message"]["key"] == got.webhook_id
    assert got.body["message"]["from"] == "alice@example.org"
    assert "qty: 3" in got.body["extraction"]["text"]
    assert maildir.uids("processed") and not maildir.uids("INBOX")


def test_a_mail_the_schema_refuses_is_never_posted(
    webhook_engine: EngineFactory, receiver: WebhookReceiver, maildir: MaildirMailbox
) -> None:
    maildir.append("INBOX", order_mail(qty="0"))
    [outcome] = webhook_engine(receiver.url).poll_once()
    assert outcome.status == Status.FAILED and "qty" in (outcome.reason or "")
    assert receiver.received == []


def test_a_422_reason_is_the_failure_reason(
    webhook_engine: EngineFactory,
    receiver: WebhookReceiver,
    maildir: MaildirMailbox,
    history: History,
) -> None:
    receiver.script((422, {"reason": "order ORD-7 is closed: <b>call</b> sales"}))
    maildir.append("INBOX", order_mail())
    [outcome] = webhook_engine(receiver.url).poll_once()
    assert outcome.status == Status.FAILED
    assert len(receiver.received) == 1  # a 4xx is not retried
    reason = _reason(history, maildir)
    assert reason == "webhook 'orders' refused the mail: order ORD-7 is closed: <b>call</b> sales"


def test_503_then_200_is_retried_and_processed_once(
    webhook_engine: EngineFactory, receiver: WebhookReceiver, maildir: MaildirMailbox
) -> None:
    receiver.script((503, {}), (200, {}))
    maildir.append("INBOX", order_mail())
    [outcome] = webhook_engine(receiver.url).poll_once()
    assert outcome.status == Status.PROCESSED
    assert [r.answered for r in receiver.received] == [503, 200]
    assert len({r.webhook_id for r in receiver.received}) == 1  # one event, tried twice
    assert len({r.timestamp for r in receiver.received}) >= 1
    assert len(receiver.done) == 1


def test_a_timeout_is_retried_and_the_receiver_dedups_the_second_post(
    webhook_engine: EngineFactory, receiver: WebhookReceiver, maildir: MaildirMailbox
) -> None:
    receiver.script(Answer(200, {}, delay=1.5), Answer(200, {}))
    maildir.append("INBOX", order_mail())
    [outcome] = webhook_engine(receiver.url, timeout=0.5).poll_once()
    assert outcome.status == Status.PROCESSED
    assert len(receiver.received) == 2
    assert receiver.received[1].webhook_id == receiver.received[0].webhook_id
    assert [r.duplicate for r in receiver.received] == [False, True]  # done once only


def test_retries_spent_fail_with_what_happened(
    webhook_engine: EngineFactory,
    receiver: WebhookReceiver,
    maildir: MaildirMailbox,
    history: History,
) -> None:
    receiver.script((503, {}), (502, {}), (500, {}))
    maildir.append("INBOX", order_mail())
    [outcome] = webhook_engine(receiver.url).poll_once()
    assert outcome.status == Status.FAILED and len(receiver.received) == 3
    reason = _reason(history, maildir)
    assert "answered 500" in reason and "(3 attempts)" in reason and "re-run" in reason


def test_no_retry_is_begun_past_half_the_claim_lease(
    webhook_engine: EngineFactory,
    receiver: WebhookReceiver,
    maildir: MaildirMailbox,
    history: History,
) -> None:
    receiver.script(*[(503, {})] * 6)
    maildir.append("INBOX", order_mail())
    fast = {"timeout": 0.5, "retries": 5, "backoff": 0.3, "max_backoff": 0.3}
    [outcome] = webhook_engine(receiver.url, lease=3.0, **fast).poll_once()
    assert outcome.status == Status.FAILED
    assert 1 < len(receiver.received) < 6  # retried, then stopped at the time limit
    assert f"({len(receiver.received)} attempts)" in _reason(history, maildir)


def test_an_endpoint_nobody_listens_on_fails_as_unreachable(
    webhook_engine: EngineFactory, maildir: MaildirMailbox, history: History
) -> None:
    with WebhookReceiver(WebhookSecret.generate()) as gone:
        url = gone.url
    maildir.append("INBOX", order_mail())
    [outcome] = webhook_engine(url).poll_once()
    assert outcome.status == Status.FAILED
    assert "could not be reached" in _reason(history, maildir)


def test_a_wrong_secret_is_refused_by_the_receivers_check(
    webhook_engine: EngineFactory,
    receiver: WebhookReceiver,
    maildir: MaildirMailbox,
    history: History,
) -> None:
    maildir.append("INBOX", order_mail())
    [outcome] = webhook_engine(receiver.url, key=WebhookSecret.generate()).poll_once()
    assert outcome.status == Status.FAILED
    assert [(r.verified, r.answered) for r in receiver.received] == [(False, 401)]
    assert receiver.done == []
    assert "signature does not check out" in _reason(history, maildir)


def test_a_mail_posted_again_after_a_crash_has_the_same_webhook_id(
    webhook_engine: EngineFactory,
    receiver: WebhookReceiver,
    maildir: MaildirMailbox,
    history: History,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The receiver answered 2xx but the poller died before marking it: the next poll posts
    it again, with the same webhook-id, and the receiver does not do it twice."""
    maildir.append("INBOX", order_mail())
    engine = webhook_engine(receiver.url)

    def died(*args: object, **kwargs: object) -> None:
        raise OSError("disk gone")

    with monkeypatch.context() as m:
        m.setattr(History, "mark_handled", died)
        with pytest.raises(Exception, match="could not be recorded"):
            engine.poll_once()
    assert maildir.uids("INBOX")  # left for the next poll
    [outcome] = engine.poll_once()
    assert outcome.status == Status.PROCESSED
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id and second.duplicate
    assert receiver.done == [first.webhook_id]


def test_the_same_mail_delivered_twice_is_posted_once(
    webhook_engine: EngineFactory, receiver: WebhookReceiver, maildir: MaildirMailbox
) -> None:
    raw = order_mail()
    maildir.append("INBOX", raw)
    engine = webhook_engine(receiver.url)
    engine.poll_once()
    maildir.append("INBOX", raw)
    [again] = engine.poll_once()
    assert again.status == Status.DUPLICATE
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("over", "said"),
    [
        ({"url": "file:///etc/passwd"}, "http:// or https://"),
        ({"url": "https://user:pw@erp.example/"}, "credentials"),
        ({"timeout": 31}, "over half the claim_lease"),
        ({"retries": "many"}, "are numbers"),
        ({"colour": "red"}, "unknown key"),
        ({"secret_env": "MAILCORE_NOT_SET"}, "is not set"),
    ],
)
def test_unusable_settings_are_refused_saying_what_to_change(
    over: dict[str, object], said: str
) -> None:
    env = {SECRET_ENV: WebhookSecret.generate()}
    with pytest.raises(ConfigError, match=said):
        handler_configs({"handlers": [{**entry("https://erp.example/mail"), **over}]}, env)


def test_engine_from_settings_wires_the_webhooks_table(
    maildir: MaildirMailbox,
    history: History,
    receiver: WebhookReceiver,
    secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`mailcore poll` and the console build engines so: the webhook handlers join the
    registry (once, however many engines share it) and a thread delivers the events out."""
    monkeypatch.setenv(SECRET_ENV, secret)
    sub = {"name": "events", "url": receiver.url, "secret_env": SECRET_ENV, "kinds": ["processed"]}
    settings = Settings.from_mapping(
        {"maildir": str(maildir.root), "webhooks": {"handlers": [entry(receiver.url)],
                                                    "subscriptions": [sub]}}
    )  # fmt: skip
    registry = Registry()
    engine = Engine.from_settings(settings, maildir, registry, history)
    Engine.from_settings(settings, maildir, registry, history)  # a second mailbox's, say
    assert registry.names() == ["orders"]
    writer = history.outbox
    assert isinstance(writer, OutboxWriter) and writer.deliverer is not None
    try:
        maildir.append("INBOX", order_mail())
        [outcome] = engine.poll_once()
        assert outcome.status == Status.PROCESSED
        deadline = time.monotonic() + 10
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        writer.deliverer.stop()
    handled, event = receiver.received
    assert handled.body is not None and handled.body["handler"] == "orders"
    assert event.body is not None and event.body["type"] == "message.processed"
    assert event.body["data"]["message_key"] == handled.webhook_id


def test_a_refused_mail_resubmitted_corrected_is_posted_again_with_its_id(
    webhook_engine: EngineFactory, receiver: WebhookReceiver, maildir: MaildirMailbox
) -> None:
    receiver.script((422, {"reason": "qty over stock"}), (200, {}))
    maildir.append("INBOX", order_mail(qty="900"))
    engine = webhook_engine(receiver.url)
    [failed] = engine.poll_once()
    assert failed.status == Status.FAILED
    outcome = engine.resubmit(maildir.uids("failed")[0], {"qty": 9}, "olivia")
    assert outcome.status == Status.PROCESSED
    refused, accepted = receiver.received
    assert refused.webhook_id == accepted.webhook_id  # one mail, one id
    assert accepted.body is not None and accepted.body["payload"] == {"qty": 9}
    assert accepted.body["actor"] == "olivia" and receiver.done == [accepted.webhook_id]
