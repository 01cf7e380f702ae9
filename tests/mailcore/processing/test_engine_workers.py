"""`handler_workers`: handlers of one poller run at once, in order per identifier, on Maildir and
Dovecot; the same message twice in a batch is still handled once."""

from __future__ import annotations

import threading
import time
from typing import Any

from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.engine import Engine
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.processing.workers import groups_by_identifier, in_order_per_group
from mailcore.store.history import History
from tests.mailcore.engine_support import VEHICLE_SCHEMA, deliver, vehicle_mail


class Slow:
    """A 50 ms handler noting each call's identifier and plate, and the most calls at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str | None, str]] = []
        self.running = self.most = 0

    def __call__(self, ctx: HandlerContext) -> Any:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
            self.calls.append((ctx.identifier, ctx.payload["plate_number"]))
        return None


def _engine(mailbox: Mailbox, history: History, slow: Slow, workers: int) -> Engine:
    registry = Registry()
    registry.add("vehicle", slow, prefix="VEH-", schema=VEHICLE_SCHEMA)
    return Engine(mailbox, registry, history, handler_workers=workers)


def test_handlers_run_at_once_in_order_per_identifier(mailbox: Mailbox, history: History) -> None:
    plates = {f"VEH-{n}": [f"P{n}-{k}" for k in range(4)] for n in range(6)}
    deliver(
        mailbox,
        *(vehicle_mail(ident=i, plate=plates[i][k]) for k in range(4) for i in plates),
    )
    slow = Slow()

    outcomes = _engine(mailbox, history, slow, workers=8).poll_once()

    assert [o.status for o in outcomes] == ["processed"] * 24
    for ident, expected in plates.items():
        assert [p for i, p in slow.calls if i == ident] == expected  # in the order they came
    assert slow.most >= 3  # six identifiers' handlers overlapped


def test_the_same_message_twice_in_a_batch_is_handled_once_with_workers(
    mailbox: Mailbox, history: History
) -> None:
    raw = vehicle_mail(ident="VEH-9", plate="TWICE")
    deliver(mailbox, raw, vehicle_mail(ident="VEH-8", plate="OTHER"), raw)
    slow = Slow()

    outcomes = _engine(mailbox, history, slow, workers=4).poll_once()

    assert sorted(o.status for o in outcomes) == ["duplicate", "processed", "processed"]
    assert sorted(p for _, p in slow.calls) == ["OTHER", "TWICE"]


def test_groups_follow_the_identifier_and_a_known_key_joins_its_first_group() -> None:
    idents = {1: "A", 2: "B", 3: "A", 4: None, 5: "C", 6: None}
    keys = {1: "k1", 2: "k2", 3: "k3", 4: "k4", 5: "k1", 6: "k6"}

    groups = groups_by_identifier([1, 2, 3, 4, 5, 6], idents, keys)

    assert groups == [[1, 3, 5], [2], [4], [6]]


def test_the_first_error_is_raised_after_the_other_groups_finish() -> None:
    done: list[int] = []

    def run(item: int) -> int:
        if item == 2:
            raise ValueError("bad item")
        time.sleep(0.01)
        done.append(item)
        return item * 10

    try:
        in_order_per_group([[1, 2, 3], [4, 5]], run, workers=2)
    except ValueError as e:
        assert str(e) == "bad item"
    else:
        raise AssertionError("no error raised")
    assert sorted(done) == [1, 4, 5]  # the failing group stopped; the other finished
    assert in_order_per_group([[1], [3, 4]], lambda i: i * 10, workers=4) == {1: 10, 3: 30, 4: 40}
