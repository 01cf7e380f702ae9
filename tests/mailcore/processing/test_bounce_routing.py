"""Bounces on the real engine (Maildir and Dovecot): to the handler an application registers
with `Registry.on_bounce`, before the handler the bounced mail's identifier names; without
one they are filed as automatic mail, as before."""

from __future__ import annotations

from typing import Any

import pytest

from mailcore.errors import RegistrationError
from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.engine import Engine, Folders
from mailcore.processing.registry import HandlerContext
from mailcore.store.history import History
from tests.mailcore.bounce_support import SCHEME, postfix_dsn, sent_mail
from tests.mailcore.engine_support import Calls, deliver, make_registry, vehicle_mail

FOLDERS = Folders()


def bounce_mail() -> tuple[bytes, str]:
    original = sent_mail()
    return postfix_dsn(original).replace(b"\n", b"\r\n"), str(original["Message-ID"])


def test_bounce_goes_to_the_registered_bounce_handler(
    mailbox: Mailbox, history: History, calls: Calls
) -> None:
    registry = make_registry(calls)
    invalid: list[dict[str, Any]] = []

    @registry.on_bounce()
    def bounces(ctx: HandlerContext) -> dict[str, Any]:
        bounce = ctx.extraction.bounce
        assert bounce is not None
        for r in bounce.recipients:
            if r.severity == "hard":
                invalid.append(
                    {
                        "address": r.address,
                        "reason": str(r.reason),
                        "of": bounce.original_message_id,
                    }
                )
        return {"invalid": [i["address"] for i in invalid]}

    raw, message_id = bounce_mail()
    deliver(mailbox, raw, vehicle_mail())
    bounce, vehicle = Engine(mailbox, registry, history, scheme=SCHEME).poll_once()
    assert (bounce.status, bounce.handler) == ("processed", "bounces")
    assert invalid == [
        {"address": "partner@garage.example", "reason": "unknown-user", "of": message_id}
    ]
    assert (vehicle.status, vehicle.handler) == ("processed", "vehicle")  # others as before
    assert calls == [("VEH-123", {"plate_number": "AB-123", "year": 2020})]
    assert len(mailbox.uids(FOLDERS.processed)) == 2


def test_without_a_bounce_handler_bounces_are_filed_as_automatic(
    mailbox: Mailbox, history: History, calls: Calls
) -> None:
    raw, _ = bounce_mail()
    deliver(mailbox, raw)
    [outcome] = Engine(mailbox, make_registry(calls), history, scheme=SCHEME).poll_once()
    assert outcome.status == "auto" and outcome.handler is None
    assert outcome.reason is not None and "delivery status notification" in outcome.reason
    assert calls == []  # not to the vehicle handler its identifier VEH-4711 would name
    assert len(mailbox.uids(FOLDERS.auto)) == 1


def test_one_bounce_handler_only(calls: Calls) -> None:
    registry = make_registry(calls)
    registry.on_bounce()(lambda ctx: None)
    with pytest.raises(RegistrationError, match="already handles bounces"):
        registry.on_bounce("second")(lambda ctx: None)
