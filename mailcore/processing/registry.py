"""Business handlers by name, how messages are routed to them, and how their payloads are checked.

    registry = Registry()

    @registry.handler("vehicle", prefix="VEH-", schema={...}, aliases={"plate": ["kennzeichen"]})
    def vehicle(ctx: HandlerContext) -> dict | None:
        ...  # raise HandlerFailed("reason shown to operators") to refuse

Routing, most specific first: the identifier's prefix (longest wins), a recipient subaddress
(``ops+vehicle@``), a subject keyword, a ``match(extraction)`` callable, then the default handler.
Schemas are JSON Schema Draft 2020-12, their formats asserted where jsonschema checks them
(date, time, email, ipv4, ipv6, uuid: schemacheck.FORMAT_CHECKER); errors come back as
`SchemaError` records (mailcore.processing.vocabulary): path, kind, message, and the keys a hint
is about, the message said with what the field's schema tells people (built in
payload_errors, with schemacheck.for_people).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as InvalidSchema

from mailcore.errors import RegistrationError, UnknownHandler
from mailcore.inbound.keys import apply_aliases
from mailcore.inbound.payload import DEFAULT_LIMITS, PayloadLimits, PayloadTooLarge, check_payload
from mailcore.inbound.quoting import ReplyConfidence
from mailcore.processing.payload_errors import coerce, limit_errors, schema_errors
from mailcore.processing.schemacheck import FORMAT_CHECKER, compile_check
from mailcore.processing.vocabulary import ErrorList, RouteVia

if TYPE_CHECKING:
    from mailcore.inbound.extract import Extraction

logger = logging.getLogger(__name__)

HandlerFunc = Callable[["HandlerContext"], "dict[str, Any] | None"]
# A handler's `candidates` hook: identifiers (or (identifier, what it is) pairs) from its own
# records for a mail an operator is correcting; `ctx.identifier` is what they typed so far.
CandidatesFunc = Callable[["HandlerContext"], "Iterable[str | tuple[str, str]]"]


@dataclass(frozen=True)
class Route:
    """The ways a message can reach one handler; any one of them is enough."""

    prefix: str | None = None
    subaddress: str | None = None
    subject_keyword: str | None = None
    match: Callable[[Extraction], bool] | None = None

    def describe(self) -> str:
        parts = []
        if self.prefix:
            parts.append(f"identifier prefix {self.prefix!r}")
        if self.subaddress:
            parts.append(f"subaddress +{self.subaddress}")
        if self.subject_keyword:
            parts.append(f"subject keyword {self.subject_keyword!r}")
        if self.match:
            parts.append(f"match {getattr(self.match, '__name__', 'callable')}")
        return ", ".join(parts) or "default only"


@dataclass
class HandlerContext:
    """What a handler gets: the checked payload and the message it came from."""

    handler: str
    payload: dict[str, Any]
    extraction: Extraction
    identifier: str | None
    uid: int | None
    folder: str
    message_key: str
    actor: str = "engine"  # "engine", or the console user who resubmitted
    mailbox: str = "default"  # the configured mailbox it arrived in ([[mailboxes]] name)

    @property
    def sender(self) -> str:
        return self.extraction.headers.from_

    @property
    def subject(self) -> str:
        return self.extraction.headers.subject


@dataclass(frozen=True)
class HandlerSpec:
    """One registered handler."""

    name: str
    func: HandlerFunc
    schema: dict[str, Any] | None = None
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    route: Route = field(default_factory=Route)
    requires_payload: bool = True
    requires_signature: bool = False  # a valid, trusted signature by the sender
    coerce: bool = True  # "42" -> 42 where the schema wants a number (key-lines payloads)
    validator: Draft202012Validator | None = field(default=None, compare=False, repr=False)
    quick_check: Callable[[Any], bool] | None = field(default=None, compare=False, repr=False)
    limits: PayloadLimits = DEFAULT_LIMITS
    candidates: CandidatesFunc | None = field(default=None, compare=False, repr=False)
    # The reply cut a mail's extracted payload must have (mailcore.inbound.quoting); a less
    # sure one files the mail in `failed` for an operator to look at.
    min_reply_confidence: ReplyConfidence | None = None

    def reply_refusal(self, extraction: Extraction) -> str | None:
        """Why this handler refuses the extraction's reply cut, or None."""
        wanted = self.min_reply_confidence
        got = extraction.reply_confidence
        if wanted is None or got.at_least(wanted):
            return None
        return (
            f"the reply cut is {got} ({extraction.reply_confidence_reason}); handler"
            f" {self.name!r} wants it {wanted}: check the quoted part, then resubmit"
        )

    def prepare(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The payload with keys normalized and aliased, and scalars coerced to the schema.

        A payload over `limits` is returned as it is (a shallow copy): walking it could take
        forever, and `validate` answers with the limit it crosses.
        """
        try:
            check_payload(payload, self.limits)
        except PayloadTooLarge:
            return dict(payload)
        return self._aliased(payload)

    def validate(self, payload: Any) -> ErrorList:
        """`SchemaError` records, sorted by path; [] when valid or without a schema.

        A payload over `limits` gets the one error naming the limit (with or without a
        schema), and is never handed to jsonschema, whose messages write the instance out.
        """
        try:
            check_payload(payload, self.limits)
        except PayloadTooLarge as exc:
            return limit_errors(exc)
        return self._schema_errors(payload)

    def prepared(
        self, payload: Mapping[str, Any], *, within: PayloadLimits | None = None
    ) -> tuple[dict[str, Any], ErrorList]:
        """`prepare` then `validate`, walking the payload for the limits once -- or not at all
        when it is known to be `within` this handler's limits already (an extraction's payload
        is within DEFAULT_LIMITS): the engine's per-message path."""
        if within != self.limits:
            try:
                check_payload(payload, self.limits)
            except PayloadTooLarge as exc:
                return dict(payload), limit_errors(exc)
        data = self._aliased(payload)
        return data, self._schema_errors(data)

    def _aliased(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        out = apply_aliases(dict(payload), self.aliases) if self.aliases else dict(payload)
        if self.coerce and self.schema:
            out = coerce(out, self.schema, self.limits)
        return dict(out)

    def _schema_errors(self, payload: Any) -> ErrorList:
        """Schema errors of a payload within the limits."""
        if self.validator is None:
            return []
        if self.quick_check is not None and self.quick_check(payload):
            # The common case, decided in a microsecond (see mailcore.processing.schemacheck).
            return []
        return schema_errors(self.validator, payload, self.name, self.limits)


@dataclass(frozen=True)
class RouteResult:
    """Which handler takes a message and why, or why none does."""

    spec: HandlerSpec | None
    via: RouteVia | None
    reason: str | None  # set when spec is None


def _is_bounce(extraction: Extraction) -> bool:
    return extraction.bounce is not None


def _recipients(extraction: Extraction) -> list[str]:
    h = extraction.headers  # already bare addresses (inbound.headers): not parsed again
    return [addr for addr in (*h.to, *h.cc, *h.delivered_to) if addr]


def _confidence(name: str, value: ReplyConfidence | str | None) -> ReplyConfidence | None:
    if value is None:
        return None
    try:
        return ReplyConfidence(value)
    except ValueError:
        choices = ", ".join(c.value for c in ReplyConfidence)
        raise RegistrationError(
            f"min_reply_confidence of handler {name!r} is {value!r}; it is one of {choices}"
        ) from None


class HandlerOptions(TypedDict, total=False):
    """The keyword options of `Registry.add` and `Registry.handler`."""

    prefix: str | None
    subaddress: str | None
    subject_keyword: str | None
    match: Callable[[Extraction], bool] | None
    schema: dict[str, Any] | None
    aliases: Mapping[str, Sequence[str]] | None
    default: bool
    requires_payload: bool
    requires_signature: bool
    coerce: bool
    candidates: CandidatesFunc | None
    min_reply_confidence: ReplyConfidence | str | None


class Registry:
    """Handlers by name, in registration order; at most one default."""

    def __init__(self, limits: PayloadLimits = DEFAULT_LIMITS) -> None:
        """`limits`: the budgets every handler's payload must fit (mailcore.inbound.payload)."""
        self.limits = limits
        self._specs: dict[str, HandlerSpec] = {}
        self.default: str | None = None
        self.bounce_handler: str | None = None  # receives every bounce (see `on_bounce`)
        self.subaddress_separator = "+"

    def handler(
        self, name: str, **options: Unpack[HandlerOptions]
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        """Decorator registering `func` under `name`; see `add` for the options."""

        def register(func: HandlerFunc) -> HandlerFunc:
            self.add(name, func, **options)
            return func

        return register

    def on_bounce(self, name: str = "bounces") -> Callable[[HandlerFunc], HandlerFunc]:
        """Decorator registering the handler every bounce goes to, before any other route:
        `ctx.extraction.bounce` holds its per-recipient records (address, status, hard/soft,
        reason) and `original_message_id`, so it can mark an address invalid. Without one,
        bounces are filed as automatic mail, unhandled."""

        def register(func: HandlerFunc) -> HandlerFunc:
            if self.bounce_handler is not None:
                raise RegistrationError(f"{self.bounce_handler!r} already handles bounces")
            self.add(name, func, match=_is_bounce, requires_payload=False)
            self.bounce_handler = name
            return func

        return register

    def add(self, name: str, func: HandlerFunc, **options: Unpack[HandlerOptions]) -> HandlerSpec:
        """Register a handler; a bad schema or a second default is refused here, not at run time.

        Options (all optional): the routes -- `prefix` of the identifier, recipient
        `subaddress`, `subject_keyword`, `match(extraction)`, or `default=True` -- then the
        payload's JSON `schema`, key `aliases` (canonical key -> other spellings),
        `requires_payload` (default True), `requires_signature` (default False: True files
        a mail without a valid, trusted signature by its sender in `failed`), `coerce`
        (default True: "42" -> 42 where the schema wants a number), `candidates(ctx)`, the
        identifiers the handler's records offer an operator correcting a mail (see
        CandidatesFunc) and `min_reply_confidence` ("certain" or "likely": a mail whose reply
        cut is less sure goes to `failed` instead of this handler).
        """
        unknown = set(options) - HandlerOptions.__optional_keys__
        if unknown:
            raise RegistrationError(f"unknown handler option(s): {', '.join(sorted(unknown))}")
        schema = options.get("schema")
        default = options.get("default", False)
        route = Route(
            options.get("prefix"),
            options.get("subaddress"),
            options.get("subject_keyword"),
            options.get("match"),
        )
        if not name or name in self._specs:
            raise RegistrationError(f"handler name {name!r} is empty or already registered")
        if default and self.default is not None:
            raise RegistrationError(f"{self.default!r} is already the default handler")
        if not default and route == Route():
            raise RegistrationError(
                f"handler {name!r} needs a route: prefix, subaddress, subject_keyword, match"
                " or default=True"
            )
        validator = None
        if schema is not None:
            try:
                Draft202012Validator.check_schema(schema)
            except InvalidSchema as e:
                raise RegistrationError(
                    f"schema of handler {name!r} is invalid: {e.message}"
                ) from None
            validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
        spec = HandlerSpec(
            name=name,
            func=func,
            schema=schema,
            aliases=dict(options.get("aliases") or {}),
            route=route,
            requires_payload=options.get("requires_payload", True),
            requires_signature=options.get("requires_signature", False),
            coerce=options.get("coerce", True),
            validator=validator,
            quick_check=compile_check(schema, FORMAT_CHECKER) if schema is not None else None,
            limits=self.limits,
            candidates=options.get("candidates"),
            min_reply_confidence=_confidence(name, options.get("min_reply_confidence")),
        )
        self._specs[name] = spec
        if default:
            self.default = name
        return spec

    def get(self, name: str) -> HandlerSpec:
        """The handler called `name`; UnknownHandler (a KeyError) names the ones that exist."""
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(self._specs) or "none"
            raise UnknownHandler(f"no handler {name!r}; registered: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return list(self._specs)

    def copy(self) -> Registry:
        """A registry with the same handlers, to add more to (configured webhook handlers)
        without changing this one (the module-wide `registry`, shared by every caller)."""
        other = copy.copy(self)
        other._specs = dict(self._specs)
        return other

    def route(self, extraction: Extraction) -> RouteResult:
        """Pick the handler for a message, or say why there is none."""
        specs = list(self._specs.values())
        ident = extraction.identifier
        if ident:
            prefixed = [
                s
                for s in specs
                if s.route.prefix and ident.upper().startswith(s.route.prefix.upper())
            ]
            if prefixed:
                best = max(prefixed, key=lambda s: len(s.route.prefix or ""))
                return RouteResult(best, RouteVia.PREFIX, None)
        subs = {
            local.split(self.subaddress_separator, 1)[1].lower()
            for local in (a.rsplit("@", 1)[0] for a in _recipients(extraction))
            if self.subaddress_separator in local
        }
        for s in specs:
            if s.route.subaddress and s.route.subaddress.lower() in subs:
                return RouteResult(s, RouteVia.SUBADDRESS, None)
        subject = extraction.headers.subject or ""
        for s in specs:
            kw = s.route.subject_keyword
            if kw and re.search(rf"(?<!\w){re.escape(kw)}(?!\w)", subject, re.IGNORECASE):
                return RouteResult(s, RouteVia.SUBJECT, None)
        for s in specs:
            if s.route.match is None:
                continue
            try:
                if s.route.match(extraction):
                    return RouteResult(s, RouteVia.MATCH, None)
            except Exception:
                logger.exception("route match of handler %r raised; treated as no match", s.name)
        if self.default is not None:
            return RouteResult(self._specs[self.default], RouteVia.DEFAULT, None)
        if ident:
            reason = f"unknown identifier {ident!r}: no handler takes its prefix"
        else:
            reason = (
                "no handler matches: no known identifier (reply address, [tag] in the subject"
                " or thread reference), subaddress, subject keyword or custom route"
            )
        return RouteResult(None, None, reason)


def load_registry(target: str) -> Registry:
    """The Registry named ``package.module:attribute`` (the `handlers` setting)."""
    import importlib

    from mailcore.errors import ConfigError

    module_name, _, attr = target.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr or "registry")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"handlers = {target!r} cannot be loaded: {exc}") from None
    if not isinstance(found, Registry):
        raise ConfigError(f"handlers = {target!r} is not a mailcore.processing.registry.Registry")
    return found


# The registry handlers register on by default (`mailcore poll` and the console use it unless the
# `handlers` setting names another).
registry = Registry()
