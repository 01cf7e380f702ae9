"""`ImapMailbox`: the Mailbox interface on a real IMAP server, through imapclient.

Always UID commands; bodies are fetched with BODY.PEEK (never sets \\Seen) and only when asked;
summaries come from a few header fields, RFC822.SIZE, FLAGS and INTERNALDATE. The work is
delegated: the connection, retries, error translation and UIDVALIDITY to an `ImapSession`
(`session`), the move protocol to an `ImapMover` (`move`), IDLE to an `ImapIdle` (`idle`),
and everything that touches imaplib's internals, and the quoting of callers' values, to `wire`.

A dropped connection is re-opened with exponential backoff and the operation retried when that
is safe: reads always; moves and appends after re-checking what the server already did. One lock
serialises the public operations, so the engine and the console can share an instance.

Caller-controlled strings never become command text (see `wire`); what no IMAP string can carry
raises `UnsendableValue` before anything is sent, and is never retried. A search for such a
value matches nothing, as no stored header can hold it.

UIDVALIDITY: the value first seen for a folder (or last returned by `uidvalidity()`) is
remembered; when the server's differs, the next operation given UIDs (summaries, fetch, move)
raises `UidValidityChanged` once, and `uidvalidity()` returns the new value.
"""

from __future__ import annotations

import functools
import imaplib
import logging
import re
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from imapclient import IMAPClient

from mailcore.errors import ConnectionLost, MailboxError
from mailcore.inbound import headers
from mailcore.mailboxes.imap import wire
from mailcore.mailboxes.imap.config import ImapConfig
from mailcore.mailboxes.imap.idle import ImapIdle
from mailcore.mailboxes.imap.move import ImapMover, _BatchState
from mailcore.mailboxes.imap.session import ImapSession, RetryPolicy
from mailcore.mailboxes.imap.values import _chunks, _summary, _text, _unique
from mailcore.mailboxes.imap.wire import (
    _flag,
    _folder_name,
    _imap_string,
    read_bodies,
    read_sizes,
)
from mailcore.mailboxes.protocol import MoveResult, Summary, searchable

log = logging.getLogger(__name__)

T = TypeVar("T")

_SUMMARY_ITEMS = [
    "FLAGS",
    "INTERNALDATE",
    "RFC822.SIZE",
    "BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT MESSAGE-ID)]",
]
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)


class ImapMailbox:
    """The Mailbox interface on an IMAP account (see the module docstring)."""

    def __init__(
        self,
        config: ImapConfig,
        *,
        retries: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
    ) -> None:
        self.config = config
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        policy = RetryPolicy(retries, backoff, max_backoff)
        self._session = ImapSession(config, policy)
        self._mover = ImapMover(self._session)
        self._idle = ImapIdle(config, policy)

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ImapMailbox {self.config.username}@{self.config.address}>"

    def connect(self) -> None:
        """Connect and log in now (otherwise the first operation does)."""
        self._session.run("connect", lambda c: None)

    def close(self) -> None:
        """Log out and close the connection; safe to call twice (a later operation reconnects)."""
        self._idle.close()
        self._session.close()

    @property
    def capabilities(self) -> frozenset[str]:
        """Capabilities the server advertised after login (upper case), empty before."""
        return self._session.capabilities

    # -- folders ------------------------------------------------------------------------------

    def ensure_folder(self, folder: str) -> None:
        """Create the folder if it does not exist."""
        _folder_name(folder)
        self._session.run(f"create folder {folder!r}", lambda c: self._session.ensure(c, folder))

    def uidvalidity(self, folder: str) -> int:
        """The folder's UIDVALIDITY; it changes when UIDs are renumbered."""
        _folder_name(folder)

        def op(client: IMAPClient) -> int:
            if self._session.selected == folder:
                value = self._session.current[folder]
            else:
                try:
                    status = client.folder_status(folder, ["UIDVALIDITY"])
                except imaplib.IMAP4.abort:
                    raise
                except imaplib.IMAP4.error as e:
                    raise MailboxError(
                        f"no folder {folder!r} on {self.config.address}: {_text(e)}"
                    ) from e
                value = int(status[b"UIDVALIDITY"])
            self._session.known[folder] = value
            return value

        return self._session.run(f"uidvalidity of {folder!r}", op)

    def refresh(self, folder: str) -> None:
        """Bring the session's view of `folder` up to date (uids() already does this)."""
        _folder_name(folder)
        self._session.run(
            f"refresh {folder!r}",
            lambda c: self._session.select(c, folder, uids_from_caller=False, sync=True),
        )

    # -- reading ------------------------------------------------------------------------------

    def uids(self, folder: str) -> list[int]:
        """UIDs of messages not flagged \\Deleted, ascending ([] when the folder is missing)."""
        _folder_name(folder)

        def op(client: IMAPClient) -> list[int]:
            if not self._session.select(client, folder, uids_from_caller=False, sync=True):
                return []
            return sorted(self._session.search(client, b"UNDELETED"))

        return self._session.run(f"list {folder!r}", op)

    def search_from(self, folder: str, sender: str) -> list[int]:
        """UIDs (ascending, not \\Deleted) whose From contains `sender` (server-side search,
        case-insensitive); a `sender` no IMAP string can carry matches nothing."""
        return self._search_for(folder, b"FROM", sender, "sender filter")

    def find(self, folder: str, message_id: str) -> list[int]:
        """UIDs (ascending, not \\Deleted) whose Message-ID header contains `message_id`
        (UID SEARCH HEADER): candidates only, compare their bytes before relying on one."""
        needle = message_id.strip()
        if not needle:
            return []
        return self._search_for(folder, b"HEADER Message-ID", needle, "Message-ID")

    def _search_for(self, folder: str, key: bytes, value: str, what: str) -> list[int]:
        _folder_name(folder)
        if not searchable(value):  # no header the server stores can hold it: "none"
            log.info("search of %r for an unsendable %s matches nothing", folder, what)
            return []
        wire = _imap_string(value, what)

        def op(client: IMAPClient) -> list[int]:
            if not self._session.select(client, folder, uids_from_caller=False, sync=True):
                return []
            return sorted(self._session.search(client, b"UNDELETED", *key.split(), wire))

        return self._session.run(f"search {folder!r}", op)

    def discard(self, folder: str, uids: Sequence[int]) -> None:
        """Flag these UIDs \\Deleted and UID EXPUNGE exactly them (with UIDPLUS; without it they
        stay flagged, hidden from `uids`). Only for messages whose copy is confirmed elsewhere."""
        _folder_name(folder)
        wanted = _unique(uids)
        if not wanted:
            return

        def op(client: IMAPClient) -> None:
            if self._session.select(client, folder, uids_from_caller=True):
                self._mover.remove(client, folder, wanted)

        self._session.run(f"remove from {folder!r}", op)

    def summaries(self, folder: str, uids: Sequence[int]) -> list[Summary]:
        """Summaries for these UIDs (missing UIDs are skipped), in the order given; no bodies."""
        _folder_name(folder)
        wanted = _unique(uids)
        if not wanted:
            return []

        def op(client: IMAPClient) -> list[Summary]:
            if not self._session.select(client, folder, uids_from_caller=True):
                return []
            found: dict[int, Summary] = {}
            for batch in _chunks(wanted, self.config.batch_size):
                for uid, data in client.fetch(batch, _SUMMARY_ITEMS).items():
                    found[int(uid)] = _summary(int(uid), data)
            return [found[u] for u in wanted if u in found]

        return self._session.run(f"list {folder!r}", op)

    def sizes(self, folder: str, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE by UID, nothing downloaded; missing UIDs are absent from the result."""
        return self._by_batch(f"sizes in {folder!r}", folder, uids, read_sizes)

    def fetch(self, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
        """Raw bytes by UID, without setting \\Seen; missing UIDs are absent from the result."""
        return self._by_batch(f"fetch from {folder!r}", folder, uids, read_bodies)

    def _by_batch(
        self,
        what: str,
        folder: str,
        uids: Sequence[int],
        read: Callable[[IMAPClient, list[int]], dict[int, T]],
    ) -> dict[int, T]:
        """`read(client, batch)` for the UIDs in batches of `batch_size`, merged."""
        _folder_name(folder)
        wanted = _unique(uids)
        if not wanted:
            return {}

        def op(client: IMAPClient) -> dict[int, T]:
            if not self._session.select(client, folder, uids_from_caller=True):
                return {}
            out: dict[int, T] = {}
            for batch in _chunks(wanted, self.config.batch_size):
                out.update(read(client, batch))
            return out

        return self._session.run(what, op)

    def wait_for_changes(
        self, folder: str, timeout: float, *, pending: Callable[[], bool] | None = None
    ) -> bool:
        """Block until new mail arrives in `folder` or `timeout` seconds pass; True if it did.

        IMAP IDLE on a connection of its own (opened on first use, same settings, reconnected
        like the main one), so this mailbox's other operations go on meanwhile. `pending()`,
        if given, is asked once IDLE runs, so mail that came between the caller's last look and
        the start of IDLE is not left waiting for the timeout. Keep `timeout` under the 29
        minutes after which servers may end an IDLE. Without IDLE on the server this just
        sleeps for `timeout` and returns True (poll anyway).
        """
        _folder_name(folder)
        return self._idle.wait(folder, timeout, pending)

    # -- writing ------------------------------------------------------------------------------

    def append(self, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int | None:
        """Store a message (creating the folder); returns its UID from APPENDUID, if sent.

        The message goes as one literal, its bare CRs and LFs as CRLF, never copied whole
        (`wire.append`): a 30 MB mail costs about 30 MB, not imaplib's five copies.

        A retry after a dropped connection first looks for the message (by Message-ID) among
        those that arrived since, so a message is never stored twice; a message without a
        Message-ID is not retried.
        """
        _folder_name(folder)
        flags = tuple(_flag(f) for f in flags)
        message_id = headers.message_id(raw)
        state: dict[str, Any] = {"uidnext": None, "sent": False}

        def op(client: IMAPClient) -> int | None:
            self._session.ensure(client, folder)
            if state["sent"]:
                if message_id is None:
                    raise ConnectionLost(
                        f"append to {folder!r} on {self.config.address}: the connection dropped "
                        "while storing a message without Message-ID; it may or may not be there"
                    )
                found = self._mover.find_new(client, folder, state["uidnext"], [message_id])
                if message_id in found:
                    return found[message_id]
            if state["uidnext"] is None:
                state["uidnext"] = self._session.uidnext(client, folder)
            state["sent"] = True
            caps = self._session.capabilities
            response = wire.append(client, folder, flags, raw, literal_plus="LITERAL+" in caps)
            match = _APPENDUID.search(response)
            uidplus = "UIDPLUS" in caps
            return int(match.group(2)) if match and uidplus else None

        return self._session.run(f"append to {folder!r}", op)

    def move(self, folder: str, uids: Sequence[int], dest: str) -> MoveResult:
        """Move UIDs to `dest` (created if missing), in batches; the source copy goes only once
        the destination copy is confirmed. UIDs missing or already \\Deleted are skipped.

        With UIDPLUS the result carries `dest`'s UIDVALIDITY from the server's COPYUID (then
        remembered as `uidvalidity(dest)` remembers it), so no STATUS is needed to record
        where the messages went. Each batch's STATUS of `dest` both checks that it exists
        (creating it when refused) and gives its UIDNEXT, which a batch interrupted by a
        dropped connection searches from; with MOVE and UIDPLUS it is sent ahead of the
        batch's SEARCH, one round trip for both."""
        _folder_name(folder)
        _folder_name(dest)
        wanted = _unique(uids)
        if not wanted:
            return MoveResult()
        moved: dict[int, int | None] = {}
        validities: set[int | None] = set()
        with self._session.lock:
            if dest == folder:
                self._session.run(
                    f"create folder {dest!r}", lambda c: self._session.ensure(c, dest)
                )
                present = set(self.uids(folder))
                return MoveResult({u: u for u in wanted if u in present})
            ready = False
            for batch in _chunks(wanted, self.config.batch_size):
                state = _BatchState(batch)
                self._session.run(
                    f"move from {folder!r} to {dest!r}",
                    functools.partial(self._mover.move_batch, folder=folder, dest=dest, st=state),
                )
                moved.update(state.moved)
                ready = ready or state.dest_ready
                if state.moved:
                    validities.add(state.validity)
            if not ready:  # no batch got as far as the destination's STATUS: created all the same
                self._session.run(
                    f"create folder {dest!r}", lambda c: self._session.ensure(c, dest)
                )
            validity = validities.pop() if len(validities) == 1 else None
            if validity is not None:
                self._session.known[dest] = validity
        return MoveResult(moved, validity)
