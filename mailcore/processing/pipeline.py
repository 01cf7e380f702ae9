"""The per-message decision: extract -> route -> validate -> handle, and the batch's history.

`Pipeline.decide_batch` runs every message of a batch through `Pipeline.decide` -- which never
raises for a bad message, only when a handler's success cannot be marked (`MarkFailed`) -- and
writes the batch's events and message states in one transaction. What it decides for a message
is a `Work`: its status, its destination folder and the history rows; `filing` moves it there.

Idempotency: the moment a handler returns, `History.mark_handled` notes it (a kill cannot lose
it), committed (`History.confirm_marks`) before the next handler runs; a message already handled
(marked, or recorded as handled) is filed as ``duplicate`` without calling the handler again.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailcore.config import Folders
from mailcore.errors import HandlerFailed, MailcoreError
from mailcore.ident import IdentScheme
from mailcore.inbound.extract import Extraction, PayloadSource, extract
from mailcore.inbound.payload import DEFAULT_LIMITS as DEFAULT_PAYLOAD_LIMITS
from mailcore.processing.extractor import bounded_extract, oversized_reason
from mailcore.processing.message_facts import facts, recorded_facts
from mailcore.processing.outcomes import (
    ErrorList,
    Limits,
    Outcome,
    Status,
    legacy_message_key,
)
from mailcore.processing.registry import HandlerContext, HandlerSpec, Registry
from mailcore.processing.scope import DEFAULT_SCOPE, MailboxScope
from mailcore.processing.vocabulary import EventKind, FailureKind, RouteVia, SchemaError
from mailcore.processing.workers import groups_by_identifier, in_order_per_group
from mailcore.security import policy
from mailcore.store.claims import Claims
from mailcore.store.history import History, LogEvent, MessageState, now

__all__ = [
    "MarkFailed",
    "Pipeline",
    "Work",
    "clip",
    "recorded_facts",
    "schema_reason",
]

logger = logging.getLogger(__name__)
K = FailureKind  # the kinds of failure, short: one per _fail call

_MAX_REASON = 2000

# (raw, scheme) -> the extraction of the mail inside its signature and encryption layers.
Unwrap = Callable[[bytes, IdentScheme], Extraction]


@dataclass
class Work:
    """One message's trip through the pipeline, before it is moved."""

    uid: int
    key: str
    status: Status = Status.FAILED
    dest: str | None = None  # None: stays where it is
    handler: str | None = None
    reason: str | None = None
    errors: ErrorList = field(default_factory=list)
    failure: FailureKind | None = None  # why it failed, beside the English reason
    handled: bool = False
    known: bool = False  # seen by an earlier run: a copy may already be in its destination
    facts: dict[str, Any] = field(default_factory=dict)  # message_id, sender, subject, identifier
    events: list[LogEvent] = field(default_factory=list)
    payload: dict[str, Any] | None = None  # set when an operator supplied it
    claim: str | None = None  # the key this process claimed the message under (engine polls)
    digest: str | None = None  # SHA-256 of its bytes: an identical copy is a crash's leftover
    abandoned: bool = False  # its claim was lost (taken over): left alone, nothing recorded

    def outcome(self, new_uid: int | None = None) -> Outcome:
        return Outcome(self.uid, self.status, self.handler, self.reason, new_uid, self.errors)


class MarkFailed(MailcoreError):
    """A handler succeeded but the history could not note it: the poll must stop."""


class _ClaimLost(Exception):
    """Internal: another process took the message's claim over; leave the message alone."""


def _frames(exc: BaseException) -> str:
    """Where `exc` was raised, without its text (which may quote a mail: senders, subjects)."""
    tb = traceback.extract_tb(exc.__traceback__)[-6:]
    return "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in tb)


def clip(text: str) -> str:
    """A reason on one line, at most _MAX_REASON characters."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def schema_reason(handler: str, errors: ErrorList) -> str:
    listed = "; ".join(f"{e.path}: {e.message}" for e in errors[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return f"payload does not match the schema of handler {handler!r}: {listed}{more}"


@dataclass
class Pipeline:
    """Decides what becomes of each message and records it; see the module docstring."""

    registry: Registry
    history: History
    folders: Folders
    scheme: IdentScheme
    limits: Limits
    # Verifies and decrypts before extracting (mailcore.security.Unwrapper.extract); None:
    # mail is extracted as it is.
    unwrap: Unwrap | None = None
    # The engine's claims on the messages it polls: checked (and renewed) before each handler.
    claims: Claims | None = None
    handler_workers: int = 1  # handlers run at once, in order per identifier (workers.py)
    scope: MailboxScope = DEFAULT_SCOPE  # which configured mailbox: its keys, its rows

    # -- a batch and its history rows ----------------------------------------------------

    def decide_batch(
        self,
        folder: str,
        validity: int,
        items: Sequence[tuple[int, bytes]],
        actor: str,
        payloads: Mapping[int, dict[str, Any]] | None = None,
        handler: str | None = None,
        extractions: Mapping[int, Extraction] | None = None,
        message_keys: Mapping[int, str] | None = None,
    ) -> list[Work]:
        """Decide every message, then record the batch's events and states in one write
        (`extractions`: messages already extracted, by UID, are not extracted again;
        `message_keys`: their `message_key`s, when the caller has them)."""
        given = message_keys or {}
        claims = {uid: given.get(uid) or self.scope.key(raw) for uid, raw in items}
        digests = {uid: legacy_message_key(raw) for uid, raw in items}
        legacy = {uid: self.scope.scoped(d) for uid, d in digests.items()}
        keys, known, handled_now = self._known(items, claims, legacy)
        held = self.claims.held if self.claims is not None else frozenset()
        raws, exs = dict(items), (extractions if extractions is not None else {})
        if self.handler_workers > 1:  # grouped by identifier: extracted first (workers)
            exs = {u: exs.get(u) or self.extract_within_limits(r) for u, r in items}

        def one(uid: int) -> Work:
            work = self.decide(
                uid, raws[uid], keys[uid], known.get(keys[uid]), folder, validity, actor,
                payload=(payloads or {}).get(uid), handler=handler,
                already=keys[uid] in handled_now, extraction=exs.get(uid),
                claim=claims[uid] if claims[uid] in held else None,
            )  # fmt: skip
            work.digest = digests[uid]
            if work.handled:
                handled_now.add(work.key)  # the same message twice in one batch
            return work

        order = [uid for uid, _ in items]
        groups = [order]  # one at a time: an extraction the child sends is awaited in turn
        if self.handler_workers > 1:
            idents = {u: ex.identifier for u, ex in exs.items()}
            groups = groups_by_identifier(order, idents, keys)
        done = in_order_per_group(groups, one, self.handler_workers)
        works = [done[uid] for uid in order if not done[uid].abandoned]
        if any(w.status == Status.PROCESSED for w in works):
            self.history.sync_marks()  # durable before anything else is done with them
        self.history.record_batch(
            [e for w in works for e in w.events],
            [self._state_row(w, folder, validity) for w in works],
        )
        return works

    def _known(
        self,
        items: Sequence[tuple[int, bytes]],
        keys: Mapping[int, str],
        legacy: Mapping[int, str],
    ) -> tuple[dict[int, str], dict[str, MessageState], set[str]]:
        """Each message's key, the states the history holds and the keys handled (marked by a
        run that died before its batch write, or recorded so), read now -- after the engine
        claimed the messages. A message recorded before keys left the trace fields out keeps
        its old key (`legacy_message_key`), so its timeline goes on and it is never handled
        again."""
        wanted = [*keys.values(), *legacy.values()]
        handled = self.history.marked_keys(wanted)  # first: a mark is dropped once recorded
        known = self.history.states(wanted)
        handled |= {k for k, s in known.items() if s.handled}
        chosen: dict[int, str] = {}
        for uid, _ in items:
            new, old = keys[uid], legacy[uid]
            seen_new = new in known or new in handled
            chosen[uid] = old if not seen_new and (old in known or old in handled) else new
        return chosen, known, handled

    def _state_row(self, w: Work, folder: str, validity: int) -> dict[str, Any]:
        row: dict[str, Any] = {
            "message_key": w.key,
            **w.facts,
            "handler": w.handler,
            "status": w.status,
            "reason": w.reason,
            "errors": [e.as_json() for e in w.errors],
            "failure": w.failure if w.status == Status.FAILED else None,
            **self.scope.columns,
            "folder": folder,
            "uidvalidity": validity,
            "uid": w.uid,
        }
        if w.handled:
            row["handled"] = True
        if w.payload is not None:
            row["payload"] = w.payload
        if any(e.kind == EventKind.RECEIVED for e in w.events):
            row["received_at"] = now()
        return row

    # -- one message ---------------------------------------------------------------------

    def decide(
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
        extraction: Extraction | None = None,
        claim: str | None = None,
    ) -> Work:
        """Run one message through extract/route/validate/handle; never raises. `claim`: the
        key of this process's claim on it, checked before its handler runs."""
        work = Work(uid, key, known=already or state is not None, claim=claim)
        where: dict[str, Any] = {
            "message_key": key,
            **self.scope.columns,
            "folder": folder,
            "uidvalidity": validity,
            "uid": uid,
        }
        try:
            if already or (state is not None and state.handled):
                # Handled before (crash before its move finished, or a second copy).
                if state is not None:
                    work.facts = recorded_facts(state)
                else:  # only marked: the run that handled it died before recording it
                    work.facts = facts(extract(raw, scheme=self.scheme))
                    work.events.append(
                        LogEvent(EventKind.RECEIVED, **where, **work.facts, actor=actor)
                    )
                work.handler = state.handler if state else None
                work.status, work.dest = Status.DUPLICATE, self.folders.processed
                work.handled = True
                work.reason = "already handled; filed without calling the handler again"
                work.events.append(
                    LogEvent(EventKind.DUPLICATE, **where, **work.facts, status=Status.DUPLICATE,
                             handler=work.handler, reason=work.reason, actor=actor)
                )  # fmt: skip
                return work
            self._steps(work, raw, where, state, actor, payload, handler, extraction)
        except MarkFailed:
            raise
        except _ClaimLost:
            logger.warning(
                "uid %s of %s: its claim was taken over; left to its holder", uid, folder
            )
            work.abandoned, work.dest, work.events = True, None, []
            return work
        except Exception as exc:  # a bug in extraction or here: file the message, keep going
            logger.error(
                "processing uid %s of %s failed unexpectedly: %s at %s",
                uid, folder, type(exc).__name__, _frames(exc),
            )  # fmt: skip
            self._fail(
                work, where, actor, f"internal error: {type(exc).__name__}: {exc}", K.INTERNAL
            )
        if work.status == Status.FAILED:
            work.dest = self.folders.failed
            work.handled = False
        return work

    def _fail(
        self,
        work: Work,
        where: dict[str, Any],
        actor: str,
        reason: str,
        kind: FailureKind,
        errors: Sequence[SchemaError] = (),
    ) -> None:
        work.status, work.reason, work.errors = Status.FAILED, clip(reason), list(errors)
        work.failure = kind
        work.events.append(
            LogEvent(EventKind.FAILED, **where, **work.facts, status=Status.FAILED,
                     handler=work.handler, reason=work.reason, actor=actor,
                     errors=[e.as_json() for e in work.errors] or None, failure=kind)
        )  # fmt: skip

    def _steps(
        self,
        work: Work,
        raw: bytes,
        where: dict[str, Any],
        state: MessageState | None,
        actor: str,
        payload: dict[str, Any] | None,
        handler: str | None,
        extraction: Extraction | None = None,
    ) -> None:
        oversized = self.oversized(raw)
        ex = extraction or self.extract_within_limits(raw)
        work.facts = facts(ex)
        # Who/what facts go on the "received" and outcome rows; the steps between need only
        # the message key (the timeline joins them), which keeps the per-message write small.
        base = {**where, "actor": actor}
        if state is None:
            work.events.append(LogEvent(EventKind.RECEIVED, **base, **work.facts))
        work.events.append(
            LogEvent(EventKind.EXTRACTED, **base,
                     after={"payload_source": str(ex.payload_source), "defects": ex.defects[:20],
                            "identifier_source": ex.identifier_source,
                            "reply_confidence": str(ex.reply_confidence),
                            "reply_confidence_reason": ex.reply_confidence_reason}
                           | ({"security": policy.summary(ex)} if ex.security else {})
                           | ({"bounce": True} if ex.bounce is not None else {}))  # events out
        )  # fmt: skip
        if oversized and payload is None:  # an operator may still resubmit it with a payload
            self._fail(work, where, actor, oversized, K.TOO_LARGE)
            return
        bounce = self.registry.bounce_handler if ex.bounce is not None else None
        if ex.auto_reply and payload is None and handler is None and bounce is None:
            work.status, work.dest = Status.AUTO, self.folders.auto
            work.reason = ex.auto_reply_reason or "auto-reply"
            work.events.append(
                LogEvent(
                    EventKind.AUTO_REPLY, **base, **work.facts, status=Status.AUTO,
                    reason=work.reason,
                )
            )  # fmt: skip
            return
        spec, via, why = self._route(ex, handler, state)
        if spec is None:
            self._fail(
                work,
                where,
                actor,
                why or "no handler",
                K.unrouted(ex.identifier, by_operator=handler is not None),
            )
            return
        work.handler = spec.name
        work.events.append(
            LogEvent(EventKind.ROUTED, **base, handler=spec.name, reason=f"by {via}")
        )
        refused, kind = policy.undecrypted(ex) if payload is None else None, K.UNDECRYPTED
        if refused is None and spec.requires_signature:
            refused, kind = policy.unverified(ex, spec.name), K.SIGNATURE_REQUIRED
        if refused is None and payload is None:
            refused, kind = spec.reply_refusal(ex), K.REPLY_UNSURE
        if refused is not None:
            self._fail(work, where, actor, refused, kind)
            return
        errors: ErrorList | None = None
        if payload is not None:
            data: dict[str, Any] | None
            data, errors = spec.prepared(payload)
            work.payload = data
        elif state is not None and state.payload is not None:
            data = state.payload  # what an operator last submitted
        elif ex.payload is not None:
            data, errors = spec.prepared(ex.payload, within=DEFAULT_PAYLOAD_LIMITS)
        elif ex.payload_source is PayloadSource.OVER_LIMITS:  # refused, even where optional
            self._fail(work, where, actor, ex.defects[0], K.PAYLOAD_LIMITS)
            return
        elif spec.requires_payload:
            detail = "; ".join(ex.defects[:3])
            self._fail(
                work,
                where,
                actor,
                "no payload found: the message has no JSON part, YAML/JSON document or"
                " key: value lines" + (f" ({detail})" if detail else ""),
                K.NO_PAYLOAD,
            )
            return
        else:
            data = {}
        assert data is not None
        if errors is None:
            errors = spec.validate(data)
        if errors:
            self._fail(
                work, where, actor, schema_reason(spec.name, errors), K.of_schema(errors), errors
            )
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
            mailbox=self.scope.title,
        )
        try:  # no handler runs while an earlier success is unconfirmed (the mark's commit)
            self.history.confirm_marks()
        except Exception as exc:
            raise MarkFailed(f"an earlier handler's success could not be recorded: {exc}") from exc
        if work.claim is not None and self.claims is not None and not self.claims.holds(work.claim):
            raise _ClaimLost()
        try:
            result = spec.func(ctx)
        except HandlerFailed as exc:
            refusal = str(exc) or f"handler {spec.name!r} refused the payload"
            kind = K.of(exc.failure) or K.HANDLER_REFUSED  # the handler may say which
            self._fail(work, where, actor, refusal, kind)
            return
        except Exception as exc:
            logger.warning(  # its text may quote the payload: recorded, not logged
                "handler %r raised %s on uid %s", spec.name, type(exc).__name__, work.uid
            )
            raised = f"handler {spec.name!r} raised {type(exc).__name__}: {exc}"
            self._fail(work, where, actor, raised, K.HANDLER_ERROR)
            return
        try:
            self.history.mark_handled(work.key, message_id=ex.headers.message_id, handler=spec.name)
        except Exception as exc:
            raise MarkFailed(
                f"handler {spec.name!r} succeeded on uid {work.uid} but that could not be"
                f" recorded ({type(exc).__name__}: {exc}); stopping so nothing else runs"
                " unrecorded -- this message may be handled again on the next poll"
            ) from exc
        work.status, work.dest, work.handled = Status.PROCESSED, self.folders.processed, True
        if work.claim is not None and self.claims is not None and not self.claims.holds(work.claim):
            work.dest = None  # taken over during the call: its new holder files it, a duplicate
        work.events.append(
            LogEvent(EventKind.HANDLED, **base, **work.facts, status=Status.PROCESSED,
                     handler=spec.name, after=result if isinstance(result, dict) else None)
        )  # fmt: skip

    def oversized(self, raw: bytes) -> str | None:
        """The failure reason of a message too large to parse, None for the others."""
        return oversized_reason(raw, self.limits.max_message_size)

    def extract_within_limits(self, raw: bytes) -> Extraction:
        """The extraction of a message, or of its header block only when it is too large."""
        if self.unwrap is not None and self.oversized(raw) is None:
            return self.unwrap(raw, self.scheme)
        return bounded_extract(raw, self.scheme, self.limits.max_message_size)

    def _route(
        self, ex: Extraction, handler: str | None, state: MessageState | None
    ) -> tuple[HandlerSpec | None, RouteVia | None, str | None]:
        if handler is not None:
            if handler not in self.registry:
                return None, None, f"unknown handler {handler!r}"
            return self.registry.get(handler), RouteVia.OPERATOR, None
        if ex.bounce is not None and self.registry.bounce_handler is not None:
            # Registry.on_bounce: every bounce goes there, before the identifier's handler.
            return self.registry.get(self.registry.bounce_handler), RouteVia.MATCH, None
        if state is not None and state.handler in self.registry and state.status == Status.FAILED:
            # A rerun keeps the handler the message was routed (or resubmitted) to.
            return self.registry.get(state.handler or ""), RouteVia.HISTORY, None
        found = self.registry.route(ex)
        return found.spec, found.via, found.reason
