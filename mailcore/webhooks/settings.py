"""The ``[webhooks]`` table: webhook handlers and event subscriptions, checked at start.

    [[webhooks.handlers]]                 # a handler that is an HTTP endpoint
    name = "orders"
    url = "https://erp.example/mail"
    prefix = "ORD-"                       # routes: prefix, subaddress, subject_keyword, default
    schema = "schemas/order.json"         # a JSON Schema file (relative to the config file)
    # schema = { type = "object", required = ["qty"] }   # or inline
    secret_env = "MAILCORE_WEBHOOK_ORDERS_SECRET"       # holds whsec_...; never in the file
    timeout = 10                          # seconds per attempt
    retries = 3                           # after the first attempt, on 5xx/429/timeouts
    backoff = 1                           # first wait in seconds, doubling, up to max_backoff

    [[webhooks.subscriptions]]            # events out
    name = "erp-events"
    url = "https://erp.example/mail-events"
    secret_env = "MAILCORE_WEBHOOK_EVENTS_SECRET"
    kinds = ["failed", "processed", "bounced", "resubmitted", "rejected"]

URLs are the administrator's: senders never choose where a request goes (see delivery.py).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from mailcore.errors import ConfigError
from mailcore.webhooks.delivery import RetryPolicy, check_url
from mailcore.webhooks.signing import WebhookSecret

__all__ = [
    "EventType",
    "Subscription",
    "WebhookHandlerConfig",
    "handler_configs",
    "subscriptions",
]

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_ROUTE_KEYS = ("prefix", "subaddress", "subject_keyword")
_HANDLER_KEYS = frozenset(
    {"name", "url", "schema", "secret_env", "timeout", "retries", "backoff", "max_backoff"}
    | {"default", "aliases", "requires_payload", "requires_signature", "min_reply_confidence"}
    | set(_ROUTE_KEYS)
)
_SUBSCRIPTION_KEYS = frozenset(
    {"name", "url", "secret_env", "kinds", "timeout", "retries", "backoff", "max_backoff"}
)


class EventType(StrEnum):
    """The events a subscription may ask for; sent as ``message.<kind>`` in `type`."""

    FAILED = "failed"
    PROCESSED = "processed"
    BOUNCED = "bounced"
    RESUBMITTED = "resubmitted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class WebhookHandlerConfig:
    """One ``[[webhooks.handlers]]`` entry, checked."""

    name: str
    url: str
    secret: WebhookSecret = field(repr=False)
    policy: RetryPolicy = RetryPolicy()
    options: dict[str, Any] = field(default_factory=dict)  # Registry.add's options
    # Seconds a call may last, retries included (half the claim lease: no other poller takes
    # the mail over while it is being posted).
    time_limit: float = 60.0


@dataclass(frozen=True)
class Subscription:
    """One ``[[webhooks.subscriptions]]`` entry, checked."""

    name: str
    url: str
    secret: WebhookSecret = field(repr=False)
    kinds: frozenset[EventType] = frozenset(EventType)
    policy: RetryPolicy = RetryPolicy(retries=8, backoff=5.0, max_backoff=3600.0)


def _entries(section: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    entries = section.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"webhooks.{key} in {where} must be a list of tables: [[webhooks.{key}]]")
    return entries


def _common(
    entry: Mapping[str, Any], known: frozenset[str], kind: str, index: int, env: Mapping[str, str]
) -> tuple[str, str, WebhookSecret, dict[str, Any]]:
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"[[webhooks.{kind}]] number {index + 1} needs a name: lower-case letters, digits,"
            f" '_' and '-', starting with a letter (got {name!r})"
        )
    where = f"[[webhooks.{kind}]] {name!r}"
    unknown = set(entry) - known
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))} in {where}; known:"
            f" {', '.join(sorted(known))}"
        )
    url = check_url(str(entry.get("url") or ""), where)
    var = entry.get("secret_env")
    if not isinstance(var, str) or not var:
        raise ConfigError(f"{where} needs secret_env: the environment variable holding whsec_...")
    value = env.get(var)
    if not value:
        raise ConfigError(f"{where}: the environment variable {var} (secret_env) is not set")
    return name, url, WebhookSecret.parse(value, f"${var} of {where}"), {"where": where}


def _policy(entry: Mapping[str, Any], base: RetryPolicy, where: str) -> RetryPolicy:
    try:
        values = {
            k: type(getattr(base, k))(entry[k])
            for k in ("timeout", "retries", "backoff", "max_backoff")
            if k in entry
        }
    except (TypeError, ValueError):
        raise ConfigError(
            f"timeout, retries, backoff and max_backoff of {where} are numbers"
        ) from None
    return RetryPolicy(**{**base.__dict__, **values}).checked(where)


def _schema(value: Any, base: Path | None, where: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"schema of {where} is a file name or an inline table")
    path = Path(value) if base is None else base / value
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"schema of {where}: {path} cannot be read as JSON ({exc})") from None
    if not isinstance(found, dict):
        raise ConfigError(f"schema of {where}: {path} does not hold a JSON object")
    return found


def handler_configs(
    section: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    source: str | None = None,
    claim_lease: float = 120.0,
) -> list[WebhookHandlerConfig]:
    """The webhook handlers of a ``[webhooks]`` table. A call, retries included, lasts at most
    half the claim lease (no retry is begun that could end later), so that no other poller
    takes the mail over and posts it a second time while it is still being retried."""
    env = os.environ if env is None else env
    base = Path(source).parent if source else None
    out = []
    for i, entry in enumerate(_entries(section, "handlers", source or "settings")):
        name, url, secret, info = _common(entry, _HANDLER_KEYS, "handlers", i, env)
        policy = _policy(entry, RetryPolicy(), info["where"])
        if policy.longest_attempt > claim_lease / 2:
            raise ConfigError(
                f"{info['where']}: one attempt can take {policy.longest_attempt:g}s (timeout x"
                f" 2: connecting, then reading), over half the claim_lease ({claim_lease:g}s):"
                " lower timeout or raise claim_lease"
            )
        options = {k: entry[k] for k in _HANDLER_KEYS - _COMMON_KEYS if k in entry}
        options["schema"] = _schema(entry.get("schema"), base, info["where"])
        out.append(WebhookHandlerConfig(name, url, secret, policy, options, claim_lease / 2))
    return out


_COMMON_KEYS = frozenset({"name", "url", "schema", "secret_env"} | set(RetryPolicy.__annotations__))


def subscriptions(
    section: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> list[Subscription]:
    """The event subscriptions of a ``[webhooks]`` table."""
    env = os.environ if env is None else env
    out = []
    for i, entry in enumerate(_entries(section, "subscriptions", "settings")):
        name, url, secret, info = _common(entry, _SUBSCRIPTION_KEYS, "subscriptions", i, env)
        kinds = entry.get("kinds", [k.value for k in EventType])
        try:
            chosen = frozenset(EventType(k) for k in kinds)
        except (TypeError, ValueError):
            allowed = ", ".join(k.value for k in EventType)
            raise ConfigError(f"kinds of {info['where']} are among {allowed}") from None
        policy = _policy(entry, Subscription.policy, info["where"])
        out.append(Subscription(name, url, secret, chosen, policy))
    return out
