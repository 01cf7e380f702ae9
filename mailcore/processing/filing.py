"""Filing: moving decided messages to their folders and recording where they went.

A batch's messages are moved with ONE mailbox call per destination folder (`Filing.transfer`,
the mailbox part, which the engine may run in a second thread), then recorded
(`Filing.record_moves`, the history part, always in the caller's thread).

Crash recovery: the Mailbox removes a source only once its copy is confirmed; filing itself
removes (`Mailbox.discard`) only a message seen by an earlier run whose identical bytes it finds
in the destination -- the copy a crash left behind -- so a message interrupted mid-move still
ends up filed exactly once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from mailcore.config import Folders
from mailcore.errors import ConnectionLost, MailboxError
from mailcore.mailboxes.protocol import Mailbox, MoveResult
from mailcore.processing.outcomes import Outcome, legacy_message_key
from mailcore.processing.pipeline import Work
from mailcore.processing.scope import DEFAULT_SCOPE, MailboxScope
from mailcore.processing.vocabulary import EventKind
from mailcore.store.history import History, LogEvent

__all__ = ["Filing", "Transfer"]

logger = logging.getLogger(__name__)

# How many of a destination's newest messages are compared with a message without Message-ID
# that an earlier run may have copied there already.
_RECENT = 500

# What the mailbox part of a move did: (MoveResult, destination UIDVALIDITY) per destination
# folder, and the first error.
Transfer = tuple[dict[str, tuple[MoveResult, int]], Exception | None]


class Filing:
    """Creates the folders, moves messages to their destinations and records the moves."""

    def __init__(
        self,
        mailbox: Mailbox,
        history: History,
        folders: Folders,
        scope: MailboxScope = DEFAULT_SCOPE,
    ) -> None:
        self.mailbox = mailbox
        self.history = history
        self.folders = folders
        self.scope = scope  # which configured mailbox: recorded beside each folder
        self._ready = False

    def ensure_folders(self) -> None:
        """Create the inbox and the destination folders (once)."""
        if not self._ready:
            f = self.folders
            for name in (f.inbox, f.processed, f.failed, f.auto, f.rejected):
                self.mailbox.ensure_folder(name)
            self._ready = True

    def move(self, folder: str, works: Sequence[Work], actor: str) -> list[Outcome]:
        """Move the messages, then record where they went."""
        return self.record_moves(folder, works, self.transfer(folder, works), actor)

    def transfer(self, folder: str, works: Sequence[Work]) -> Transfer:
        """Move each destination's messages in one call; the mailbox part of `move`.

        Messages seen by an earlier run go second, one by one: when their destination already
        holds the same bytes (a move interrupted between its copy and its delete, or the same
        message earlier in this batch) only the original is removed, so one copy remains.
        """
        by_dest: dict[str, list[Work]] = defaultdict(list)
        for w in works:
            if w.dest and w.dest != folder:
                by_dest[w.dest].append(w)
        done: dict[str, tuple[MoveResult, int]] = {}
        broken: set[str] = set()
        error: Exception | None = None
        for known in (False, True):
            for dest, group in by_dest.items():
                todo = [w for w in group if w.known == known]
                if not todo or dest in broken:
                    continue
                try:
                    moved = self._already_filed(folder, dest, todo) if known else {}
                    if moved:
                        self.mailbox.discard(folder, list(moved))
                    rest = [w.uid for w in todo if w.uid not in moved]
                    validity = None
                    if rest:
                        result = self.mailbox.move(folder, rest, dest)
                        moved.update(result.moved)
                        validity = result.uidvalidity  # told with the new UIDs (COPYUID)
                    if validity is None:
                        validity = self.mailbox.uidvalidity(dest)
                    earlier = done[dest][0].moved if dest in done else {}
                    done[dest] = (MoveResult({**earlier, **moved}), validity)
                except Exception as exc:  # the other destinations still get their messages
                    logger.error("moving %d message(s) to %r failed: %s", len(todo), dest, exc)
                    broken.add(dest)
                    error = error or exc
                    if isinstance(exc, ConnectionLost):  # the server is gone: so are the others
                        return done, error
        return done, error

    def _already_filed(
        self, folder: str, dest: str, works: Sequence[Work]
    ) -> dict[int, int | None]:
        """Source UID -> UID of its identical copy (the same bytes: what an interrupted move
        leaves, not a re-delivery, which is filed itself) already in `dest`: looked for by
        Message-ID, and, for a message without one, among the last _RECENT messages of `dest`
        of its size -- never taken for a copy on the Message-ID alone."""
        found: dict[int, int | None] = {}
        no_id = [w for w in works if not w.facts.get("message_id")]
        for w in works:
            if not w.facts.get("message_id"):
                continue
            try:
                candidates = self.mailbox.find(dest, w.facts["message_id"])
            except ConnectionLost:
                raise
            except MailboxError as exc:  # a Message-ID the server will not search for
                logger.warning("uid %s: cannot look for its copy in %s (%s)", w.uid, dest, exc)
                candidates = []
            self._match(folder, dest, [w], candidates, found)
        if no_id:
            sizes = self.mailbox.sizes(folder, [w.uid for w in no_id])
            recent = self.mailbox.uids(dest)[-_RECENT:]
            dest_sizes = self.mailbox.sizes(dest, recent) if recent else {}
            wanted = {sizes[w.uid] for w in no_id if w.uid in sizes}
            same = [u for u in recent if dest_sizes.get(u) in wanted]
            self._match(folder, dest, no_id, same, found)
        return found

    def _match(
        self,
        folder: str,
        dest: str,
        works: Sequence[Work],
        candidates: Sequence[int],
        found: dict[int, int | None],
    ) -> None:
        """Note in `found` each work whose bytes one of the `candidates` of `dest` has (a copy
        answers for one original only)."""
        if not candidates:
            return
        raws = self.mailbox.fetch(dest, candidates)
        digests = {u: legacy_message_key(r) for u, r in raws.items()}
        taken = set(found.values())
        for w in works:
            same = (u for u in candidates if digests.get(u) == w.digest and u not in taken)
            uid = next(same, None)
            if uid is not None:
                logger.info(
                    "uid %s of %s is already in %s as uid %s: removing the original only",
                    w.uid, folder, dest, uid,
                )  # fmt: skip
                found[w.uid] = uid
                taken.add(uid)

    def record_moves(
        self, folder: str, works: Sequence[Work], transfer: Transfer, actor: str
    ) -> list[Outcome]:
        """Record where the messages went; raise the first move error after that."""
        done, error = transfer
        new_uids: dict[int, int | None] = {}
        events: list[LogEvent] = []
        states: list[dict[str, Any]] = []
        for w in works:
            if not w.dest or w.dest not in done:
                continue
            result, validity = done[w.dest]
            if w.uid not in result.moved:
                continue  # vanished meanwhile (another client moved it)
            new = result.moved[w.uid]
            new_uids[w.uid] = new
            events.append(
                LogEvent(
                    EventKind.MOVED,
                    message_key=w.key,
                    folder=w.dest,
                    uidvalidity=validity,
                    uid=new,
                    reason=f"from {folder} uid {w.uid}",
                    actor=actor,
                    mailbox=self.scope.name,
                )
            )
            where = {"folder": w.dest, "uidvalidity": validity, "uid": new}
            states.append({"message_key": w.key, **self.scope.columns, **where})
        if events:
            self.history.record_batch(events, states)
        if error is not None:
            raise error
        return [w.outcome(new_uids.get(w.uid)) for w in works]
