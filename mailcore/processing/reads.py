"""What the operators' actions have read of a message, kept for the next action on it.

A detail page, its HTML frame, every validate while the operator types and the resubmit of
one message fetch and extract it once. An entry is valid for (folder, UIDVALIDITY, UID): a
server never gives a UID to another message while the folder's UIDVALIDITY stands. Before an
action relies on an entry, `ReadCache.get` confirms that the message is still there (a size
query, no download); read-only views may skip that (`confirm=False`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailcore.errors import MailboxError
from mailcore.inbound.extract import Extraction
from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.outcomes import message_key

__all__ = ["Read", "ReadCache"]

# Kept for the messages operators have open: a few dozen, and never more raw bytes than this.
MAX_ENTRIES = 32
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Read:
    """One message as fetched and extracted."""

    validity: int
    raw: bytes
    extraction: Extraction
    key: str  # its key (message_key(raw), scoped to its mailbox)


class ReadCache:
    """Fetched and extracted messages by (folder, UID), least recently used dropped first."""

    def __init__(
        self,
        mailbox: Mailbox,
        extract: Callable[[bytes], Extraction],
        key: Callable[[bytes], str] = message_key,
    ) -> None:
        """`key`: a message's key as its mailbox knows it (`MailboxScope.key`)."""
        self.mailbox = mailbox
        self._extract = extract
        self._key = key
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], Read] = OrderedDict()
        self._bytes = 0

    def get(self, folder: str, uid: int, *, confirm: bool = True) -> Read:
        """The message `uid` of `folder`; MailboxError when it is no longer there."""
        hit = self._lookup(folder, uid)
        if hit is not None and not confirm:
            return hit
        validity = self.mailbox.uidvalidity(folder)
        if hit is not None and hit.validity == validity:
            if uid in self.mailbox.sizes(folder, [uid]):
                return hit
            self.forget(folder, [uid])
            raise MailboxError(f"message {uid} is no longer in {folder!r}")
        raw = self.mailbox.fetch(folder, [uid]).get(uid)
        if raw is None:
            self.forget(folder, [uid])
            raise MailboxError(f"message {uid} is no longer in {folder!r}")
        read = Read(validity, raw, self._extract(raw), self._key(raw))
        self._store(folder, uid, read)
        return read

    def forget(self, folder: str, uids: Sequence[int]) -> None:
        """Drop these messages (moved away by an action)."""
        with self._lock:
            for uid in uids:
                old = self._entries.pop((folder, uid), None)
                if old is not None:
                    self._bytes -= len(old.raw)

    def _lookup(self, folder: str, uid: int) -> Read | None:
        with self._lock:
            hit = self._entries.get((folder, uid))
            if hit is not None:
                self._entries.move_to_end((folder, uid))
            return hit

    def _store(self, folder: str, uid: int, read: Read) -> None:
        with self._lock:
            old = self._entries.pop((folder, uid), None)
            self._bytes += len(read.raw) - (len(old.raw) if old else 0)
            self._entries[(folder, uid)] = read
            while len(self._entries) > 1 and (
                len(self._entries) > MAX_ENTRIES or self._bytes > MAX_BYTES
            ):
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.raw)
