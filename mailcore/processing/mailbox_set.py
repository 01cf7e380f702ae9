"""`EngineSet`: the engines of several configured mailboxes polled as one -- what `serve
--poll`'s background poller runs when there are several. Each round polls every mailbox in
turn; a mailbox that fails (its server down) is logged and skipped for a wait that doubles with
each failure in a row (from MIN_RETRY_SECONDS up to MAX_RETRY_SECONDS), while the others go on
being polled every round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from mailcore.errors import MailcoreError
from mailcore.processing.engine import MIN_RETRY_SECONDS, Engine, Outcome
from mailcore.store.history import History

__all__ = ["MAX_RETRY_SECONDS", "EngineSet"]

logger = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 300.0


class EngineSet:
    """Several mailboxes' engines behind one `poll_once` (see the module docstring)."""

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        if not engines:
            raise ValueError("an EngineSet needs at least one engine")
        self.engines = dict(engines)
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}

    @property
    def history(self) -> History:
        """The history the engines share."""
        return next(iter(self.engines.values())).history

    def poll_once(self, batch_size: int = 200) -> list[Outcome]:
        """One poll of every mailbox not waiting after a failure; their outcomes together.
        Raises the first error only when every mailbox polled failed."""
        outcomes: list[Outcome] = []
        errors: list[Exception] = []
        worked = 0
        for name, engine in self.engines.items():
            if time.monotonic() < self._retry_at.get(name, 0.0):
                continue
            try:
                outcomes.extend(engine.poll_once(batch_size))
            except Exception as e:  # this mailbox waits; the others are polled
                errors.append(e)
                self._failed(name, e)
                continue
            worked += 1
            self._failures.pop(name, None)
            self._retry_at.pop(name, None)
        if errors and not worked:
            raise errors[0]
        return outcomes

    def _failed(self, name: str, e: Exception) -> None:
        failures = self._failures[name] = self._failures.get(name, 0) + 1
        wait = min(MIN_RETRY_SECONDS * 2 ** (failures - 1), MAX_RETRY_SECONDS)
        self._retry_at[name] = time.monotonic() + wait
        # A MailcoreError's text names the server or folder; any other may quote a mail.
        why = str(e) if isinstance(e, MailcoreError) else type(e).__name__
        logger.error("mailbox %r: poll failed, retrying in %.0fs: %s", name, wait, why)
