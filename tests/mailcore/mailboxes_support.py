"""Two handler modules for the tests of several mailboxes: each mailbox's Registry has a
handler of its own name, recording every call (with the message key it was given)."""

from __future__ import annotations

from typing import Any

from mailcore.errors import HandlerFailed
from mailcore.processing.registry import HandlerContext, Registry
from tests.mailcore.engine_support import VEHICLE_SCHEMA

# handler name -> [(plate, ctx.message_key, ctx.folder)]
CALLS: dict[str, list[tuple[str, str, str]]] = {"orders": [], "returns": []}


def _registry(name: str) -> Registry:
    registry = Registry()

    @registry.handler(name, prefix="VEH-", schema=VEHICLE_SCHEMA)
    def handle(ctx: HandlerContext) -> dict[str, Any]:
        plate = str(ctx.payload["plate_number"])
        if plate == "REFUSE":
            raise HandlerFailed(f"{name} refused the plate")
        CALLS[name].append((plate, ctx.message_key, ctx.mailbox))
        return {"stored": plate}

    return registry


orders = _registry("orders")
returns = _registry("returns")
