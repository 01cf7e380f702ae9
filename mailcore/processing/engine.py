"""The processing engine: extract -> route -> validate -> handle -> move -> record, per message.

A poll takes a batch of UIDs from the inbox in one fetch and works it in chunks: decide every
message of a chunk, write the chunk's history in one transaction, then move with ONE call per
destination folder (in a second thread, overlapping the next chunk's work) and record where each
message went. Successes go to `processed`, auto-replies to `auto`, everything else to `failed`
with a reason an operator can act on; one bad message never stops a batch.

Idempotency: a message is known by `message_key` (mailcore.inbound.identity: what the sender
wrote, without the trace fields added in transit, so a re-delivery is the same message and two
requests sharing a Message-ID are two). Several engine processes may poll the same mailbox and
history: each claims the messages it fetched (mailcore.store.claims) and reads whether they
were handled only then. The moment a handler returns, `History.mark_handled` notes that fact
on its own (a kill cannot lose it), committed before the next handler runs, the batch's history
write or the move; a message whose handler already succeeded -- the process killed mid-batch,
a crash between handling and moving or between the copy and the delete of a move -- is filed
without calling the handler again (outcome ``duplicate``). If the mark cannot be written the
poll stops. The Mailbox removes a source only once its copy is confirmed; the engine itself
removes (`Mailbox.discard`) only a message seen by an earlier run whose identical bytes it
finds in the destination -- the copy a crash left behind -- so a message interrupted mid-move
still ends up filed exactly once.

Operators' actions (the console): `failed_page` (of any folder), `inspect`, `validate`,
`candidates`, `resubmit` (a corrected payload, handler or identifier), `rerun` (unchanged
payload, after a handler fix), `reject` and `unreject`.

`Engine` polls and composes the parts, one concern each: `pipeline` (the per-message decision
and the batch's history rows), `workers` (handlers at once, in order per identifier), `filing`
(moves, crash recovery), `actions` (the operators' actions) and `outcomes` (what they answer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Unpack

from mailcore.config import Folders, Settings
from mailcore.ident import DEFAULT_SCHEME, IdentScheme
from mailcore.inbound.extract import Extraction
from mailcore.mailboxes.protocol import Mailbox
from mailcore.processing.actions import Correction, FailedMail
from mailcore.processing.extractor import MIN_BATCH, Extracting, ExtractionProcess
from mailcore.processing.filing import Filing, Transfer
from mailcore.processing.gc_pause import relaxed_gc
from mailcore.processing.outcomes import (
    NO_HANDLER,
    ErrorList,
    FailedItem,
    FailedPage,
    Inspection,
    Limits,
    Outcome,
    Status,
    message_key,
)
from mailcore.processing.pipeline import Pipeline, Unwrap, Work, schema_reason
from mailcore.processing.registry import Registry
from mailcore.processing.scope import MailboxScope
from mailcore.store.claims import DEFAULT_LEASE_SECONDS, Claims
from mailcore.store.history import History

__all__ = [
    "MIN_RETRY_SECONDS",
    "Engine",
    "FailedItem",
    "FailedPage",
    "Folders",
    "NO_HANDLER",
    "Inspection",
    "Limits",
    "Outcome",
    "Status",
    "message_key",
    "schema_reason",
]

logger = logging.getLogger(__name__)

DEFAULT_FOLDERS = Folders()
DEFAULT_LIMITS = Limits()

# The shortest wait of a polling loop after a failed round (`poll --loop/--idle`, `serve
# --poll`): a failure that repeats at once must not spin.
MIN_RETRY_SECONDS = 1.0

# A poll's batch is worked in chunks of up to _CHUNK (none under _MIN_CHUNK), so that moving one
# chunk overlaps the CPU work of the next (measured on Dovecot: 250 beats 100 and 500).
_CHUNK = 250
_MIN_CHUNK = 100


class Engine:
    """Runs messages through their handlers and files them; see the module docstring."""

    def __init__(
        self,
        mailbox: Mailbox,
        registry: Registry,
        history: History,
        folders: Folders = DEFAULT_FOLDERS,
        scheme: IdentScheme = DEFAULT_SCHEME,
        limits: Limits = DEFAULT_LIMITS,
        security: Unwrap | None = None,
        claim_lease: float = DEFAULT_LEASE_SECONDS,
        handler_workers: int = 1,
        mailbox_name: str | None = None,
        extract_processes: int = 1,
    ) -> None:
        """`security`: verifies and decrypts before extracting (`mailcore.security.Unwrapper
        .extract`, e.g. from `mailcore.security.service.unwrapper(settings)`). `claim_lease`:
        seconds after which another engine process takes over the messages of one that stopped
        renewing its claims (killed). `handler_workers`: handlers run at once within this
        process, in order per identifier (`mailcore.processing.workers`). `mailbox_name`: which
        configured mailbox this is (`mailcore.processing.scope`; None or "default": the
        default one). `extract_processes`: 1 extracts large batches in a child process
        beside the handlers (`mailcore.processing.extractor`), 0 in this thread."""
        self.scope = MailboxScope.of(mailbox_name)
        self.mailbox = mailbox
        self.registry = registry
        self.history = history
        self.folders = folders
        self.scheme = scheme
        self.limits = limits
        self._claims = Claims(history.engine, claim_lease, self.scope.name)
        self._pipeline = Pipeline(
            registry,
            history,
            folders,
            scheme,
            limits,
            security,
            claims=self._claims,
            handler_workers=max(1, handler_workers),
            scope=self.scope,
        )
        self._filing = Filing(mailbox, history, folders, self.scope)
        self._failed = FailedMail(self._pipeline, self._filing)
        self._extractor = (
            ExtractionProcess(scheme, limits.max_message_size)
            if extract_processes and security is None
            else None
        )

    def close(self) -> None:
        """Stop the extraction child, if one runs (the mailbox and history are the caller's)."""
        if self._extractor is not None:
            self._extractor.close()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        mailbox: Mailbox,
        registry: Registry,
        history: History,
        security: Unwrap | None = None,
    ) -> Engine:
        """The engine the settings describe: folders, identifiers, limits, claim lease and
        handler workers (what `mailcore poll` and the console's poller run), with the
        ``[webhooks]`` table's webhook handlers added to `registry` and its events out on
        `history` (mailcore.webhooks)."""
        from mailcore.webhooks import install

        install(settings, registry, history)
        return cls(
            mailbox,
            registry,
            history,
            settings.folders,
            settings.scheme,
            settings.limits,
            security=security,
            claim_lease=settings.claim_lease,
            handler_workers=settings.handler_workers,
            mailbox_name=settings.mailbox_name,
            extract_processes=settings.extract_processes,
        )

    # -- polling -------------------------------------------------------------------------

    def poll_once(self, batch_size: int = 200) -> list[Outcome]:
        """Process up to `batch_size` of the oldest inbox messages that no other engine process
        holds, as many as fit in `limits.batch_bytes`; returns their outcomes (not those of
        messages another process claimed meanwhile: they are left to it)."""
        with relaxed_gc():  # see gc_pause: a batch's objects live until its history is written
            return self._poll(batch_size)

    def _poll(self, batch_size: int) -> list[Outcome]:
        self._filing.ensure_folders()
        inbox = self.folders.inbox
        uids = self.mailbox.uids(inbox)
        if not uids:
            return []
        if self._extractor is not None and len(uids) >= MIN_BATCH:
            self._extractor.warm()  # a backlog: its import overlaps the fetch
        validity = self.mailbox.uidvalidity(inbox)
        busy = self._claims.busy(inbox, validity)
        uids = [u for u in uids if u not in busy][:batch_size]
        uids = _within(uids, self.mailbox.sizes(inbox, uids), self.limits.batch_bytes)
        if not uids:
            return []
        raws, keys = self._claimed(inbox, validity, self.mailbox.fetch(inbox, uids))
        try:
            uids = [u for u in uids if u in raws]
            if self._extractor is None:
                return self._decide_and_file(inbox, validity, uids, raws, keys, None)
            started, exs = time.monotonic(), self._extractor.start([(u, raws[u]) for u in uids])
            outcomes = self._decide_and_file(inbox, validity, uids, raws, keys, exs)
            self._extractor.done(exs, len(uids), time.monotonic() - started)
            return outcomes
        finally:  # filed, or left for another round: either way no longer this process's
            self._claims.release(keys.values())

    def _decide_and_file(
        self,
        inbox: str,
        validity: int,
        uids: list[int],
        raws: dict[int, bytes],
        keys: dict[int, str],
        exs: Extracting | None,
    ) -> list[Outcome]:
        size = min(_CHUNK, max(_MIN_CHUNK, -(-len(uids) // 2)))  # two when worth it
        chunks = [uids[i : i + size] for i in range(0, len(uids), size)]
        if len(chunks) > 1:
            return self._pipelined(inbox, validity, chunks, raws, keys, exs)
        items = [(u, raws[u]) for u in uids]
        works = self._pipeline.decide_batch(
            inbox, validity, items, "engine", message_keys=keys, extractions=exs
        )
        return self._filing.move(inbox, works, "engine")

    def _claimed(
        self, inbox: str, validity: int, raws: dict[int, bytes]
    ) -> tuple[dict[int, bytes], dict[int, str]]:
        """The fetched messages this process now holds the claim of (see store.claims) and that
        are still in the inbox, with their keys; the others are another process's, which files
        them.

        The inbox is listed again after claiming: a process files a message before it gives up
        its claim, so a message listed before another process filed it is gone by now, instead
        of being taken for a second copy of a handled message."""
        keys = {uid: self.scope.key(raw) for uid, raw in raws.items()}
        got = self._claims.claim({k: (inbox, validity, uid) for uid, k in keys.items()})
        if not got:
            return {}, {}
        present = set(self.mailbox.uids(inbox))
        mine = {uid: raw for uid, raw in raws.items() if keys[uid] in got and uid in present}
        self._claims.release(k for uid, k in keys.items() if k in got and uid not in mine)
        return mine, {uid: keys[uid] for uid in mine}

    def _pipelined(
        self,
        inbox: str,
        validity: int,
        chunks: list[list[int]],
        raws: dict[int, bytes],
        keys: dict[int, str],
        extractions: Mapping[int, Extraction] | None = None,
    ) -> list[Outcome]:
        """A large batch in chunks, with one thread doing the mailbox's waiting: moving the
        previous chunk overlaps this chunk's extraction and handlers.

        Each message still goes handled (and marked), recorded, moved, recorded -- in that
        order; only the mailbox is used from the second thread, the history never.
        """
        outcomes: list[Outcome] = []
        moving: tuple[Future[Transfer], list[Work]] | None = None
        filing = self._filing

        def settle() -> None:
            """Record the move in flight; cleared first, so a move error is not recorded twice."""
            nonlocal moving
            if moving is not None:
                future, moved = moving
                moving = None
                outcomes.extend(filing.record_moves(inbox, moved, future.result(), "engine"))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailcore-io") as io:
            try:
                for chunk in chunks:
                    items = [(u, raws[u]) for u in chunk if u in raws]
                    works = self._pipeline.decide_batch(
                        inbox, validity, items, "engine", message_keys=keys, extractions=extractions
                    )
                    settle()
                    moving = (io.submit(filing.transfer, inbox, works), works)
                settle()
            finally:
                if moving is not None:  # stopped by an error: still record the move in flight
                    try:
                        filing.record_moves(inbox, moving[1], moving[0].result(), "engine")
                    except Exception:
                        logger.exception("recording the moves of an interrupted poll failed")
        return outcomes

    # -- the failed folder: the operators' actions (actions.FailedMail) ------------------

    def failed_page(self, page: int = 1, per_page: int = 50, **filters: str | None) -> FailedPage:
        """One page of the failed folder (or `folder=`), newest first; `filters`: sender,
        reason, handler (`FailedMail.failed_page`)."""
        return self._failed.failed_page(page, per_page, **filters)

    def inspect(self, uid: int, folder: str | None = None, *, confirm: bool = True) -> Inspection:
        """Everything the console shows about one message (`FailedMail.inspect`)."""
        return self._failed.inspect(uid, folder, confirm=confirm)

    def validate(self, handler: str | None, payload: Any) -> ErrorList:
        """Schema errors of `payload` for `handler` (`FailedMail.validate`)."""
        return self._failed.validate(handler, payload)

    def candidates(
        self, uid: int, handler: str, partial: str | None = None
    ) -> list[tuple[str, str]]:
        """Identifiers `handler` offers for a failed message (`FailedMail.candidates`)."""
        return self._failed.candidates(uid, handler, partial)

    def resubmit(
        self, uid: int, payload: dict[str, Any], by: str, **correction: Unpack[Correction]
    ) -> Outcome:
        """Run the handler on an operator's corrected payload, handler or identifier
        (`FailedMail.resubmit`)."""
        return self._failed.resubmit(uid, payload, by, **correction)

    def rerun(self, uids: Sequence[int], by: str) -> list[Outcome]:
        """Run failed messages again, payload unchanged (`FailedMail.rerun`)."""
        return self._failed.rerun(uids, by)

    def reject(self, uid: int, note: str, by: str) -> Outcome:
        """File a failed message under `rejected` (`FailedMail.reject`)."""
        return self._failed.reject(uid, note, by)

    def unreject(self, uid: int, note: str, by: str) -> Outcome:
        """Take a rejected message back to `failed` (`FailedMail.unreject`)."""
        return self._failed.unreject(uid, note, by)


def _within(uids: Sequence[int], sizes: Mapping[int, int], budget: int) -> list[int]:
    """The leading UIDs whose sizes add up to at most `budget` (at least one); UIDs with no
    size (gone meanwhile) are left out."""
    chosen: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid)
        if size is None:
            continue
        if chosen and total + size > budget:
            break
        chosen.append(uid)
        total += size
    return chosen
