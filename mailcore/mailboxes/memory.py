"""`MemoryMailbox`: the whole Mailbox interface in memory, for the tests of handler authors (as
httpx ships MockTransport): no server, no files, and the same rules as the real backends.

UIDs are per folder, ascending, never reused; every folder has a UIDVALIDITY, and `renumber()`
gives a folder new UIDs under a new one, as a server rebuilding its index does: the next
operation given UIDs from before then raises UidValidityChanged once, as on IMAP. Flags are kept
as given (a message flagged \\Deleted is hidden from `uids`, `find` and `search_from`); a move
copies into the destination before it removes the source. Folder names and flags are checked as
IMAP checks them (UnsendableValue), searches take any text as a case-insensitive substring, and
one lock makes it safe to share between threads, like the engine and the console do.

    box = MemoryMailbox()
    box.append("INBOX", raw)
    Engine(box, registry, history).poll_once()
    assert box.uids("processed") == [1]
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mailcore.errors import MailboxError, UidValidityChanged
from mailcore.inbound import headers
from mailcore.mailboxes.imap.wire import _flag, _folder_name
from mailcore.mailboxes.protocol import MoveResult, Summary, searchable

DELETED = "\\Deleted"
_FieldOf = Callable[[Summary], str]


@dataclass
class _Stored:
    raw: bytes
    flags: tuple[str, ...]

    @property
    def deleted(self) -> bool:
        return any(f.lower() == DELETED.lower() for f in self.flags)


@dataclass
class _Folder:
    uidvalidity: int
    next_uid: int = 1
    messages: dict[int, _Stored] = field(default_factory=dict)  # in ascending UID order


class MemoryMailbox:
    """A Mailbox held in memory (see the module docstring); INBOX exists from the start."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._validities = itertools.count(int(time.time()))
        self._folders: dict[str, _Folder] = {}
        self._known: dict[str, int] = {}  # UIDVALIDITY the caller's UIDs belong to
        self.ensure_folder("INBOX")

    def __repr__(self) -> str:
        return f"<MemoryMailbox {sorted(self._folders)}>"

    # -- folders ------------------------------------------------------------------------------

    @staticmethod
    def _name(folder: str) -> str:
        _folder_name(folder)
        return "INBOX" if folder.upper() == "INBOX" else folder

    def _folder(self, folder: str, *, uids_from_caller: bool = False) -> _Folder:
        name = self._name(folder)
        state = self._folders.get(name)
        if state is None:
            raise MailboxError(f"folder {folder!r} does not exist in {self!r}")
        known = self._known.setdefault(name, state.uidvalidity)
        if uids_from_caller and known != state.uidvalidity:
            self._known[name] = state.uidvalidity
            raise UidValidityChanged(
                f"folder {folder!r} was renumbered (UIDVALIDITY {known} -> "
                f"{state.uidvalidity}): UIDs listed before are void -- list the folder again"
            )
        return state

    def ensure_folder(self, folder: str) -> None:
        """Create the folder if it does not exist."""
        name = self._name(folder)
        with self._lock:
            if name not in self._folders:
                self._folders[name] = _Folder(next(self._validities))

    def folders(self) -> list[str]:
        """The folders that exist, sorted."""
        with self._lock:
            return sorted(self._folders)

    def uidvalidity(self, folder: str) -> int:
        """The folder's UIDVALIDITY; it changes when `renumber()` gives it new UIDs."""
        with self._lock:
            state = self._folder(folder)
            self._known[self._name(folder)] = state.uidvalidity
            return state.uidvalidity

    def renumber(self, folder: str) -> None:
        """Give the folder's messages new UIDs (1, 2, ...) under a new UIDVALIDITY."""
        with self._lock:
            state = self._folder(folder)
            stored = list(state.messages.values())
            state.uidvalidity = next(self._validities)
            state.messages = dict(enumerate(stored, start=1))
            state.next_uid = len(stored) + 1

    # -- reading ------------------------------------------------------------------------------

    def uids(self, folder: str) -> list[int]:
        """UIDs of messages not flagged \\Deleted, ascending."""
        with self._lock:
            state = self._folder(folder)
            return [uid for uid, m in state.messages.items() if not m.deleted]

    def summaries(self, folder: str, uids: Sequence[int]) -> list[Summary]:
        """Summaries for these UIDs (missing UIDs are skipped), in the order given."""
        with self._lock:
            state = self._folder(folder, uids_from_caller=True)
            found = [(uid, state.messages[uid]) for uid in uids if uid in state.messages]
        return [_summary(uid, stored) for uid, stored in found]

    def sizes(self, folder: str, uids: Sequence[int]) -> dict[int, int]:
        """Size in bytes by UID; missing UIDs are absent."""
        with self._lock:
            state = self._folder(folder, uids_from_caller=True)
            return {u: len(state.messages[u].raw) for u in uids if u in state.messages}

    def fetch(self, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
        """Raw bytes by UID, without setting \\Seen; missing UIDs are absent."""
        with self._lock:
            state = self._folder(folder, uids_from_caller=True)
            return {u: state.messages[u].raw for u in uids if u in state.messages}

    def find(self, folder: str, message_id: str) -> list[int]:
        """UIDs (ascending, not \\Deleted) whose Message-ID contains `message_id`, ignoring
        case: candidates only, compare their bytes before relying on one."""
        needle = message_id.strip()
        return self._search(folder, needle, lambda s: s.message_id or "") if needle else []

    def search_from(self, folder: str, sender: str) -> list[int]:
        """UIDs (ascending, not \\Deleted) whose From contains `sender`, ignoring case."""
        return self._search(folder, sender, lambda s: s.sender)

    def _search(self, folder: str, value: str, field_of: _FieldOf) -> list[int]:
        with self._lock:
            live = self.uids(folder)
            if not searchable(value):  # as on IMAP, where it cannot even be sent
                return []
            needle = value.lower()
            return [s.uid for s in self.summaries(folder, live) if needle in field_of(s).lower()]

    # -- writing ------------------------------------------------------------------------------

    def append(self, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int | None:
        """Store a message (creating the folder); returns its UID."""
        checked = tuple(dict.fromkeys(_flag(f) for f in flags))
        with self._lock:
            self.ensure_folder(folder)
            return self._store(self._folder(folder), _Stored(bytes(raw), checked))

    @staticmethod
    def _store(state: _Folder, stored: _Stored) -> int:
        uid = state.next_uid
        state.next_uid += 1
        state.messages[uid] = stored
        return uid

    def move(self, folder: str, uids: Sequence[int], dest: str) -> MoveResult:
        """Copy into `dest` (created if missing), then remove the sources; UIDs missing or
        flagged \\Deleted are skipped."""
        with self._lock:
            src = self._folder(folder, uids_from_caller=True)
            self.ensure_folder(dest)
            if self._name(dest) == self._name(folder):
                return MoveResult({u: u for u in uids if u in self.uids(folder)})
            target = self._folder(dest)
            live = [u for u in dict.fromkeys(uids) if u in src.messages]
            todo = [u for u in live if not src.messages[u].deleted]
            moved: dict[int, int | None] = {u: self._store(target, src.messages[u]) for u in todo}
            for u in moved:  # only once every copy is in place
                del src.messages[u]
            return MoveResult(moved)

    def discard(self, folder: str, uids: Sequence[int]) -> None:
        """Remove these messages from `folder`, and only them."""
        with self._lock:
            state = self._folder(folder, uids_from_caller=True)
            for u in uids:
                state.messages.pop(u, None)

    def close(self) -> None:
        """Nothing to release; the messages stay, so a test can look at them afterwards."""


def _summary(uid: int, stored: _Stored) -> Summary:
    block = headers.header_block(stored.raw)
    fields = headers.header_fields(block)
    return Summary(
        uid=uid,
        date=headers.parse_date(fields.get("date")),
        sender=headers.decode_words(fields.get("from", "")),
        subject=headers.decode_words(fields.get("subject", "")),
        size=len(stored.raw),
        flags=stored.flags,
        message_id=headers.message_id(block),
    )
