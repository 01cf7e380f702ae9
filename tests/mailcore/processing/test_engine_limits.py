"""The engine's intake limits and operator locks, on both backends (Maildir and Dovecot:
the `mailbox` fixture of tests/mailcore/conftest.py)."""

from __future__ import annotations

import threading
from typing import Any

from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.engine import Engine, Limits
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.store.history import History
from tests.mailcore.engine_support import Calls, deliver, make_registry, vehicle_mail
from tests.mailcore.processing.test_engine import FOLDERS


def with_attachment(size: int, ident: str = "VEH-7") -> bytes:
    """A vehicle mail carrying `size` bytes of base64 attachment."""
    blob = ("QUJD" * (size // 4 + 1))[:size]
    lines = "\r\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    return (
        "From: alice@example.org\r\nTo: ops@example.com\r\nSubject: [" + ident + "] big\r\n"
        "Message-ID: <big-" + ident + "@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nplate_number: AB-1\r\nyear: 2020\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;"
        ' filename="scan.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + lines
        + "\r\n--b--\r\n"
    ).encode()


def test_mail_over_the_maximum_size_is_filed_in_failed_unparsed(
    mailbox: Mailbox, history: History, calls: Calls
):
    engine = Engine(mailbox, make_registry(calls), history, limits=Limits(max_message_size=8192))
    deliver(mailbox, with_attachment(20_000), vehicle_mail(plate="SMALL-1"))
    outcomes = {o.status: o for o in engine.poll_once()}
    assert set(outcomes) == {"failed", "processed"}
    reason = outcomes["failed"].reason or ""
    assert "max_message_size" in reason and "maximum message size of 8.0 KB" in reason
    assert [payload["plate_number"] for _, payload in calls] == ["SMALL-1"]  # never handled
    [uid] = mailbox.uids(FOLDERS.failed)
    seen = engine.inspect(uid)
    # The detail page shows the header block only: no attachment decoded, the limit said.
    assert seen.extraction.attachments == [] and seen.extraction.headers.subject == "[VEH-7] big"
    assert "max_message_size" in seen.extraction.defects[0]
    assert seen.reason == reason
    [summary] = mailbox.summaries(FOLDERS.failed, [uid])
    assert summary.size > 8192  # filed whole, not truncated


def test_operator_can_resubmit_an_oversized_mail_with_a_payload_typed_by_hand(
    mailbox: Mailbox, history: History, calls: Calls
):
    engine = Engine(mailbox, make_registry(calls), history, limits=Limits(max_message_size=8192))
    deliver(mailbox, with_attachment(20_000))
    [failed] = engine.poll_once()
    assert failed.status == "failed"
    outcome = engine.resubmit(
        failed.new_uid or 0, {"plate_number": "TYPED-1", "year": 2021}, by="op", handler="vehicle"
    )
    assert outcome.status == "processed"
    assert calls == [("VEH-7", {"plate_number": "TYPED-1", "year": 2021})]


def test_a_poll_fetches_what_fits_in_batch_bytes_and_always_one(
    mailbox: Mailbox, history: History, calls: Calls
):
    sizes = [6000, 6000, 6000, 30_000, 6000]
    deliver(mailbox, *(with_attachment(n, ident=f"VEH-{i}") for i, n in enumerate(sizes)))
    engine = Engine(mailbox, make_registry(calls), history, limits=Limits(batch_bytes=15_000))
    polls = []
    while outcomes := engine.poll_once():
        polls.append(len(outcomes))
    # Two small mails fit (the third would pass 15,000 bytes), then one, then the large one on
    # its own although it is over the budget, then the last.
    assert polls == [2, 1, 1, 1]
    assert len(calls) == 5 and mailbox.uids("INBOX") == []


def test_operators_acting_on_different_mails_do_not_wait_for_each_other(
    mailbox: Mailbox, history: History
):
    entered, release = threading.Event(), threading.Event()
    registry = Registry()

    @registry.handler("slow", prefix="VEH-")
    def slow(ctx: HandlerContext) -> dict[str, Any]:
        if ctx.payload.get("plate_number") == "SLOW":
            entered.set()
            assert release.wait(20)
        return {}

    engine = Engine(mailbox, registry, history)
    deliver(mailbox, vehicle_mail(ident="ZZZ-1"), vehicle_mail(ident="ZZZ-2"))
    first, second = sorted(o.new_uid or 0 for o in engine.poll_once())  # no route: failed
    resubmitting = threading.Thread(
        target=engine.resubmit,
        args=(first, {"plate_number": "SLOW"}, "op1"),
        kwargs={"handler": "slow"},
    )
    rejected: list[str] = []
    rejecting = threading.Thread(
        target=lambda: rejected.append(engine.reject(second, "spam", by="op2").status)
    )
    resubmitting.start()
    try:
        assert entered.wait(20)
        # While the first mail's handler runs, another operator rejects the second mail.
        rejecting.start()
        rejecting.join(10)
        assert rejected == ["rejected"] and not release.is_set()
    finally:
        release.set()
        resubmitting.join(20)
        rejecting.join(20)
    assert mailbox.uids(FOLDERS.failed) == []
