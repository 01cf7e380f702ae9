"""`ImapIdle`: waiting for new mail with IMAP IDLE, on a session of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from imapclient import IMAPClient

from mailcore.mailboxes.imap.config import ImapConfig
from mailcore.mailboxes.imap.session import ImapSession, RetryPolicy


class ImapIdle:
    """IDLE on a connection of its own (opened on first use, same settings, reconnected like
    the main one), so the mailbox's other operations go on meanwhile."""

    def __init__(self, config: ImapConfig, policy: RetryPolicy) -> None:
        self.config = config
        self.policy = policy
        self._lock = threading.Lock()
        self._session: ImapSession | None = None  # opened on first use

    def wait(self, folder: str, timeout: float, pending: Callable[[], bool] | None) -> bool:
        """Block until new mail arrives in `folder` or `timeout` seconds pass; True if it did
        (see `ImapMailbox.wait_for_changes`)."""
        with self._lock:
            if self._session is None:
                self._session = ImapSession(self.config, self.policy)
            watcher = self._session

        def op(client: IMAPClient) -> bool:
            if "IDLE" not in watcher.capabilities:
                time.sleep(max(0.0, timeout))
                return True
            watcher.selected = None  # the IDLE session selects the folder itself
            client.select_folder(folder, readonly=True)
            client.idle()
            try:
                if pending is not None and pending():
                    return True
                deadline = time.monotonic() + timeout
                while (left := deadline - time.monotonic()) > 0:
                    # Only EXISTS means new mail; "OK Still here" and flag changes do not.
                    for response in client.idle_check(timeout=left):
                        if len(response) > 1 and response[1] == b"EXISTS":
                            return True
                return False
            finally:
                client.idle_done()

        return watcher.run(f"wait for mail in {folder!r}", op)

    def close(self) -> None:
        """Close the IDLE connection, if open; a later `wait` opens a new one."""
        with self._lock:
            watcher, self._session = self._session, None
        if watcher is not None:
            watcher.close()
