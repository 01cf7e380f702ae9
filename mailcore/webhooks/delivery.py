"""POSTing one signed JSON body to a URL, with bounded retries (`deliver`), and what each
attempt got (`Attempt`).

A delivery is done when the receiver answers 2xx; refused (not retried) on another 4xx or a
redirect (Standard Webhooks: update the URL instead of following it); retried with backoff on
5xx, 429, timeouts and refused or dropped connections, up to `RetryPolicy.retries` times,
honouring a Retry-After of up to `max_backoff` seconds, and never past a time limit when one is
given (`within`: a webhook handler's is half the claim lease). Every wait and read is bounded: the
reply body is read up to `MAX_REPLY_BYTES` within the attempt's timeout.

URLs are the administrator's (the settings), never a sender's: http and https only, no
redirects followed, no proxy variables of the environment used (`check_url`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests

from mailcore.errors import ConfigError
from mailcore.webhooks.signing import WebhookSecret, signed_headers

__all__ = ["MAX_REPLY_BYTES", "Attempt", "AttemptOutcome", "RetryPolicy", "check_url", "deliver"]

MAX_REPLY_BYTES = 64 * 1024
_MAX_DETAIL = 500


class AttemptOutcome(StrEnum):
    """What one attempt came to (the delivery log's `outcome` column)."""

    DELIVERED = "delivered"  # 2xx
    REFUSED = "refused"  # another 4xx, or a redirect: not retried
    RETRY = "retry"  # 5xx or 429: retried
    TIMEOUT = "timeout"  # no answer within the timeout: retried
    UNREACHABLE = "unreachable"  # connection refused, reset, DNS: retried

    @property
    def retried(self) -> bool:
        return self in (AttemptOutcome.RETRY, AttemptOutcome.TIMEOUT, AttemptOutcome.UNREACHABLE)


@dataclass(frozen=True)
class RetryPolicy:
    """How long one attempt may take and how often, after how long, it is tried again."""

    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0  # the first wait; each next one doubles
    max_backoff: float = 30.0

    def wait(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds before retry number `retry` (0-based)."""
        planned = min(self.backoff * 2**retry, self.max_backoff)
        if retry_after is not None:
            return min(max(planned, retry_after), self.max_backoff)
        return planned

    @property
    def longest_attempt(self) -> float:
        """The longest one attempt can take: connecting, then reading the answer."""
        return self.timeout * 2

    def checked(self, where: str) -> RetryPolicy:
        if not 0 < self.timeout <= 300:
            raise ConfigError(f"timeout of {where} must be between 0 and 300 seconds")
        if not 0 <= self.retries <= 20:
            raise ConfigError(f"retries of {where} must be between 0 and 20")
        if not 0 <= self.backoff <= self.max_backoff <= 86_400:
            raise ConfigError(f"backoff of {where} must be between 0 and max_backoff")
        return self


@dataclass(frozen=True)
class Attempt:
    """One POST and its answer."""

    outcome: AttemptOutcome
    status: int | None  # the HTTP status, None without an answer
    detail: str  # what happened, one line, for operators
    body: bytes  # the reply's first MAX_REPLY_BYTES
    elapsed: float
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome is AttemptOutcome.DELIVERED


def check_url(url: str, where: str) -> str:
    """`url` if it is an http(s) URL with a host; ConfigError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"url of {where} must be an http:// or https:// URL, not {url[:80]!r}")
    if parts.username or parts.password:
        raise ConfigError(f"url of {where} must not hold credentials: use the signing secret")
    return url


def new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no HTTP(S)_PROXY, no .netrc: only what the settings say
    return session


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _read(response: requests.Response, deadline: float) -> bytes:
    """The reply body, at most MAX_REPLY_BYTES, given up at `deadline`."""
    out = bytearray()
    for chunk in response.iter_content(8192):
        out += chunk
        if len(out) >= MAX_REPLY_BYTES or time.monotonic() > deadline:
            break
    return bytes(out[:MAX_REPLY_BYTES])


def _retry_after(value: str | None) -> float | None:
    if value is not None and value.strip().isdigit():
        return float(value.strip()[:6])
    return None


def attempt(
    session: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> Attempt:
    """POST once; never raises for what the network or the receiver does."""
    start = time.monotonic()
    try:
        with session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            reply = _read(response, start + timeout)
            status = response.status_code
            after = _retry_after(response.headers.get("Retry-After"))
    except requests.Timeout:
        return Attempt(AttemptOutcome.TIMEOUT, None, f"no answer within {timeout:g}s", b"", timeout)
    except requests.RequestException as exc:
        detail = f"could not be reached ({type(exc).__name__}: {_cause(exc)})"
        return Attempt(AttemptOutcome.UNREACHABLE, None, detail, b"", time.monotonic() - start)
    elapsed = time.monotonic() - start
    if 200 <= status < 300:
        outcome = AttemptOutcome.DELIVERED
    elif status == 429 or status >= 500:
        outcome = AttemptOutcome.RETRY
    else:
        outcome = AttemptOutcome.REFUSED
    detail = f"answered {status} {response.reason or ''}".strip()
    if 300 <= status < 400:
        detail += f" (a redirect to {response.headers.get('Location', '?')[:200]}: update the url)"
    return Attempt(outcome, status, _one_line(detail), reply, elapsed, after)


def _cause(exc: BaseException) -> str:
    """The innermost reason of a requests error, without the URL's query."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    return _one_line(str(exc))[:200]


def deliver(
    url: str,
    body: bytes,
    secrets: Sequence[WebhookSecret],
    msg_id: str,
    policy: RetryPolicy,
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    within: float | None = None,
) -> list[Attempt]:
    """POST `body` signed until it is delivered or refused, or the retries are spent; every
    attempt, in order. `within`: seconds the whole may last; no retry is begun that could end
    later (its wait and its longest attempt)."""
    own = session is None
    session = session or new_session()
    done: list[Attempt] = []
    deadline = None if within is None else time.monotonic() + within
    try:
        for retry in range(policy.retries + 1):
            if retry:
                wait = policy.wait(retry - 1, done[-1].retry_after)
                if deadline is not None and (
                    time.monotonic() + wait + policy.longest_attempt > deadline
                ):
                    break
                sleep(wait)
            headers = signed_headers(secrets, msg_id, body)  # a fresh timestamp per attempt
            done.append(attempt(session, url, body, headers, policy.timeout))
            if not done[-1].outcome.retried:
                break
    finally:
        if own:
            session.close()
    return done


def describe(attempts: Sequence[Attempt]) -> str:
    """What a delivery's attempts came to, for an operator."""
    if not attempts:
        return "not attempted"
    last = attempts[-1]
    tries = f"{len(attempts)} attempt{'s' if len(attempts) > 1 else ''}"
    return f"{last.detail} ({tries})"
