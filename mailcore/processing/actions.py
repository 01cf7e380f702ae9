"""The failed-mail actions the console calls: `failed_page` (of any folder), `inspect`,
`validate`, `candidates` (identifiers a handler offers), `resubmit` (a corrected payload,
handler or identifier), `rerun` (unchanged, after a handler fix), `reject` and `unreject`.

Operators' actions on one message take turns (`MessageLocks`: no double handler call when two
people press "resubmit" at once); polling takes the inbox only, so it runs beside them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TypedDict, Unpack

from mailcore.config import Folders
from mailcore.errors import MailboxError, RoutingError
from mailcore.inbound.extract import Extraction
from mailcore.mailboxes.protocol import Mailbox, Summary
from mailcore.processing.filing import Filing
from mailcore.processing.message_facts import recorded_facts
from mailcore.processing.outcomes import (
    NO_HANDLER,
    ErrorList,
    FailedItem,
    FailedPage,
    Inspection,
    Outcome,
    Status,
)
from mailcore.processing.pipeline import Pipeline, clip
from mailcore.processing.reads import ReadCache
from mailcore.processing.registry import HandlerContext, HandlerSpec, Registry
from mailcore.processing.vocabulary import ErrorKind, EventKind, SchemaError, as_schema_errors
from mailcore.store.history import History, LogEvent, MessageState

__all__ = ["FailedMail", "MessageLocks"]

logger = logging.getLogger(__name__)
MAX_CANDIDATES = 20  # identifiers offered for one mail, at most
_NOT_AN_OBJECT = SchemaError("$", ErrorKind.TYPE, "the payload must be an object")


class Correction(TypedDict, total=False):
    """What an operator may correct besides the payload: the handler and the identifier
    (None or absent: as the message had it)."""

    handler: str | None
    identifier: str | None


class FailedMail:
    """The operators' actions on the failed folder; see the module docstring."""

    def __init__(self, pipeline: Pipeline, filing: Filing) -> None:
        """Acts through `pipeline` (its registry, history and folders) and `filing` (its
        mailbox)."""
        self.pipeline = pipeline
        self.filing = filing
        self.mailbox: Mailbox = filing.mailbox
        self.registry: Registry = pipeline.registry
        self.history: History = pipeline.history
        self.folders: Folders = pipeline.folders
        self.scope = pipeline.scope
        self.locks = MessageLocks()
        self.reads = ReadCache(self.mailbox, pipeline.extract_within_limits, self.scope.key)

    def failed_page(
        self,
        page: int = 1,
        per_page: int = 50,
        *,
        sender: str | None = None,
        reason: str | None = None,
        handler: str | None = None,
        folder: str | None = None,
    ) -> FailedPage:
        """One page of `folder` (default: failed), newest first, with each message's reason
        and handler.

        Lists UIDs (cheap), fetches summaries for the page only, and joins the history by
        location (folder, UIDVALIDITY, UID), falling back to the Message-ID.
        """
        self.filing.ensure_folders()
        folder = folder or self.folders.failed
        page, per_page = max(1, page), max(1, per_page)
        selected = self.mailbox.uids(folder)
        validity = self.mailbox.uidvalidity(folder)
        mailbox = self.scope.name
        if reason or handler:
            wanted = self.history.uids_where(
                folder, validity, reason=reason, handler=handler, mailbox=mailbox
            )
            selected = [u for u in selected if u in wanted]
        if sender:
            search = getattr(self.mailbox, "search_from", None)
            if search is not None:
                matching = set(search(folder, sender))
            else:
                matching = self.history.uids_where(folder, validity, sender=sender, mailbox=mailbox)
            selected = [u for u in selected if u in matching]
        selected.sort(reverse=True)
        chosen = selected[(page - 1) * per_page : page * per_page]
        summaries = self.mailbox.summaries(folder, chosen)
        states = self.history.states_at(folder, validity, chosen, mailbox)
        unknown = [
            s.message_id for s in summaries if s.message_id and not _same(states.get(s.uid), s)
        ]
        by_mid = self.history.states_by_message_id(unknown, mailbox=mailbox) if unknown else {}
        items = []
        for s in summaries:
            st = states.get(s.uid)
            if not _same(st, s):
                st = by_mid.get(s.message_id or "")
            failure = st.failure if st and st.status == Status.FAILED else None
            items.append(
                FailedItem(s, st.handler if st else None, st.reason if st else None, failure)
            )
        return FailedPage(items, len(selected), page, per_page)

    def inspect(self, uid: int, folder: str | None = None, *, confirm: bool = True) -> Inspection:
        """Everything the console shows about one message (default folder: failed), read once
        for all the actions on it (`confirm=False`: not even asking the mailbox whether it is
        still there, for views that change nothing)."""
        folder = folder or self.folders.failed
        read = self.reads.get(folder, uid, confirm=confirm)
        raw, ex, key = read.raw, read.extraction, read.key
        state = self.history.state(key)
        name, spec, payload = self._current_payload(ex, state)
        if spec is None:
            errors = self.validate(None, payload)
        else:  # no payload found is checked as {}: its required fields show as missing
            errors = spec.validate(payload if payload is not None else {})
        if not errors and state is not None and state.status == Status.FAILED:
            errors = as_schema_errors(state.errors)
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
            failure=state.failure if state and state.status == Status.FAILED else None,
        )

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
        """Schema errors of `payload` for `handler` (`SchemaError` records); [] when valid.

        Without a handler nothing can be valid: the answer is `NO_HANDLER` (a payload that is
        not an object is said too).
        """
        if handler is None:
            shape = [] if isinstance(payload, dict) else [_NOT_AN_OBJECT]
            return [NO_HANDLER, *shape]
        if handler not in self.registry:
            return [SchemaError("$", ErrorKind.HANDLER, f"unknown handler {handler!r}")]
        spec = self.registry.get(handler)
        if not isinstance(payload, dict):
            return spec.validate(payload) or [_NOT_AN_OBJECT]
        return spec.validate(spec.prepare(payload))

    def candidates(
        self, uid: int, handler: str, partial: str | None = None
    ) -> list[tuple[str, str]]:
        """(identifier, what it is) the handler's `candidates` hook offers for failed message
        `uid` and what an operator typed so far, at most MAX_CANDIDATES, each once; [] when it
        offers none or raises (logged)."""
        folder = self.folders.failed
        read = self.reads.get(folder, uid, confirm=False)
        state = self.history.state(read.key)
        spec = self.registry.get(handler)
        payload = self._current_payload(read.extraction, state)[2]
        ctx = HandlerContext(
            handler=handler,
            payload=spec.prepare(payload) if payload is not None else {},
            extraction=read.extraction,
            identifier=partial,
            uid=uid,
            folder=folder,
            message_key=read.key,
            mailbox=self.scope.title,
        )
        if spec.candidates is None:
            return []
        out: dict[str, str] = {}
        try:  # the handler's own code, on what an operator typed: bounded, never fatal
            for found in spec.candidates(ctx):
                ident, label = (found, "") if isinstance(found, str) else found
                if str(ident):
                    out.setdefault(str(ident)[:200], str(label)[:200])
                if len(out) >= MAX_CANDIDATES:
                    break
        except Exception:
            logger.exception("the candidates hook of handler %r raised", handler)
        return list(out.items())

    def resubmit(
        self, uid: int, payload: dict[str, Any], by: str, **correction: Unpack[Correction]
    ) -> Outcome:
        """Run the handler on an operator's corrected payload (and handler, identifier) for a
        failed message.

        Records "corrected" (payload before/after, and which of identifier and handler the
        operator changed, the user) and "resubmitted"; on success the message moves to
        processed, on failure it stays in failed with the new reason.
        """
        handler, identifier = correction.get("handler"), correction.get("identifier")
        folder = self.folders.failed
        with self.locks.hold(folder, [uid]):
            read = self.reads.get(folder, uid)  # confirmed still there before any handler runs
            raw, key = read.raw, read.key
            state = self.history.state(key)
            ex = _with_identifier(read.extraction, state)
            was = (ex.identifier, state.handler if state else None)
            if identifier is not None and identifier != ex.identifier:
                ex = dataclasses.replace(ex, identifier=identifier, identifier_source=None)
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
                **recorded_facts(state),
                "handler": name,
                **self.scope.columns,
                "folder": folder,
                "uidvalidity": validity,
                "uid": uid,
                "actor": by,
            }
            meta["identifier"] = ex.identifier
            changed = _changes(was, (ex.identifier, name), after != before)
            marks = []
            if changed:
                marks.append(
                    LogEvent(
                        EventKind.CORRECTED, **meta, before=before, after=after, reason=changed
                    )
                )
            marks.append(LogEvent(EventKind.RESUBMITTED, **meta))
            self.history.record_batch(marks, [{"message_key": key, "payload": after}])
            works = self.pipeline.decide_batch(
                folder, validity, [(uid, raw)], by, {uid: after}, name, {uid: ex}
            )
            try:
                return self.filing.move(folder, works, by)[0]
            finally:
                self.reads.forget(folder, [uid])

    def rerun(self, uids: Sequence[int], by: str) -> list[Outcome]:
        """Run failed messages again with their payload unchanged (after a handler fix)."""
        folder = self.folders.failed
        with self.locks.hold(folder, uids):
            raws = self.mailbox.fetch(folder, list(uids))
            missing = [u for u in uids if u not in raws]
            if missing:
                logger.info("rerun: uid(s) %s are no longer in %s", missing, folder)
            validity = self.mailbox.uidvalidity(folder)
            items = [(u, raws[u]) for u in uids if u in raws]
            if not items:
                return []
            keys = {u: self.scope.key(raw) for u, raw in items}
            self.history.record_batch(
                [
                    LogEvent(EventKind.RESUBMITTED, message_key=keys[u], folder=folder,
                             uidvalidity=validity, uid=u, actor=by, reason="rerun",
                             mailbox=self.scope.name)
                    for u, _ in items
                ]
            )  # fmt: skip
            states = self.history.states(keys.values())
            extractions = {}
            for u, raw in items:  # an identifier an operator gave stays the message's
                state = states.get(keys[u])
                if state is not None and state.identifier:
                    ex = self.pipeline.extract_within_limits(raw)
                    extractions[u] = _with_identifier(ex, state)
            works = self.pipeline.decide_batch(folder, validity, items, by, extractions=extractions)
            try:
                return self.filing.move(folder, works, by)
            finally:
                self.reads.forget(folder, [u for u, _ in items])

    def reject(self, uid: int, note: str, by: str) -> Outcome:
        """File a failed message under `rejected`, with the operator's note."""
        folder = self.folders.failed
        with self.locks.hold(folder, [uid]):
            self.filing.ensure_folders()
            key = self.reads.get(folder, uid).key
            state = self.history.state(key)
            result = self.mailbox.move(folder, [uid], self.folders.rejected)
            self.reads.forget(folder, [uid])
            if uid not in result.moved:
                raise MailboxError(f"message {uid} is no longer in {folder!r}")
            new_uid = result.moved[uid]
            dest, validity = self.folders.rejected, self.mailbox.uidvalidity(self.folders.rejected)
            note = clip(note) or "rejected"
            handler = state.handler if state else None
            self.history.record(
                EventKind.REJECTED,
                message_key=key,
                **recorded_facts(state),
                handler=handler,
                status=Status.REJECTED,
                reason=note,
                **self.scope.columns,
                folder=dest,
                uidvalidity=validity,
                uid=new_uid,
                actor=by,
            )
            return Outcome(uid, Status.REJECTED, handler, note, new_uid)

    def unreject(self, uid: int, note: str, by: str) -> Outcome:
        """Take a rejected message back to `failed` (a mistaken reject), with the operator's
        note; its state is failed again, with the reason it had before it was rejected."""
        folder, dest = self.folders.rejected, self.folders.failed
        with self.locks.hold(folder, [uid]):
            self.filing.ensure_folders()
            key = self.reads.get(folder, uid).key
            state = self.history.state(key)
            result = self.mailbox.move(folder, [uid], dest)
            self.reads.forget(folder, [uid])
            if uid not in result.moved:
                raise MailboxError(f"message {uid} is no longer in {folder!r}")
            new_uid, validity = result.moved[uid], self.mailbox.uidvalidity(dest)
            note = "reject undone: " + (clip(note) or "no note")
            handler = state.handler if state else None
            reason = self._reason_before_reject(key) or note
            event = LogEvent(
                EventKind.MOVED, message_key=key, **recorded_facts(state), handler=handler,
                status=Status.FAILED, reason=note, actor=by, folder=dest, uidvalidity=validity,
                uid=new_uid, mailbox=self.scope.name,
            )  # fmt: skip
            where = {**self.scope.columns, "folder": dest, "uidvalidity": validity, "uid": new_uid}
            self.history.record_batch(
                [event], [{"message_key": key, "status": Status.FAILED, "reason": reason, **where}]
            )
            return Outcome(uid, Status.FAILED, handler, reason, new_uid)

    def _reason_before_reject(self, key: str) -> str | None:
        """Why the message had failed, before it was rejected (its last "failed" event)."""
        failed = self.history.events(message_key=key, kind=EventKind.FAILED, limit=1)
        return failed[0].reason if failed else None


def _with_identifier(ex: Extraction, state: MessageState | None) -> Extraction:
    """The extraction with the identifier the history holds for it, when an operator gave
    another one than the mail's."""
    if state is None or not state.identifier or state.identifier == ex.identifier:
        return ex
    return dataclasses.replace(ex, identifier=state.identifier, identifier_source=None)


def _changes(was: tuple[str | None, str | None], now: tuple[str | None, str | None],
             payload: bool) -> str | None:  # fmt: skip
    """What an operator changed, as the "corrected" event says it; None when nothing."""
    parts = [
        f"{what} {old or '(none)'} -> {new or '(none)'}"
        for what, old, new in zip(("identifier", "handler"), was, now, strict=True)
        if old != new and new is not None
    ]
    if payload:
        parts.append("payload corrected")
    return "; ".join(parts) or None


def _same(state: MessageState | None, summary: Summary) -> bool:
    """Whether a state found by location belongs to this message (guards stale UIDs)."""
    if state is None:
        return False
    return not (state.message_id and summary.message_id) or state.message_id == summary.message_id


class MessageLocks:
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
