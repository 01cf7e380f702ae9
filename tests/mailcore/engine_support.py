"""Shared pieces of the engine tests: payload mails, a handler registry, crashing mailboxes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from mailcore.errors import HandlerFailed
from mailcore.mailboxes.protocol import Mailbox, MoveResult
from mailcore.processing.registry import HandlerContext, Registry
from tests.servers import message

VEHICLE_SCHEMA = {
    "type": "object",
    "required": ["plate_number", "year"],
    "properties": {
        "plate_number": {"type": "string", "minLength": 2},
        "year": {"type": "integer", "minimum": 1900},
    },
}


def vehicle_mail(
    ident: str = "VEH-123",
    plate: str = "AB-123",
    year: str = "2020",
    sender: str = "alice@example.org",
    extra: str = "",
) -> bytes:
    """A reply carrying a key-lines payload, tagged with `ident` in the subject."""
    body = f"Hello,\r\n\r\nplate_number: {plate}\r\nyear: {year}\r\n{extra}\r\n-- \r\nAlice\r\n"
    return message(subject=f"[{ident}] Vehicle update", body=body, sender=sender)


def auto_reply_mail() -> bytes:
    return message(
        subject="Out of office",
        body="I am away until Monday.\r\n",
        extra_headers="Auto-Submitted: auto-replied\r\n",
    )


class Calls(list[tuple[str | None, dict[str, Any]]]):
    """Every handler call: (identifier, payload)."""


def make_registry(calls: Calls) -> Registry:
    registry = Registry()

    @registry.handler(
        "vehicle",
        prefix="VEH-",
        schema=VEHICLE_SCHEMA,
        aliases={"plate_number": ["kennzeichen", "immatriculation"]},
    )
    def vehicle(ctx: HandlerContext) -> dict[str, Any]:
        calls.append((ctx.identifier, dict(ctx.payload)))
        plate = ctx.payload["plate_number"]
        if plate == "REFUSE":
            raise HandlerFailed("plate refused by the fleet system")
        if plate == "CRASH":
            raise RuntimeError("database unreachable")
        return {"stored": plate}

    return registry


class CrashAfterCopy:
    """The real mailbox, except that `move` copies into the destination and then "crashes"
    before the source is removed, as a process killed between the two steps would."""

    def __init__(self, inner: Mailbox) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def move(self, folder: str, uids: Sequence[int], dest: str) -> MoveResult:
        self.inner.ensure_folder(dest)
        for raw in self.inner.fetch(folder, uids).values():
            self.inner.append(dest, raw)
        raise ConnectionError("killed between copy and delete")


class CrashBeforeMove:
    """The real mailbox, except that every `move` dies before doing anything."""

    def __init__(self, inner: Mailbox) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def move(self, folder: str, uids: Sequence[int], dest: str) -> MoveResult:
        raise ConnectionError("killed between handling and moving")


def ready_account(dovecot: Any) -> Any:
    """A fresh account, once Dovecot accepts its login (it re-reads its users file lazily)."""
    account = dovecot.new_user()
    deadline = time.monotonic() + 5
    while True:
        try:
            with account.session():
                return account
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def deliver(mailbox: Mailbox, *raws: bytes) -> list[int]:
    mailbox.ensure_folder("INBOX")
    return [uid for raw in raws if (uid := mailbox.append("INBOX", raw)) is not None]


# A module-level registry for `mailcore poll --handlers tests.mailcore.engine_support:registry`.
CALLS = Calls()
registry = make_registry(CALLS)
