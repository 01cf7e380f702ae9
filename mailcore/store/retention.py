"""Applying the history's retention from a long-running loop: at most once a day, never fatal."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from mailcore.store.history import History

__all__ = ["PURGE_EVERY_SECONDS", "RETRY_SECONDS", "RetentionSchedule"]

logger = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 24 * 3600
# After a failed purge (database locked, disk full...), try again sooner than a day.
RETRY_SECONDS = 3600


class RetentionSchedule:
    """Calls `history.purge()` when due: at the first call, then once every `every` seconds.

    A purge that fails is logged and retried after `retry` seconds; it never stops the loop
    that polls the mail.
    """

    def __init__(
        self,
        history: History,
        every: float = PURGE_EVERY_SECONDS,
        retry: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.history = history
        self.every = every
        self.retry = retry
        self.clock = clock
        self._next: float | None = None

    def maybe_purge(self) -> int | None:
        """Purge if due; the number of events deleted, or None when not due or it failed."""
        current = self.clock()
        if self._next is not None and current < self._next:
            return None
        try:
            deleted = self.history.purge()
        except Exception:
            logger.exception("purging the history failed; trying again in %.0f s", self.retry)
            self._next = current + self.retry
            return None
        self._next = current + self.every
        return deleted
