"""Events out: the subscribed history events written to the outbox with them, delivered
signed to a real receiver, retried after a 503, logged, and never lost across a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailcore.config import Settings
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine
from mailcore.store.history import History
from mailcore.store.outbox import OutboxStore, outbox_table
from mailcore.store.records import EventKind
from mailcore.webhooks import install_events
from mailcore.webhooks.outbox import OutboxDeliverer
from mailcore.webhooks.settings import subscriptions
from tests.mailcore.bounce_support import postfix_dsn, sent_mail
from tests.mailcore.engine_support import Calls, make_registry, vehicle_mail
from tests.webhook_receiver import WebhookReceiver

ENV = "MAILCORE_WEBHOOK_EVENTS_SECRET"


def _settings(url: str, kinds: list[str] | None = None) -> Settings:
    sub = {"name": "erp", "url": url, "secret_env": ENV, "backoff": 0.2, "max_backoff": 0.2}
    if kinds is not None:
        sub["kinds"] = kinds
    return Settings.from_mapping({"webhooks": {"subscriptions": [sub]}})


def _wired(history: History, url: str, secret: str, kinds: list[str] | None = None):
    deliverer = install_events(_settings(url, kinds), history, {ENV: secret}, start=False)
    assert deliverer is not None
    return deliverer


def _poll(maildir: MaildirMailbox, history: History, *mails: bytes) -> None:
    for raw in mails:
        maildir.append("INBOX", raw)
    Engine(maildir, make_registry(Calls()), history).poll_once()


def _types(receiver: WebhookReceiver) -> list[str]:
    return sorted(r.body["type"] for r in receiver.received if r.body)


def test_failed_and_processed_events_are_delivered_signed(
    maildir: MaildirMailbox, history: History, receiver: WebhookReceiver, secret: str
) -> None:
    deliverer = _wired(history, receiver.url, secret)
    _poll(maildir, history, vehicle_mail(), vehicle_mail(plate="REFUSE"))
    assert receiver.received == []  # written with the history; posted by the deliverer
    assert deliverer.run_once() == 2
    assert _types(receiver) == ["message.failed", "message.processed"]
    assert all(r.verified for r in receiver.received)
    bodies = [r.body for r in receiver.received if r.body is not None]
    failed = next(b for b in bodies if b["type"] == "message.failed")
    assert failed["data"]["reason"] == "plate refused by the fleet system"
    assert failed["data"]["identifier"] == "VEH-123" and failed["data"]["handler"] == "vehicle"
    assert all(r.webhook_id.startswith("evt_") for r in receiver.received)
    assert deliverer.run_once() == 0  # delivered: never again
    log = OutboxStore(history.engine).log()
    assert [(e.outcome, e.status, e.state) for e in log] == [("delivered", 200, "delivered")] * 2


def test_a_503_is_retried_after_the_backoff_with_the_same_id(
    maildir: MaildirMailbox, history: History, receiver: WebhookReceiver, secret: str
) -> None:
    deliverer = _wired(history, receiver.url, secret, kinds=["processed"])
    receiver.script((503, {}))
    _poll(maildir, history, vehicle_mail())
    assert deliverer.run_once() == 1
    assert deliverer.run_once() == 0  # not due yet
    assert deliverer.run_once(now=time.time() + 1) == 1
    first, second = receiver.received
    assert (first.answered, second.answered) == (503, 200)
    assert first.webhook_id == second.webhook_id and first.body == second.body
    log = OutboxStore(history.engine).log()
    assert [(e.attempt, e.status, e.outcome) for e in log] == [
        (2, 200, "delivered"),
        (1, 503, "retry"),
    ]


def test_kinds_not_subscribed_are_not_written(
    maildir: MaildirMailbox, history: History, receiver: WebhookReceiver, secret: str
) -> None:
    deliverer = _wired(history, receiver.url, secret, kinds=["failed"])
    _poll(maildir, history, vehicle_mail(), vehicle_mail(plate="REFUSE"))
    deliverer.run_once()
    assert _types(receiver) == ["message.failed"]


def test_a_bounce_is_a_bounced_event(
    maildir: MaildirMailbox, history: History, receiver: WebhookReceiver, secret: str
) -> None:
    deliverer = _wired(history, receiver.url, secret, kinds=["bounced"])
    _poll(maildir, history, postfix_dsn(sent_mail()))
    deliverer.run_once()
    [got] = receiver.received
    assert got.body is not None and got.body["type"] == "message.bounced"


def test_events_wait_in_the_database_across_a_restart(
    tmp_path: Path, maildir: MaildirMailbox, receiver: WebhookReceiver, secret: str
) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    first = History(url)
    _wired(first, receiver.url, secret)
    _poll(maildir, first, vehicle_mail())
    first.close()  # the poller stops before delivering
    again = History(url)
    try:
        subs = subscriptions(_settings(receiver.url).section("webhooks"), {ENV: secret})
        assert OutboxDeliverer(OutboxStore(again.engine), subs).run_once() == 1
    finally:
        again.close()
    assert _types(receiver) == ["message.processed"]


def test_an_event_is_written_only_with_its_history_event(
    maildir: MaildirMailbox, history: History, receiver: WebhookReceiver, secret: str
) -> None:
    """The outbox row is in the history event's transaction: when the batch write fails,
    neither is there."""
    _wired(history, receiver.url, secret)
    writer = history.outbox
    assert writer is not None

    def then_fail(conn: sa.Connection, events: object, stamp: object) -> None:
        writer(conn, events, stamp)  # type: ignore[arg-type]
        written = conn.execute(sa.select(sa.func.count()).select_from(outbox_table)).scalar()
        assert written == 1
        raise RuntimeError("disk full")

    history.outbox = then_fail
    with pytest.raises(RuntimeError, match="disk full"):
        history.record(EventKind.FAILED, message_key="k" * 64, status="failed", reason="x")
    with history.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox_table)).scalar() == 0
    assert history.timeline("k" * 64) == []


def test_a_subscription_removed_from_the_settings_fails_its_pending_events(
    maildir: MaildirMailbox, history: History, receiver: WebhookReceiver, secret: str
) -> None:
    _wired(history, receiver.url, secret, kinds=["processed"])
    _poll(maildir, history, vehicle_mail())
    assert OutboxDeliverer(OutboxStore(history.engine), []).run_once() == 1
    [row] = OutboxStore(history.engine).events()
    assert row.state == "failed" and "no longer configured" in str(row.last_detail)
    assert json.loads(row.body)["type"] == "message.processed"
    assert receiver.received == []


def test_operators_actions_are_events_too(
    maildir: MaildirMailbox, history: History, receiver: WebhookReceiver, secret: str
) -> None:
    deliverer = _wired(history, receiver.url, secret, kinds=["resubmitted", "rejected"])
    engine = Engine(maildir, make_registry(Calls()), history)
    for plate in ("REFUSE", "REFUSE"):
        maildir.append("INBOX", vehicle_mail(plate=plate))
    engine.poll_once()
    first, second = maildir.uids("failed")
    engine.resubmit(first, {"plate_number": "AB-1", "year": 2020}, "olivia")
    engine.reject(second, "spam", "olivia")
    deliverer.run_once()
    assert _types(receiver) == ["message.rejected", "message.resubmitted"]
    actors = {r.body["data"]["actor"] for r in receiver.received if r.body}
    assert actors == {"olivia"}


def test_events_out_on_sqlite_and_postgresql(
    database_url: str, maildir: MaildirMailbox, receiver: WebhookReceiver, secret: str
) -> None:
    history = History(database_url)
    try:
        deliverer = _wired(history, receiver.url, secret, kinds=["failed", "processed"])
        receiver.script((503, {}))
        _poll(maildir, history, vehicle_mail(), vehicle_mail(plate="REFUSE"))
        assert deliverer.run_once() == 2
        assert deliverer.run_once(now=time.time() + 1) == 1  # the one answered 503
        log = OutboxStore(history.engine).log()
        assert sorted((e.attempt, e.outcome) for e in log) == [
            (1, "delivered"),
            (1, "retry"),
            (2, "delivered"),
        ]
        assert {e.state for e in log} == {"delivered"}
    finally:
        history.close()
    assert set(_types(receiver)) == {"message.failed", "message.processed"}
    first, _, again = receiver.received  # the 503 was the first post; its retry came last
    assert (first.answered, again.answered) == (503, 200)
    assert first.webhook_id == again.webhook_id
