"""What the many-pollers tests run: a registry whose handler logs every call to a file opened
with O_APPEND (one write per line, so the lines of several processes never interleave), the
mixed mail they deliver, and the checks of what ended where.

    mailcore poll --handlers tests.mailcore.processing.many_support:registry

Environment: MC_CALL_LOG (the log), MC_KILL_AT (this process SIGKILLs itself as that handler
call begins, before it does anything), MC_HANDLER_SLEEP (seconds each call sleeps).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from imapclient import IMAPClient

from mailcore.errors import HandlerFailed
from mailcore.inbound.identity import message_key
from mailcore.processing.registry import HandlerContext, Registry
from tests.mailcore.engine_support import VEHICLE_SCHEMA, auto_reply_mail, vehicle_mail
from tests.servers import message

registry = Registry()
_calls = 0


def _log(ctx: HandlerContext, what: str) -> None:
    fd = os.open(os.environ["MC_CALL_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{ctx.message_key} {os.getpid()} {what}\n".encode())
    finally:
        os.close(fd)


@registry.handler("vehicle", prefix="VEH-", schema=VEHICLE_SCHEMA)
def vehicle(ctx: HandlerContext) -> None:
    global _calls
    _calls += 1
    if _calls == int(os.environ.get("MC_KILL_AT", "0") or 0):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(os.environ.get("MC_HANDLER_SLEEP", "0") or 0))
    if ctx.payload["plate_number"] == "REFUSE":
        _log(ctx, "refused")
        raise HandlerFailed("plate refused by the fleet system")
    _log(ctx, "ok")


@dataclass
class Mix:
    """The mail delivered, and how many distinct messages should succeed."""

    raws: list[bytes] = field(default_factory=list)
    succeed: set[str] = field(default_factory=set)  # keys whose handler should succeed once


def _without_message_id(raw: bytes) -> bytes:
    return b"".join(line for line in raw.splitlines(True) if not line.startswith(b"Message-ID"))


def mixed_mail(count: int, seed: int = 11) -> Mix:
    """`count` mails: valid requests, schema failures, refusals, auto-replies, mails without
    Message-ID, pairs sharing one Message-ID, and re-deliveries (the same request again with
    another Received field: one message)."""
    rng = random.Random(seed)
    mix = Mix()
    for i in range(count):
        kind = rng.random()
        ident = f"VEH-{i}"
        if kind < 0.55:
            raw = vehicle_mail(ident=ident, plate=f"P-{i}")
        elif kind < 0.65:
            raw = vehicle_mail(ident=ident, plate=f"P-{i}", year="not a year")
        elif kind < 0.72:
            raw = vehicle_mail(ident=ident, plate="REFUSE", year=str(2000 + i % 20))
        elif kind < 0.80:
            raw = auto_reply_mail()
        elif kind < 0.87:
            raw = _without_message_id(vehicle_mail(ident=ident, plate=f"N-{i}"))
        elif kind < 0.93:
            shared = f"<shared-{i // 2}@example.org>"
            body = f"plate_number: S-{i}\r\nyear: 2021\r\n"
            raw = message(subject=f"[{ident}] shared id", body=body, message_id=shared)
        else:
            first = vehicle_mail(ident=ident, plate=f"R-{i}")
            mix.raws.append(b"Received: from mx1.example.net by mx\r\n" + first)
            raw = b"Received: from mx2.example.net by mx\r\n" + first
            mix.succeed.add(message_key(first))
        mix.raws.append(raw)
        if kind < 0.55 or 0.80 <= kind < 0.93:
            mix.succeed.add(message_key(raw))
    return mix


def successes(log_text: str) -> Counter[str]:
    """Handler successes by message key, from the call log."""
    return Counter(line.split()[0] for line in log_text.splitlines() if line.endswith(" ok"))


def folder_contents(client: IMAPClient, folders: Iterable[str]) -> Counter[bytes]:
    """How often each message's bytes are in these folders (not \\Deleted), by a second client."""
    found: Counter[bytes] = Counter()
    for folder in folders:
        if not client.folder_exists(folder):
            continue
        client.select_folder(folder, readonly=True)
        uids = client.search(["UNDELETED"])
        for start in range(0, len(uids), 200):
            for data in client.fetch(uids[start : start + 200], ["BODY.PEEK[]"]).values():
                found[bytes(data[b"BODY[]"])] += 1
    return found
