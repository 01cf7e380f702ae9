"""The engine and message identity, on Maildir and Dovecot: a re-delivery is one message, two
requests sharing a Message-ID are two, history written under the old key still counts; and an
outage stops a poll's moves at the first destination."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mailcore.errors import ConnectionLost
from mailcore.mailboxes.imap import ImapMailbox
from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.engine import Engine, Folders
from mailcore.processing.outcomes import legacy_message_key, message_key
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.store.history import History
from tests.conftest import imap_config
from tests.mailcore.engine_support import (
    VEHICLE_SCHEMA,
    Calls,
    deliver,
    make_registry,
    ready_account,
    vehicle_mail,
)
from tests.servers import CuttingRelay, Dovecot, message

FOLDERS = Folders()


@pytest.fixture
def engine(mailbox: Mailbox, history: History, calls: Calls) -> Engine:
    return Engine(mailbox, make_registry(calls), history)


def test_a_redelivery_with_other_trace_fields_is_handled_once(
    engine: Engine, mailbox: Mailbox, calls: Calls
) -> None:
    raw = vehicle_mail(plate="AGAIN-1")
    deliver(mailbox, b"Received: from mx1.example.net\r\nDelivered-To: ops@example.com\r\n" + raw)
    [first] = engine.poll_once()
    deliver(mailbox, b"Received: from mx2.example.net\r\nX-Original-To: ops@example.com\r\n" + raw)

    [second] = engine.poll_once()

    assert (first.status, second.status) == ("processed", "duplicate")
    assert len(calls) == 1
    assert len(mailbox.uids(FOLDERS.processed)) == 2  # both filed, neither lost


def test_two_requests_sharing_a_message_id_are_both_handled(
    engine: Engine, mailbox: Mailbox, calls: Calls
) -> None:
    shared = "<chosen@example.org>"
    body = "plate_number: {}\r\nyear: 2020\r\n"
    deliver(
        mailbox,
        message(subject="[VEH-1] a", body=body.format("ONE-1"), message_id=shared),
        message(subject="[VEH-2] b", body=body.format("TWO-2"), message_id=shared),
    )

    outcomes = engine.poll_once()

    assert [o.status for o in outcomes] == ["processed", "processed"]
    assert sorted(p["plate_number"] for _, p in calls) == ["ONE-1", "TWO-2"]


def test_a_message_handled_before_the_upgrade_is_found_under_its_old_key(
    engine: Engine, mailbox: Mailbox, history: History, calls: Calls
) -> None:
    raw = b"Received: from mx1.example.net\r\n" + vehicle_mail(plate="OLD-1")
    assert legacy_message_key(raw) != message_key(raw)
    history.mark_handled(legacy_message_key(raw), handler="vehicle")  # what 0.x wrote
    deliver(mailbox, raw)

    [outcome] = engine.poll_once()

    assert outcome.status == "duplicate" and calls == []
    [event] = history.events(kind="duplicate")
    assert event.message_key == legacy_message_key(raw)  # its timeline goes on


def test_an_outage_stops_the_moves_at_the_first_destination(
    dovecot: Dovecot, history: History, caplog: pytest.LogCaptureFixture
) -> None:
    account = ready_account(dovecot)
    relay = CuttingRelay(dovecot.host, dovecot.port)
    mailbox = ImapMailbox(
        imap_config(dovecot, account, host=relay.host, port=relay.port), retries=2, backoff=0.01
    )
    registry = Registry()

    def down(ctx: HandlerContext) -> Any:
        relay.close()  # the server goes away while the batch is worked
        return None

    registry.add("vehicle", down, prefix="VEH-", schema=VEHICLE_SCHEMA)
    account.append_many("INBOX", [vehicle_mail(plate="UP-1"), vehicle_mail(plate="")])

    with caplog.at_level(logging.ERROR), pytest.raises(ConnectionLost):
        Engine(mailbox, registry, history).poll_once()

    moves = [r for r in caplog.records if r.getMessage().startswith("moving ")]
    assert len(moves) == 1  # processed and failed were due: only the first was tried
    mailbox.close()


def test_without_uidplus_failed_mail_sharing_a_message_id_keeps_its_own_reason(
    dovecot: Dovecot, history: History, calls: Calls
) -> None:
    account = ready_account(dovecot)
    mailbox = ImapMailbox(imap_config(dovecot, account, host=dovecot.basic_host))
    shared = "<same@example.org>"
    account.append_many(
        "INBOX",
        [
            message(subject="[VEH-1] a", body="year: 2020\r\n", message_id=shared),
            message(subject="[VEH-2] b", body="plate_number: REFUSE\r\nyear: 2020\r\n",
                    message_id=shared),
            message(subject="[VEH-3] no id", body="year: 1800\r\n").replace(
                b"Message-ID: ", b"X-Not-Message-ID: "
            ),
        ],
    )  # fmt: skip

    Engine(mailbox, make_registry(calls), history).poll_once()
    page = Engine(mailbox, make_registry(calls), history).failed_page()

    reasons = {item.summary.subject: item.reason or "" for item in page.items}
    assert "plate_number" in reasons["[VEH-1] a"] and "refused" in reasons["[VEH-2] b"]
    assert "1900" in reasons["[VEH-3] no id"]  # listed with its reason, not without one
    mailbox.close()
