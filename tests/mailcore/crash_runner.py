"""Run one engine poll in a process that SIGKILLs itself when a chosen handler call begins.

    python -m tests.mailcore.crash_runner '<json>'

The JSON names the mailbox ({"maildir": path} or {"imap": ImapConfig fields}), the history
database, a log file (one line per handler that returned) and `kill_at`, the handler call on
whose entry the process dies: the calls before it returned and nothing after them ran --
neither the batch's history write nor the move. `lease` (seconds, optional): its claims' lease,
after which another engine takes its messages over.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from mailcore.mailboxes.imap import ImapConfig, ImapMailbox
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.engine import Engine
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.store.history import History
from tests.mailcore.engine_support import VEHICLE_SCHEMA


def main(spec: dict[str, Any]) -> None:
    mailbox: Mailbox
    if "maildir" in spec:
        mailbox = MaildirMailbox(spec["maildir"])
    else:
        mailbox = ImapMailbox(ImapConfig(**spec["imap"]))
    calls = 0

    def vehicle(ctx: HandlerContext) -> None:
        nonlocal calls
        calls += 1
        if calls == spec["kill_at"]:
            os.kill(os.getpid(), signal.SIGKILL)
        with open(spec["log"], "a", encoding="utf-8") as log:
            log.write(ctx.payload["plate_number"] + "\n")

    registry = Registry()
    registry.add("vehicle", vehicle, prefix="VEH-", schema=VEHICLE_SCHEMA)
    lease = float(spec.get("lease", 120))
    Engine(mailbox, registry, History(spec["history"]), claim_lease=lease).poll_once(batch_size=100)
    raise SystemExit("the handler never reached the call that kills the process")


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
