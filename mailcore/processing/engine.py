"""The processing engine: extract -> route -> validate -> handle -> move -> record, per message.

A poll takes a batch of UIDs from the inbox in one fetch and works it in chunks: decide every
message of a chunk, write the chunk's history in one transaction, then move with ONE call per
destination folder (in a second thread, overlapping the next chunk's work) and record where each
message went. Successes go to `processed`, auto-replies to `auto`, everything else to `failed`
with a reason an operator can act on; one bad message never stops a batch.

Idempotency: a message is known by `message_key`, the SHA-256 of its raw bytes (so its
Message-ID too). The moment a handler returns, `History.mark_handled` commits that fact on its
own, before the next message, the batch's history write or the move; a message whose handler
already succeeded -- the process killed mid-batch, a crash between handling and moving or
between the copy and the delete of a move -- is filed without calling the handler again
(outcome ``duplicate``). If the mark cannot be written the poll stops. The Mailbox removes a
source only once its copy is confirmed; the engine itself removes (`Mailbox.discard`) only a
message seen by an earlier run whose identical bytes it finds in the destination -- the copy
a crash left behind -- so a message interrupted mid-move still ends up filed exactly once.

Operators' actions (the console): `failed_page`, `inspect`, `validate`, `resubmit` (a corrected
payload), `rerun` (unchanged payload, after a handler fix) and `reject`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mailcore.config import Folders
from mailcore.errors import (
    ConnectionLost,
    HandlerFailed,
    MailboxError,
    MailcoreError,
    RoutingError,
)
from mailcore.ident import DEFAULT_SCHEME, IdentScheme
from mailcore.inbound.extract import Extraction, PayloadSource, extract
from mailcore.inbound.headers import header_block
from mailcore.mailboxes.protocol import Mailbox, MoveResult, Summary
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
from mailcore.processing.registry import HandlerContext, HandlerSpec, Registry
from mailcore.store.history import History, MessageState, now

__all__ = [
    "Engine",
    "Status",
    "FailedItem",
    "FailedPage",
    "Folders",
    "NO_HANDLER",
    "Inspection",
    "Limits",
    "Outcome",
    "message_key",
]

logger = logging.getLogger(__name__)

DEFAULT_FOLDERS = Folders()
DEFAULT_LIMITS = Limits()
_MAX_REASON = 2000


# A poll's batch is worked in chunks of up to _CHUNK (none under _MIN_CHUNK), so that moving one
# chunk overlaps the CPU work of the next (measured on Dovecot: 250 beats 100 and 500).
_CHUNK = 250
_MIN_CHUNK = 100
# What the mailbox part of a move did: (MoveResult, destination UIDVALIDITY) per destination
# folder, and the first error.
_Transfer = tuple[dict[str, tuple[MoveResult, int]], Exception | None]


@dataclass
class _Work:
    """One message's trip through the pipeline, before it is moved."""

    uid: int
    key: str
    status: Status = Status.FAILED
    dest: str | None = None  # None: stays where it is
    handler: str | None = None
    reason: str | None = None
    errors: ErrorList = field(default_factory=list)
    handled: bool = False
    known: bool = False  # seen by an earlier run: a copy may already be in its destination
    facts: dict[str, Any] = field(default_factory=dict)  # message_id, sender, subject, identifier
    events: list[dict[str, Any]] = field(default_factory=list)
    payload: dict[str, Any] | None = None  # set when an operator supplied it

    def outcome(self, new_uid: int | None = None) -> Outcome:
        return Outcome(self.uid, self.status, self.handler, self.reason, new_uid, self.errors)


class _MarkFailed(MailcoreError):
    """A handler succeeded but the history could not note it: the poll must stop."""


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def schema_reason(handler: str, errors: ErrorList) -> str:
    listed = "; ".join(f"{path}: {message}" for path, message in errors[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return f"payload does not match the schema of handler {handler!r}: {listed}{more}"


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
    ) -> None:
        self.mailbox = mailbox
        self.registry = registry
        self.history = history
        self.folders = folders
        self.scheme = scheme
        self.limits = limits
        self._ready = False
        # Operators' actions on one message must not interleave (no double handler call when
        # two people press "resubmit" at once); polling takes the inbox only, so runs beside.
        self._fix_locks = _MessageLocks()

    # -- polling -------------------------------------------------------------------------

    def _ensure_folders(self) -> None:
        if not self._ready:
            f = self.folders
            for name in (f.inbox, f.processed, f.failed, f.auto, f.rejected):
                self.mailbox.ensure_folder(name)
            self._ready = True

    def poll_once(self, batch_size: int = 200) -> list[Outcome]:
        """Process up to `batch_size` of the oldest inbox messages, as many as fit in
        `limits.batch_bytes`; returns their outcomes."""
        self._ensure_folders()
        inbox = self.folders.inbox
        uids = self.mailbox.uids(inbox)[:batch_size]
        if not uids:
            return []
        validity = self.mailbox.uidvalidity(inbox)
        uids = _within(uids, self.mailbox.sizes(inbox, uids), self.limits.batch_bytes)
        if not uids:
            return []
        size = min(_CHUNK, max(_MIN_CHUNK, -(-len(uids) // 2)))  # at least two when worth it
        chunks = [uids[i : i + size] for i in range(0, len(uids), size)]
        if len(chunks) > 1:
            return self._pipelined(inbox, validity, chunks)
        raws = self.mailbox.fetch(inbox, uids)
        return self._run(inbox, validity, [(u, raws[u]) for u in uids if u in raws], "engine")

    def _pipelined(self, inbox: str, validity: int, chunks: list[list[int]]) -> list[Outcome]:
        """A large batch in chunks, with one thread doing the mailbox's waiting: fetching the
        next chunk and moving the previous one overlap this chunk's extraction and handlers.

        Each message still goes handled (and marked), recorded, moved, recorded -- in that
        order; only the mailbox is used from the second thread, the history never.
        """
        outcomes: list[Outcome] = []
        moving: tuple[Future[_Transfer], list[_Work]] | None = None

        def settle() -> None:
            """Record the move in flight; cleared first, so a move error is not recorded twice."""
            nonlocal moving
            if moving is not None:
                future, moved = moving
                moving = None
                outcomes.extend(self._record_moves(inbox, moved, future.result(), "engine"))

        raws = self.mailbox.fetch(inbox, [u for chunk in chunks for u in chunk])
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailcore-io") as io:
            try:
                for chunk in chunks:
                    items = [(u, raws[u]) for u in chunk if u in raws]
                    works = self._decide_and_record(inbox, validity, items, "engine")
                    settle()
                    moving = (io.submit(self._transfer, inbox, works), works)
                settle()
            finally:
                if moving is not None:  # stopped by an error: still record the move in flight
                    try:
                        self._record_moves(inbox, moving[1], moving[0].result(), "engine")
                    except Exception:
                        logger.exception("recording the moves of an interrupted poll failed")
        return outcomes

    def _run(
        self,
        folder: str,
        validity: int,
        items: Sequence[tuple[int, bytes]],
        actor: str,
        payloads: Mapping[int, dict[str, Any]] | None = None,
        handler: str | None = None,
    ) -> list[Outcome]:
        """Decide every message, record the batch, then move once per destination."""
        works = self._decide_and_record(folder, validity, items, actor, payloads, handler)
        return self._move(folder, works, actor)

    def _decide_and_record(
        self,
        folder: str,
        validity: int,
        items: Sequence[tuple[int, bytes]],
        actor: str,
        payloads: Mapping[int, dict[str, Any]] | None = None,
        handler: str | None = None,
    ) -> list[_Work]:
        keys = {uid: message_key(raw) for uid, raw in items}
        known = self.history.states(keys.values())
        # Marked by a run that died before its batch write, or recorded as handled.
        handled_now = self.history.handled_keys(keys.values())
        works: list[_Work] = []
        for uid, raw in items:
            state = known.get(keys[uid])
            work = self._decide(
                uid,
                raw,
                keys[uid],
                state,
                folder,
                validity,
                actor,
                payload=(payloads or {}).get(uid),
                handler=handler,
                already=keys[uid] in handled_now,
            )
            if work.handled:
                handled_now.add(work.key)  # the same bytes twice in one batch
            works.append(work)
        self.history.record_batch(
            [e for w in works for e in w.events],
            [self._state_row(w, folder, validity) for w in works],
        )
        return works

    def _state_row(self, w: _Work, folder: str, validity: int) -> dict[str, Any]:
        row: dict[str, Any] = {
            "message_key": w.key,
            **w.facts,
            "handler": w.handler,
            "status": w.status,
            "reason": w.reason,
            "errors": w.errors,
            "folder": folder,
            "uidvalidity": validity,
            "uid": w.uid,
        }
        if w.handled:
            row["handled"] = True
        if w.payload is not None:
            row["payload"] = w.payload
        if any(e["kind"] == "received" for e in w.events):
            row["received_at"] = now()
        return row

    def _move(self, folder: str, works: Sequence[_Work], actor: str) -> list[Outcome]:
        return self._record_moves(folder, works, self._transfer(folder, works), actor)

    def _transfer(self, folder: str, works: Sequence[_Work]) -> _Transfer:
        """Move each destination's messages in one call; the mailbox part of `_move`.

        Messages seen by an earlier run go second, one by one: when their destination already
        holds the same bytes (a move interrupted between its copy and its delete, or the same
        message earlier in this batch) only the original is removed, so one copy remains.
        """
        by_dest: dict[str, list[_Work]] = defaultdict(list)
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
                    if rest:
                        moved.update(self.mailbox.move(folder, rest, dest).moved)
                    earlier = done[dest][0].moved if dest in done else {}
                    done[dest] = (MoveResult({**earlier, **moved}), self.mailbox.uidvalidity(dest))
                except Exception as exc:  # the other destinations still get their messages
                    logger.error("moving %d message(s) to %r failed: %s", len(todo), dest, exc)
                    broken.add(dest)
                    error = error or exc
        return done, error

    def _already_filed(
        self, folder: str, dest: str, works: Sequence[_Work]
    ) -> dict[int, int | None]:
        """Source UID -> UID of its identical copy (same message key) already in `dest`."""
        found: dict[int, int | None] = {}
        for w in works:
            mid = w.facts.get("message_id")
            try:
                candidates = self.mailbox.find(dest, mid) if mid else []
            except ConnectionLost:
                raise
            except MailboxError as exc:  # a Message-ID the server will not search for
                logger.warning("uid %s: cannot look for its copy in %s (%s)", w.uid, dest, exc)
                candidates = []
            if not candidates:
                continue
            raws = self.mailbox.fetch(dest, candidates)
            for uid in candidates:
                if uid in raws and message_key(raws[uid]) == w.key:
                    logger.info(
                        "uid %s of %s is already in %s as uid %s: removing the original only",
                        w.uid, folder, dest, uid,
                    )  # fmt: skip
                    found[w.uid] = uid
                    break
        return found

    def _record_moves(
        self, folder: str, works: Sequence[_Work], transfer: _Transfer, actor: str
    ) -> list[Outcome]:
        """Record where the messages went; raise the first move error after that."""
        done, error = transfer
        new_uids: dict[int, int | None] = {}
        events: list[dict[str, Any]] = []
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
                {
                    "kind": "moved",
                    "message_key": w.key,
                    "folder": w.dest,
                    "uidvalidity": validity,
                    "uid": new,
                    "reason": f"from {folder} uid {w.uid}",
                    "actor": actor,
                }
            )
            states.append(
                {"message_key": w.key, "folder": w.dest, "uidvalidity": validity, "uid": new}
            )
        if events:
            self.history.record_batch(events, states)
        if error is not None:
            raise error
        return [w.outcome(new_uids.get(w.uid)) for w in works]

    def _decide(
        self,
        uid: int,
        raw: bytes,
        key: str,
        state: MessageState | None,
        folder: str,
        validity: int,
        actor: str,
        *,
        payload: dict[str, Any] | None = None,
        handler: str | None = None,
        already: bool = False,
    ) -> _Work:
        """Run one message through extract/route/validate/handle; never raises."""
        work = _Work(uid, key, known=already or state is not None)
        where = {"message_key": key, "folder": folder, "uidvalidity": validity, "uid": uid}
        try:
            if already or (state is not None and state.handled):
                # Handled before (crash before its move finished, or a second copy).
                if state is not None:
                    work.facts = _recorded_facts(state)
                else:  # only marked: the run that handled it died before recording it
                    work.facts = self._facts(extract(raw, scheme=self.scheme))
                    work.events.append({**where, **work.facts, "kind": "received", "actor": actor})
                work.handler = state.handler if state else None
                work.status, work.dest = Status.DUPLICATE, self.folders.processed
                work.handled = True
                work.reason = "already handled; filed without calling the handler again"
                work.events.append(
                    {**where, **work.facts, "kind": "duplicate", "status": Status.DUPLICATE,
                     "handler": work.handler, "reason": work.reason, "actor": actor}
                )  # fmt: skip
                return work
            self._pipeline(work, raw, where, state, actor, payload, handler)
        except _MarkFailed:
            raise
        except Exception as exc:  # a bug in extraction or here: file the message, keep going
            logger.exception("processing uid %s of %s failed unexpectedly", uid, folder)
            self._fail(work, where, actor, f"internal error: {type(exc).__name__}: {exc}")
        if work.status == Status.FAILED:
            work.dest = self.folders.failed
            work.handled = False
        return work

    def _fail(
        self,
        work: _Work,
        where: dict[str, Any],
        actor: str,
        reason: str,
        errors: Sequence[tuple[str, str]] = (),
    ) -> None:
        work.status, work.reason, work.errors = Status.FAILED, _clip(reason), list(errors)
        work.events.append(
            {**where, **work.facts, "kind": "failed", "status": Status.FAILED,
             "handler": work.handler, "reason": work.reason, "errors": work.errors or None,
             "actor": actor}
        )  # fmt: skip

    def _pipeline(
        self,
        work: _Work,
        raw: bytes,
        where: dict[str, Any],
        state: MessageState | None,
        actor: str,
        payload: dict[str, Any] | None,
        handler: str | None,
    ) -> None:
        oversized = self._oversized(raw)
        ex = extract(header_block(raw) if oversized else raw, scheme=self.scheme)
        work.facts = self._facts(ex)
        # Who/what facts go on the "received" and outcome rows; the steps between need only
        # the message key (the timeline joins them), which keeps the per-message write small.
        base = {**where, "actor": actor}
        if state is None:
            work.events.append({**base, **work.facts, "kind": "received"})
        work.events.append(
            {**base, "kind": "extracted",
             "after": {"payload_source": str(ex.payload_source), "defects": ex.defects[:20],
                       "identifier_source": ex.identifier_source}}
        )  # fmt: skip
        if oversized and payload is None:  # an operator may still resubmit it with a payload
            self._fail(work, where, actor, oversized)
            return
        if ex.auto_reply and payload is None and handler is None:
            work.status, work.dest = Status.AUTO, self.folders.auto
            work.reason = ex.auto_reply_reason or "auto-reply"
            work.events.append(
                {
                    **base,
                    **work.facts,
                    "kind": "auto-reply",
                    "status": Status.AUTO,
                    "reason": work.reason,
                }
            )
            return
        spec, via, why = self._route(ex, handler, state)
        if spec is None:
            self._fail(work, where, actor, why or "no handler")
            return
        work.handler = spec.name
        work.events.append({**base, "kind": "routed", "handler": spec.name, "reason": f"by {via}"})
        if payload is not None:
            data: dict[str, Any] | None = spec.prepare(payload)
            work.payload = data
        elif state is not None and state.payload is not None:
            data = state.payload  # what an operator last submitted
        elif ex.payload is not None:
            data = spec.prepare(ex.payload)
        elif ex.payload_source is PayloadSource.OVER_LIMITS:  # refused, even where optional
            self._fail(work, where, actor, ex.defects[0])
            return
        elif spec.requires_payload:
            detail = "; ".join(ex.defects[:3])
            self._fail(
                work,
                where,
                actor,
                "no payload found: the message has no JSON part, YAML/JSON document or"
                " key: value lines" + (f" ({detail})" if detail else ""),
            )
            return
        else:
            data = {}
        assert data is not None
        errors = spec.validate(data)
        if errors:
            self._fail(work, where, actor, schema_reason(spec.name, errors), errors)
            return
        ctx = HandlerContext(
            handler=spec.name,
            payload=data,
            extraction=ex,
            identifier=ex.identifier,
            uid=work.uid,
            folder=where["folder"],
            message_key=work.key,
            actor=actor,
        )
        try:
            result = spec.func(ctx)
        except HandlerFailed as exc:
            self._fail(work, where, actor, str(exc) or f"handler {spec.name!r} refused the payload")
            return
        except Exception as exc:
            logger.warning("handler %r raised on uid %s: %r", spec.name, work.uid, exc)
            self._fail(
                work, where, actor, f"handler {spec.name!r} raised {type(exc).__name__}: {exc}"
            )
            return
        try:
            self.history.mark_handled(work.key, message_id=ex.headers.message_id, handler=spec.name)
        except Exception as exc:
            raise _MarkFailed(
                f"handler {spec.name!r} succeeded on uid {work.uid} but that could not be"
                f" recorded ({type(exc).__name__}: {exc}); stopping so nothing else runs"
                " unrecorded -- this message may be handled again on the next poll"
            ) from exc
        work.status, work.dest, work.handled = Status.PROCESSED, self.folders.processed, True
        work.events.append(
            {**base, **work.facts, "kind": "handled", "status": Status.PROCESSED,
             "handler": spec.name, "after": result if isinstance(result, dict) else None}
        )  # fmt: skip

    def _oversized(self, raw: bytes) -> str | None:
        """The failure reason of a message too large to parse, None for the others."""
        limit = self.limits.max_message_size
        if len(raw) <= limit:
            return None
        return (
            f"message of {_human_size(len(raw))} is over the maximum message size of"
            f" {_human_size(limit)} (max_message_size): not parsed; download it to decide, reject"
            " it, re-submit it with a payload typed by hand, or raise max_message_size and re-run"
        )

    @staticmethod
    def _facts(ex: Extraction) -> dict[str, Any]:
        h = ex.headers
        return {
            "message_id": h.message_id,
            "sender": h.from_[:512] or None,
            "subject": h.subject,
            "identifier": ex.identifier,
        }

    def _route(
        self, ex: Extraction, handler: str | None, state: MessageState | None
    ) -> tuple[HandlerSpec | None, str | None, str | None]:
        if handler is not None:
            if handler not in self.registry:
                return None, None, f"unknown handler {handler!r}"
            return self.registry.get(handler), "operator", None
        if state is not None and state.handler in self.registry and state.status == Status.FAILED:
            # A rerun keeps the handler the message was routed (or resubmitted) to.
            return self.registry.get(state.handler or ""), "history", None
        found = self.registry.route(ex)
        return found.spec, found.via, found.reason

    # -- the failed folder ---------------------------------------------------------------

    def failed_page(
        self,
        page: int = 1,
        per_page: int = 50,
        *,
        sender: str | None = None,
        reason: str | None = None,
        handler: str | None = None,
    ) -> FailedPage:
        """One page of the failed folder, newest first, with each message's reason and handler.

        Lists UIDs (cheap), fetches summaries for the page only, and joins the history by
        location (folder, UIDVALIDITY, UID), falling back to the Message-ID.
        """
        self._ensure_folders()
        folder = self.folders.failed
        page, per_page = max(1, page), max(1, per_page)
        selected = self.mailbox.uids(folder)
        validity = self.mailbox.uidvalidity(folder)
        if reason or handler:
            wanted = self.history.uids_where(folder, validity, reason=reason, handler=handler)
            selected = [u for u in selected if u in wanted]
        if sender:
            search = getattr(self.mailbox, "search_from", None)
            if search is not None:
                matching = set(search(folder, sender))
            else:
                matching = self.history.uids_where(folder, validity, sender=sender)
            selected = [u for u in selected if u in matching]
        selected.sort(reverse=True)
        chosen = selected[(page - 1) * per_page : page * per_page]
        summaries = self.mailbox.summaries(folder, chosen)
        states = self.history.states_at(folder, validity, chosen)
        unknown = [
            s.message_id for s in summaries if s.message_id and not _same(states.get(s.uid), s)
        ]
        by_mid = self.history.states_by_message_id(unknown) if unknown else {}
        items = []
        for s in summaries:
            st = states.get(s.uid)
            if not _same(st, s):
                st = by_mid.get(s.message_id or "")
            items.append(FailedItem(s, st.handler if st else None, st.reason if st else None))
        return FailedPage(items, len(selected), page, per_page)

    def inspect(self, uid: int, folder: str | None = None) -> Inspection:
        """Everything the console shows about one message (default folder: failed)."""
        folder = folder or self.folders.failed
        raw = self._fetch_one(folder, uid)
        ex = self._extract_within_limits(raw)
        key = message_key(raw)
        state = self.history.state(key)
        name, spec, payload = self._current_payload(ex, state)
        if spec is None:
            errors = self.validate(None, payload)
        else:  # no payload found is checked as {}: its required fields show as missing
            errors = spec.validate(payload if payload is not None else {})
        if not errors and state is not None and state.status == Status.FAILED:
            errors = state.errors
        return Inspection(
            uid=uid,
            folder=folder,
            raw=raw,
            extraction=ex,
            handler=name,
            reason=state.reason if state else None,
            payload=payload,
            errors=errors,
            schema=spec.schema if spec else None,
            message_key=key,
        )

    def _extract_within_limits(self, raw: bytes) -> Extraction:
        """The extraction of a message, or of its header block only when it is too large."""
        oversized = self._oversized(raw)
        if oversized is None:
            return extract(raw, scheme=self.scheme)
        ex = extract(header_block(raw), scheme=self.scheme)
        return dataclasses.replace(ex, defects=[oversized, *ex.defects])

    def _current_payload(
        self, ex: Extraction, state: MessageState | None
    ) -> tuple[str | None, HandlerSpec | None, dict[str, Any] | None]:
        """The handler a message is for (recorded, else routed) and the payload it would get:
        the one an operator last submitted, else the extracted one (aliased when the handler
        is known)."""
        name = state.handler if state and state.handler else None
        if name is None:
            found = self.registry.route(ex)
            name = found.spec.name if found.spec else None
        spec = self.registry.get(name) if name and name in self.registry else None
        payload: dict[str, Any] | None = ex.payload
        if state is not None and state.payload is not None:
            payload = state.payload
        elif spec is not None and ex.payload is not None:
            payload = spec.prepare(ex.payload)
        return name, spec, payload

    def validate(self, handler: str | None, payload: Any) -> ErrorList:
        """Schema errors of `payload` for `handler` as (json-path, message); [] when valid.

        Without a handler nothing can be valid: the answer is `NO_HANDLER` (a payload that is
        not an object is said too).
        """
        if handler is None:
            shape = [] if isinstance(payload, dict) else [("$", "the payload must be an object")]
            return [NO_HANDLER, *shape]
        if handler not in self.registry:
            return [("$", f"unknown handler {handler!r}")]
        spec = self.registry.get(handler)
        if not isinstance(payload, dict):
            return spec.validate(payload) or [("$", "the payload must be an object")]
        return spec.validate(spec.prepare(payload))

    def resubmit(
        self, uid: int, payload: dict[str, Any], by: str, handler: str | None = None
    ) -> Outcome:
        """Run the handler on an operator's corrected payload for a failed message.

        Records "corrected" (before/after, the user) and "resubmitted"; on success the message
        moves to processed, on failure it stays in failed with the new reason.
        """
        folder = self.folders.failed
        with self._fix_locks.hold(folder, [uid]):
            raw = self._fetch_one(folder, uid)
            key = message_key(raw)
            state = self.history.state(key)
            ex = self._extract_within_limits(raw)
            name = handler or (state.handler if state else None)
            if name is None:
                found = self.registry.route(ex)
                if found.spec is None:
                    raise RoutingError(found.reason or "no handler; choose one")
                name = found.spec.name
            if name not in self.registry:
                raise RoutingError(f"unknown handler {name!r}")
            spec = self.registry.get(name)
            before = self._current_payload(ex, state)[2]  # what the console showed
            after = spec.prepare(payload)
            validity = self.mailbox.uidvalidity(folder)
            meta = {
                "message_key": key,
                **_recorded_facts(state),
                "handler": name,
                "folder": folder,
                "uidvalidity": validity,
                "uid": uid,
                "actor": by,
            }
            marks = []
            if after != before:
                marks.append({**meta, "kind": "corrected", "before": before, "after": after})
            marks.append({**meta, "kind": "resubmitted"})
            self.history.record_batch(marks, [{"message_key": key, "payload": after}])
            return self._run(folder, validity, [(uid, raw)], by, {uid: after}, name)[0]

    def rerun(self, uids: Sequence[int], by: str) -> list[Outcome]:
        """Run failed messages again with their payload unchanged (after a handler fix)."""
        folder = self.folders.failed
        with self._fix_locks.hold(folder, uids):
            raws = self.mailbox.fetch(folder, list(uids))
            missing = [u for u in uids if u not in raws]
            if missing:
                logger.info("rerun: uid(s) %s are no longer in %s", missing, folder)
            validity = self.mailbox.uidvalidity(folder)
            items = [(u, raws[u]) for u in uids if u in raws]
            if not items:
                return []
            self.history.record_batch(
                [
                    {"kind": "resubmitted", "message_key": message_key(raw), "folder": folder,
                     "uidvalidity": validity, "uid": u, "actor": by, "reason": "rerun"}
                    for u, raw in items
                ]
            )  # fmt: skip
            return self._run(folder, validity, items, by)

    def reject(self, uid: int, note: str, by: str) -> Outcome:
        """File a failed message under `rejected`, with the operator's note."""
        folder = self.folders.failed
        with self._fix_locks.hold(folder, [uid]):
            self._ensure_folders()
            raw = self._fetch_one(folder, uid)
            key = message_key(raw)
            state = self.history.state(key)
            result = self.mailbox.move(folder, [uid], self.folders.rejected)
            if uid not in result.moved:
                raise MailboxError(f"message {uid} is no longer in {folder!r}")
            new_uid = result.moved[uid]
            dest, validity = self.folders.rejected, self.mailbox.uidvalidity(self.folders.rejected)
            note = _clip(note) or "rejected"
            handler = state.handler if state else None
            self.history.record(
                "rejected",
                message_key=key,
                **_recorded_facts(state),
                handler=handler,
                status=Status.REJECTED,
                reason=note,
                folder=dest,
                uidvalidity=validity,
                uid=new_uid,
                actor=by,
            )
            return Outcome(uid, Status.REJECTED, handler, note, new_uid)

    def _fetch_one(self, folder: str, uid: int) -> bytes:
        raw = self.mailbox.fetch(folder, [uid]).get(uid)
        if raw is None:
            raise MailboxError(f"message {uid} is no longer in {folder!r}")
        return raw


def _recorded_facts(state: MessageState | None) -> dict[str, Any]:
    """The who/what facts (as `Engine._facts` gives them) the history holds for a message."""
    if state is None:
        return dict.fromkeys(("message_id", "sender", "subject", "identifier"))
    return {
        "message_id": state.message_id,
        "sender": state.sender,
        "subject": state.subject,
        "identifier": state.identifier,
    }


def _same(state: MessageState | None, summary: Summary) -> bool:
    """Whether a state found by location belongs to this message (guards stale UIDs)."""
    if state is None:
        return False
    return not (state.message_id and summary.message_id) or state.message_id == summary.message_id


class _MessageLocks:
    """One lock per message (folder, UID) for the operators' actions: two people acting on
    the same mail take turns, while a slow mail never holds up the others."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, int], tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, folder: str, uids: Sequence[int]) -> Iterator[None]:
        keys = sorted({(folder, uid) for uid in uids})  # one order for all: no deadlock
        with contextlib.ExitStack() as stack:
            for key in keys:
                stack.enter_context(self._lock(key))
            yield

    @contextlib.contextmanager
    def _lock(self, key: tuple[str, int]) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]  # the table holds only messages being acted on
                else:
                    self._locks[key] = (lock, users - 1)


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


def _human_size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
