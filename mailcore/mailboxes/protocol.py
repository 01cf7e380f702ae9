"""The `Mailbox` interface the engine and the console run on, whatever the backend.

Implementations: `mailcore.mailboxes.imap.ImapMailbox` (a real server),
`mailcore.mailboxes.maildir.MaildirMailbox` (a local folder tree, the embedded default) and
`mailcore.mailboxes.memory.MemoryMailbox` (in memory, for tests). UIDs are per folder,
ascending, stable while the folder's UIDVALIDITY is unchanged.

Searches (`find`, and `search_from` where a backend has it) take any text and match it as a
case-insensitive substring; text that no IMAP string can carry (see `searchable`) matches
nothing on every backend. Folder names and flags that cannot be sent raise UnsendableValue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# A search for more bytes (UTF-8) than this matches nothing: no header is that long, and an
# IMAP server would refuse the command.
MAX_SEARCH_VALUE = 4096


def searchable(value: str) -> bool:
    """Whether a search for `value` can match anything: not when it holds a NUL or a lone
    surrogate (no stored header can) or is longer than MAX_SEARCH_VALUE bytes."""
    if "\x00" in value:
        return False
    try:
        return len(value.encode("utf-8")) <= MAX_SEARCH_VALUE
    except UnicodeEncodeError:
        return False


@dataclass(frozen=True)
class Summary:
    """What a list needs of one message, obtained without downloading its body."""

    uid: int
    date: datetime | None
    sender: str
    subject: str
    size: int
    flags: tuple[str, ...] = ()
    message_id: str | None = None


@dataclass(frozen=True)
class MoveResult:
    """Where moved messages went: old UID -> new UID in the destination (None when unknown),
    and the destination's UIDVALIDITY those new UIDs belong to when the server said it with
    them (IMAP's COPYUID; None otherwise: ask `Mailbox.uidvalidity`)."""

    moved: dict[int, int | None] = field(default_factory=dict)
    uidvalidity: int | None = None


class Mailbox(Protocol):
    def ensure_folder(self, folder: str) -> None:
        """Create the folder if it does not exist."""

    def uidvalidity(self, folder: str) -> int:
        """The folder's UIDVALIDITY; it changes when UIDs are renumbered."""

    def uids(self, folder: str) -> list[int]:
        """UIDs of messages not flagged \\Deleted, ascending."""

    def summaries(self, folder: str, uids: Sequence[int]) -> list[Summary]:
        """Summaries for these UIDs (missing UIDs are skipped), in the order given."""

    def sizes(self, folder: str, uids: Sequence[int]) -> dict[int, int]:
        """Size in bytes by UID, without downloading anything; missing UIDs are absent."""

    def fetch(self, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
        """Raw bytes by UID, without setting \\Seen; missing UIDs are absent from the result."""

    def move(self, folder: str, uids: Sequence[int], dest: str) -> MoveResult:
        """Move UIDs to `dest` (created if missing); the source copy goes only once the
        destination copy is confirmed; the result's `uidvalidity` is `dest`'s when the backend
        learnt it with the new UIDs."""

    def find(self, folder: str, message_id: str) -> list[int]:
        """UIDs (ascending, not \\Deleted) whose Message-ID header contains `message_id`
        (case-insensitive; any text, see the module docstring): candidates only -- compare
        their bytes before relying on one being the same message."""

    def discard(self, folder: str, uids: Sequence[int]) -> None:
        """Remove these messages from `folder`, and only them.

        Only for a message whose identical copy is confirmed elsewhere (e.g. a move that was
        interrupted between its copy and its delete): nothing is copied first.
        """

    def append(self, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int | None:
        """Store a message; returns its UID when the backend tells it. A flag is an IMAP atom,
        optionally after one backslash (\\Seen, $Label); others raise UnsendableValue."""

    def close(self) -> None:
        """Release the connection; safe to call twice."""
