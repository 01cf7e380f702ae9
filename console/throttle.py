"""The login throttle: how failed logins lock an account or a client address out, and the
table that counts them.

Failures are counted three ways within `ThrottlePolicy.window`:

- per (account, client address): `per_user` failures lock that account *from that address*;
- per client address, whatever the account: `per_address` failures lock that address;
- per account, from every address together: `per_user` failures lock the account only for the
  addresses that have failed recently; an address with no recent failure is still let through
  to the password check, so a correct password from a clean address always gets in.

Each lock lasts `first_lockout`, then twice as long for each failure straight after it, up to
`max_lockout`. Failures and lockouts are recorded in the history (kind ``auth``), never a
password. The state lives in the database, so every worker process of the console shares it,
and each failure is counted in one locking transaction, so racing failures are never lost.
`ThrottlePolicy`, `ThrottleState` and `refusal` are pure; `LoginThrottle` keeps the state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from console.users import AccountError, utc
from mailcore import DATABASE_METADATA as METADATA
from mailcore.errors import ConfigError
from mailcore.processing.vocabulary import EventKind

if TYPE_CHECKING:
    from mailcore import History

log = logging.getLogger("console.accounts")  # the name these records had before the split

throttle_table = sa.Table(
    "console_login_throttle",
    METADATA,
    # "user:<name>", "address:<client address>" or "pair:<name>|<client address>"
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lockouts", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class LoginThrottled(AccountError):
    """Too many failed logins: refused without checking the password, for `retry_after`."""

    def __init__(self, scope: str, retry_after: timedelta) -> None:
        self.scope = scope  # "pair", "address" or "user" (see the module docstring)
        self.retry_after = retry_after
        wait = describe_wait(retry_after)
        message = {  # in the language of the request (English outside one)
            "pair": _(
                "too many failed attempts for this account from your network address;"
                " try again in %(wait)s",
                wait=wait,
            ),
            "address": _(
                "too many failed attempts from your network address; try again in %(wait)s",
                wait=wait,
            ),
            "user": _(
                "too many failed attempts for this account from addresses that failed;"
                " try again in %(wait)s",
                wait=wait,
            ),
        }[scope]
        super().__init__(message)


def _wait_units(wait: timedelta) -> tuple[int, bool]:
    """`wait` rounded up, so the user never comes back too early: (count, in hours?)."""
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    if minutes >= 120:
        return math.ceil(minutes / 60), True
    return minutes, False


def describe_wait(wait: timedelta) -> str:
    """'1 minute', '4 minutes', '2 hours' in the reader's language (see _wait_units)."""
    count, hours = _wait_units(wait)
    if hours:
        return ngettext("%(num)d hour", "%(num)d hours", count)
    return ngettext("%(num)d minute", "%(num)d minutes", count)


def english_wait(wait: timedelta) -> str:
    """describe_wait in English, whatever the request: for the shared history."""
    count, hours = _wait_units(wait)
    unit = "hour" if hours else "minute"
    return f"{count} {unit}{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class ThrottlePolicy:
    """When failed logins lock an account or a client address out, and for how long."""

    # Failures within `window` for one account from one address that lock that pair; from
    # all addresses together, they lock the account for addresses that have failed.
    per_user: int = 5
    per_address: int = 20  # ... from one address, any account (an office NAT has many users)
    window: timedelta = timedelta(minutes=15)
    first_lockout: timedelta = timedelta(minutes=1)
    max_lockout: timedelta = timedelta(hours=1)

    def lockout(self, count: int) -> timedelta:
        """The length of the `count`-th lockout in a row: doubling, up to max_lockout."""
        return min(self.first_lockout * 2 ** min(max(count, 1) - 1, 20), self.max_lockout)

    @classmethod
    def from_settings(cls, table: Mapping[str, Any], where: str = "settings") -> ThrottlePolicy:
        """The policy set by the ``login_*`` keys of the ``[console]`` table (or their
        ``MAILCORE_CONSOLE_LOGIN_*`` forms); the defaults for keys not given.

        Raises ConfigError naming the key for a value that is not a number in range.
        """
        default = cls()
        per_user = _setting(table, "login_max_failures_per_user", where, integer=True)
        per_address = _setting(table, "login_max_failures_per_address", where, integer=True)
        window = _setting(table, "login_window_minutes", where)
        first = _setting(table, "login_first_lockout_minutes", where)
        longest = _setting(table, "login_max_lockout_minutes", where)
        policy = cls(
            per_user=default.per_user if per_user is None else int(per_user),
            per_address=default.per_address if per_address is None else int(per_address),
            window=default.window if window is None else timedelta(minutes=window),
            first_lockout=default.first_lockout if first is None else timedelta(minutes=first),
            max_lockout=default.max_lockout if longest is None else timedelta(minutes=longest),
        )
        if policy.max_lockout < policy.first_lockout:
            raise ConfigError(
                f"[console] login_max_lockout_minutes in {where} must be at least"
                " login_first_lockout_minutes"
                f" ({policy.first_lockout.total_seconds() / 60:g})"
            )
        return policy


_MAX_COUNT = 1_000_000
_MAX_MINUTES = 30 * 24 * 60  # a month: longer is a typo, and overflows the doubling


def _setting(
    table: Mapping[str, Any], key: str, where: str, *, integer: bool = False
) -> float | None:
    """`table[key]` as a positive number (TOML value or environment string), None if unset."""
    raw = table.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    limit = _MAX_COUNT if integer else _MAX_MINUTES
    value: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str):
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            value = None
    if value is not None and integer and value != int(value):
        value = None
    if value is None or not 0 < value <= limit or math.isnan(value):
        kind = "a whole number" if integer else "a number of minutes"
        raise ConfigError(
            f"[console] {key} in {where} (or MAILCORE_CONSOLE_{key.upper()}) must be {kind}"
            f" above 0 and at most {limit:,}, got {raw!r}"
        )
    return value


@dataclass(frozen=True)
class ThrottleState:
    """Failed logins of one username or address (pure data; `after_failure` moves it on)."""

    failures: int = 0  # failures since window_start
    window_start: datetime | None = None
    lockouts: int = 0  # lockouts in a row, each twice as long as the one before
    locked_until: datetime | None = None

    def wait(self, now: datetime) -> timedelta:
        """How long attempts are still refused (zero when they are allowed)."""
        if self.locked_until is None or self.locked_until <= now:
            return timedelta(0)
        return self.locked_until - now

    def after_failure(self, now: datetime, limit: int, policy: ThrottlePolicy) -> ThrottleState:
        """The state after one more failed attempt at `now` (`limit`: failures that lock)."""
        lockouts = self.lockouts
        if self.locked_until is not None and now - self.locked_until > policy.window:
            lockouts = 0  # quiet for a whole window after the last lockout: forgiven
        if lockouts:
            # Straight out of a lockout: one more failure locks again, for twice as long.
            return ThrottleState(0, None, lockouts + 1, now + policy.lockout(lockouts + 1))
        failures, start = self.failures, self.window_start
        if start is None or now - start > policy.window:
            failures, start = 0, now
        failures += 1
        if failures >= limit:
            return ThrottleState(0, None, 1, now + policy.lockout(1))
        return ThrottleState(failures, start, 0, None)

    def has_failed(self, now: datetime, policy: ThrottlePolicy) -> bool:
        """True when this key failed within the window, or was locked less than a window ago."""
        if (
            self.window_start is not None
            and self.failures
            and now - self.window_start <= policy.window
        ):
            return True
        return self.locked_until is not None and now - self.locked_until <= policy.window


def throttle_keys(username: str, address: str | None) -> dict[str, str]:
    """The throttle row keys of one attempt, by scope ("pair", "address", "user")."""
    name = username.strip().lower()[:150]
    where = (address or "-")[:150]  # callers without an address (scripts) share one
    return {"pair": f"pair:{name}|{where}", "address": f"address:{where}", "user": f"user:{name}"}


def refusal(
    states: Mapping[str, ThrottleState], now: datetime, policy: ThrottlePolicy
) -> LoginThrottled | None:
    """Why an attempt is refused before its password is checked, or None to check it.

    `states` holds the attempt's states by scope ("pair", "address", "user"). The account-wide
    state alone never refuses an address without a recent failure: otherwise anybody could
    keep a user out by failing on purpose.
    """
    empty = ThrottleState()
    for scope in ("address", "pair"):
        wait = states.get(scope, empty).wait(now)
        if wait:
            return LoginThrottled(scope, wait)
    wait = states.get("user", empty).wait(now)
    suspect = any(states.get(s, empty).has_failed(now, policy) for s in ("pair", "address"))
    if wait and suspect:
        return LoginThrottled("user", wait)
    return None


def _state(row: Any) -> ThrottleState:
    return ThrottleState(row.failures, utc(row.window_start), row.lockouts, utc(row.locked_until))


def _insert_missing(conn: sa.Connection, key: str, now: datetime) -> None:
    """Insert an empty throttle row for `key` unless one exists (never an IntegrityError,
    which would end a PostgreSQL transaction)."""
    values = {"key": key, "failures": 0, "lockouts": 0, "updated_at": now}
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if name == "postgresql" else sqlite.insert
        conn.execute(insert(throttle_table).values(**values).on_conflict_do_nothing())
        return
    try:
        with conn.begin_nested():
            conn.execute(throttle_table.insert().values(**values))
    except sa.exc.IntegrityError:
        pass  # another process inserted it first


class LoginThrottle:
    """The throttle's state on the shared database: reads it, counts failures, forgives a
    user's own mistakes after a success, and records failures and lockouts."""

    def __init__(self, db: sa.Engine, policy: ThrottlePolicy) -> None:
        self.db = db
        self.policy = policy

    def states(self, keys: Mapping[str, str]) -> dict[str, ThrottleState]:
        """The state of each of an attempt's keys (`throttle_keys`), by scope."""
        found = self._states(list(keys.values()))
        return {scope: found.get(key, ThrottleState()) for scope, key in keys.items()}

    def _states(self, keys: Sequence[str]) -> dict[str, ThrottleState]:
        t = throttle_table
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.key.in_(keys))).all()
        return {r.key: _state(r) for r in rows}

    def forgive(self, keys: Mapping[str, str]) -> None:
        """After a success: the user's own mistakes are forgiven; the address count stays
        (other accounts)."""
        t = throttle_table
        with self.db.begin() as conn:
            conn.execute(t.delete().where(t.c.key.in_([keys["pair"], keys["user"]])))

    def check(self, states: Mapping[str, ThrottleState], now: datetime) -> None:
        """Raise LoginThrottled when the attempt is refused before its password is checked."""
        refused = refusal(states, now, self.policy)
        if refused is not None:
            log.info("login refused: %s locked for %s more", refused.scope, refused.retry_after)
            raise refused

    def fail(
        self, keys: Mapping[str, str], states: Mapping[str, ThrottleState], now: datetime
    ) -> LoginThrottled | None:
        """Count one failure of the attempt whose keys had `states`; the lock it starts, if
        any (the most specific one is the one told)."""
        after = self._count_failure(keys, now)
        locked: LoginThrottled | None = None
        for scope in ("pair", "address", "user"):  # the most specific lock is the one told
            wait = after[scope].wait(now)
            if wait and not states[scope].wait(now) and locked is None:
                locked = LoginThrottled(scope, wait)
        return locked

    def _count_failure(self, keys: Mapping[str, str], now: datetime) -> dict[str, ThrottleState]:
        """Add one failure to each key's state, by scope, in one transaction holding the rows'
        locks: two processes failing at once both count (read-modify-write is not racy)."""
        t = throttle_table
        limits = {
            "pair": self.policy.per_user,
            "address": self.policy.per_address,
            "user": self.policy.per_user,
        }
        scope_of = {key: scope for scope, key in keys.items()}
        ordered = sorted(scope_of)  # one lock order for every process: no deadlock
        # A row idle for a window plus the longest lockout has nothing left to say.
        stale = now - self.policy.window - self.policy.max_lockout
        with self.db.begin() as conn:
            # Writing first takes SQLite's write lock before anything is read; on PostgreSQL
            # the rows then exist for SELECT ... FOR UPDATE to lock.
            for key in ordered:
                _insert_missing(conn, key, now)
            rows = conn.execute(
                sa.select(t).where(t.c.key.in_(ordered)).order_by(t.c.key).with_for_update()
            ).all()
            after: dict[str, ThrottleState] = {}
            for row in rows:
                scope = scope_of[row.key]
                new = _state(row).after_failure(now, limits[scope], self.policy)
                after[scope] = new
                conn.execute(
                    t.update()
                    .where(t.c.key == row.key)
                    .values(
                        failures=new.failures,
                        window_start=new.window_start,
                        lockouts=new.lockouts,
                        locked_until=new.locked_until,
                        updated_at=now,
                    )
                )
            conn.execute(t.delete().where(t.c.updated_at < stale))
        return after

    @staticmethod
    def record_failure(
        who: str,
        address: str | None,
        locked: LoginThrottled | None,
        now: datetime,
        history: History | None,
    ) -> None:
        """Log a failed login of `who` (a known username or "(unknown user)") and record it,
        and the lock it started, in `history` (kind ``auth``)."""
        where = f" from {address}" if address else ""
        log.info("login failed for %s%s", who, where)
        if history is None:
            return
        after: dict[str, Any] = {"user": who, "address": address}
        events = [(EventKind.AUTH, f"failed login for {who}{where}")]
        if locked is not None:
            after["locked_for_seconds"] = int(locked.retry_after.total_seconds())
            after["locked_scope"] = locked.scope
            wait = english_wait(locked.retry_after)  # the history is in English
            reason = {
                "pair": f"locked out {who} for {wait}{where}",
                "address": f"locked out address {address or '(none)'} for {wait}",
                "user": f"locked out {who} for {wait} for the addresses that failed",
            }[locked.scope]
            events.append((EventKind.AUTH, reason))
        for kind, reason in events:
            history.record(kind, actor=who, reason=reason, after=after, at=now)
