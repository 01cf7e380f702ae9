"""A poller that stalls longer than its claims' lease (here: a handler call of 1.2 s, lease 1 s)
while another process takes its messages over leaves them alone: the rest not handled nor
recorded, and not even the one whose call it finished moved (its new holder files it, as a
duplicate) -- on Maildir and Dovecot."""

from __future__ import annotations

import time
from typing import Any

from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.engine import Engine
from mailcore.processing.outcomes import message_key
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.store.claims import Claims
from mailcore.store.history import History
from tests.mailcore.engine_support import VEHICLE_SCHEMA, deliver, vehicle_mail


def test_messages_whose_claims_were_taken_over_are_left_to_their_new_holder(
    mailbox: Mailbox, history: History
) -> None:
    raws = [vehicle_mail(ident=f"VEH-{i}", plate=f"STALL-{i}") for i in range(3)]
    uids = deliver(mailbox, *raws)
    other = Claims(history.engine)  # another process
    calls: list[str] = []

    def stalls(ctx: HandlerContext) -> Any:
        calls.append(ctx.payload["plate_number"])
        if len(calls) == 1:
            time.sleep(1.2)  # past the lease: the other process takes everything over
            slots = {message_key(r): ("INBOX", 0, u) for u, r in zip(uids, raws, strict=True)}
            taken = other.claim(slots)
            assert len(taken) == 3
        return None

    registry = Registry()
    registry.add("vehicle", stalls, prefix="VEH-", schema=VEHICLE_SCHEMA)

    outcomes = Engine(mailbox, registry, history, claim_lease=1).poll_once()

    assert calls == ["STALL-0"]  # the call that had started finished; nothing else ran
    assert [(o.uid, o.status, o.new_uid) for o in outcomes] == [(uids[0], "processed", None)]
    assert mailbox.uids("INBOX") == uids  # all left to the process that holds them now
    assert {e.uid for e in history.events(kind="received")} == {uids[0]}
    other.release(other.held)  # ... which, polling, files the handled one as a duplicate
    again = Engine(mailbox, registry, history).poll_once()
    assert sorted(o.status for o in again) == ["duplicate", "processed", "processed"]
    assert calls == ["STALL-0", "STALL-1", "STALL-2"] and mailbox.uids("INBOX") == []
