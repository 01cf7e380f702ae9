"""What the ingress tests share: one engine poll over the mailbox a settings file names."""

from __future__ import annotations

from pathlib import Path

from mailcore.config import Settings, open_mailbox
from mailcore.processing.engine import Engine
from mailcore.processing.vocabulary import Status
from mailcore.store.history import History
from tests.mailcore.engine_support import Calls, make_registry


def poll_once(config: str | Path, database: Path) -> tuple[list[Status], Calls]:
    """The statuses of one `Engine.poll_once` with the vehicle handlers, and their calls."""
    calls = Calls()
    mailbox = open_mailbox(Settings.load(config))
    history = History(f"sqlite:///{database}")
    try:
        outcomes = Engine(mailbox, make_registry(calls), history).poll_once()
    finally:
        mailbox.close()
        history.close()
    return [o.status for o in outcomes], calls
