"""`mailcore serve --poll`'s (and the demo's) background poller."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class Poller:
    """Runs engine.poll_once() every `interval` seconds in a daemon thread, and applies the
    history's retention (at most once a day). After a failed poll, whatever the exception, it
    waits the interval and never less than MIN_RETRY_SECONDS."""

    def __init__(self, engine: Any, interval: float) -> None:
        from mailcore import MIN_RETRY_SECONDS, RetentionSchedule

        self.engine = engine
        self.interval = interval
        self.retry = max(interval, MIN_RETRY_SECONDS)
        self.retention = RetentionSchedule(engine.history)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailcore-poller", daemon=True)

    def start(self) -> Poller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            wait = self.interval
            try:
                outcomes = self.engine.poll_once()
                if outcomes:
                    log.info("poll: %d message(s) handled", len(outcomes))
            except Exception:  # keep polling: the next round may succeed (server back up)
                wait = self.retry  # a failure that repeats must not spin
                log.exception("poll failed; retrying in %.0f s", wait)
            try:
                self.retention.maybe_purge()  # logs its own failure and carries on
            except Exception:  # the thread must outlive any one failure
                log.exception("retention purge failed; polling goes on")
