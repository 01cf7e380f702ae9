"""Console user accounts: who may log in, with which role; passwords stored hashed only.

Roles: ``operator`` (fixes failed mail), ``author`` (edits outbound templates), ``admin``
(everything, including managing accounts). Changes made by someone are recorded in the
history (kind ``admin``) when a History is given.

Logins go through `Accounts.login`, which throttles guessing without handing an outsider a way
to lock a legitimate user out. Failures are counted three ways within `ThrottlePolicy.window`:

- per (account, client address): `per_user` failures lock that account *from that address*;
- per client address, whatever the account: `per_address` failures lock that address;
- per account, from every address together: `per_user` failures lock the account only for the
  addresses that have failed recently; an address with no recent failure is still let through
  to the password check, so a correct password from a clean address always gets in.

Each lock lasts `first_lockout`, then twice as long for each failure straight after it, up to
`max_lockout`. Failures and lockouts are recorded in the history (kind ``auth``), never a
password. The state lives in the database, so every worker process of the console shares it,
and each failure is counted in one locking transaction, so racing failures are never lost.

Console sessions are server-side records (`Accounts.start_session`): the browser holds an
opaque random token, the database only its SHA-256. Logging out ends that session; a password
change or disabling the account ends all the user's sessions (and the remember-me cookies,
which carry the same token).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from mailcore.errors import ConfigError, MailcoreError
from mailcore.store.db import METADATA

if TYPE_CHECKING:
    from mailcore.store.history import History

log = logging.getLogger(__name__)

ROLES = ("operator", "author", "admin")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # longer is not a password but a payload: refused unhashed
_MAX_USERNAME = 64
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")

users_table = sa.Table(
    "console_users",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("email", sa.String(255), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sessions_table = sa.Table(
    "console_sessions",
    METADATA,
    # SHA-256 of the token the browser holds: a copy of the database logs nobody in.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("console_users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    # An unused session ends after this long; each use pushes expires_at back.
    sa.Column("idle_seconds", sa.Integer, nullable=False),
    sa.Index("ix_console_sessions_user_id", "user_id"),
)

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

_MAX_TOKEN = 200  # ours are 43 characters; anything much longer is not one of ours


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


# Checked against when the user does not exist, so both paths cost one hash verification
# and response time does not reveal which usernames exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(MailcoreError):
    """An account operation was refused (unknown user, bad role, weak password, last admin)."""


class LoginThrottled(AccountError):
    """Too many failed logins: refused without checking the password, for `retry_after`."""

    def __init__(self, scope: str, retry_after: timedelta) -> None:
        self.scope = scope  # "pair", "address" or "user" (see the module docstring)
        self.retry_after = retry_after
        whose = {
            "pair": "for this account from your network address",
            "address": "from your network address",
            "user": "for this account from addresses that failed",
        }[scope]
        super().__init__(
            f"too many failed attempts {whose}; try again in {describe_wait(retry_after)}"
        )


def describe_wait(wait: timedelta) -> str:
    """'1 minute', '4 minutes', '2 hours': rounded up, so the user never comes back too early."""
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    if minutes >= 120:
        hours = math.ceil(minutes / 60)
        return f"{hours} hours"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


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


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands DateTime(timezone=True) back without its zone; it was stored as UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _state(row: Any) -> ThrottleState:
    return ThrottleState(row.failures, _utc(row.window_start), row.lockouts, _utc(row.locked_until))


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


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    email: str | None
    active: bool

    def has_role(self, *roles: str) -> bool:
        """True when the user holds one of `roles`; admins hold every role."""
        return self.active and (self.role == "admin" or self.role in roles)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def check_password_strength(password: str) -> None:
    """Raise AccountError saying what is wrong with a password that is too weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or not password.strip():
        raise AccountError("password must not start or end with spaces")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password too long: use at most {MAX_PASSWORD_LENGTH} characters")


class Accounts:
    """Account store on the shared database."""

    def __init__(
        self,
        db: sa.Engine,
        history: History | None = None,
        *,
        throttle: ThrottlePolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.history = history
        self.throttle = throttle or ThrottlePolicy()
        self.clock = clock or (lambda: datetime.now(UTC))
        # checkfirst: a database made before sessions existed gains their table here.
        METADATA.create_all(db, tables=[users_table, sessions_table, throttle_table])

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _user(row: Any) -> User:
        return User(
            id=row.id, username=row.username, role=row.role, email=row.email, active=row.active
        )

    def get(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        with self.db.connect() as conn:
            row = conn.execute(sa.select(users_table).where(users_table.c.id == user_id)).first()
        return self._user(row) if row else None

    def by_name(self, username: str) -> User | None:
        """The user with this name (case-insensitive), or None."""
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(users_table).where(
                    sa.func.lower(users_table.c.username) == username.strip().lower()
                )
            ).first()
        return self._user(row) if row else None

    def list(self) -> list[User]:
        """Every account, by name (case-insensitively, whatever the database's collation)."""
        t = users_table
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(sa.func.lower(t.c.username), t.c.id)).all()
        return [self._user(r) for r in rows]

    def count(self) -> int:
        with self.db.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(users_table)).scalar() or 0
            )

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches and the account is active; None otherwise."""
        if len(username.strip()) > _MAX_USERNAME or len(password) > MAX_PASSWORD_LENGTH:
            # No such account can exist: refused in the same time as any other failure.
            check_password_hash(_DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
            log.info("login refused: username or password longer than any account's")
            return None
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(users_table).where(
                    sa.func.lower(users_table.c.username) == username.strip().lower()
                )
            ).first()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            log.info("login refused: unknown user")
            return None
        if not check_password_hash(row.password_hash, password):
            log.info("login refused for %s: wrong password", row.username)
            return None
        if not row.active:
            log.info("login refused for %s: account disabled", row.username)
            return None
        return self._user(row)

    def login(self, username: str, password: str, address: str | None = None) -> User | None:
        """`authenticate`, throttled per (account, address), per address and per account.

        Raises LoginThrottled while the attempt is refused (the password is not even checked;
        see `refusal` for which locks apply), and when this failure is the one that locks.
        Returns None for a plain failure.
        """
        now = self.clock()
        keys = throttle_keys(username, address)
        found = self._throttle_states(list(keys.values()))
        states = {scope: found.get(key, ThrottleState()) for scope, key in keys.items()}
        refused = refusal(states, now, self.throttle)
        if refused is not None:
            log.info("login refused: %s locked for %s more", refused.scope, refused.retry_after)
            raise refused
        user = self.authenticate(username, password)
        if user is not None:
            # The user's own mistakes are forgiven; the address count stays (other accounts).
            t = throttle_table
            with self.db.begin() as conn:
                conn.execute(t.delete().where(t.c.key.in_([keys["pair"], keys["user"]])))
            return user
        after = self._count_failure(keys, now)
        locked: LoginThrottled | None = None
        for scope in ("pair", "address", "user"):  # the most specific lock is the one told
            wait = after[scope].wait(now)
            if wait and not states[scope].wait(now) and locked is None:
                locked = LoginThrottled(scope, wait)
        self._record_failure(username, address, locked, now)
        if locked is not None:
            raise locked  # a new account-wide lock applies too: this address has just failed
        return None

    def _throttle_states(self, keys: Sequence[str]) -> dict[str, ThrottleState]:
        t = throttle_table
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.key.in_(keys))).all()
        return {r.key: _state(r) for r in rows}

    def _count_failure(self, keys: Mapping[str, str], now: datetime) -> dict[str, ThrottleState]:
        """Add one failure to each key's state, by scope, in one transaction holding the rows'
        locks: two processes failing at once both count (read-modify-write is not racy)."""
        t = throttle_table
        limits = {
            "pair": self.throttle.per_user,
            "address": self.throttle.per_address,
            "user": self.throttle.per_user,
        }
        scope_of = {key: scope for scope, key in keys.items()}
        ordered = sorted(scope_of)  # one lock order for every process: no deadlock
        # A row idle for a window plus the longest lockout has nothing left to say.
        stale = now - self.throttle.window - self.throttle.max_lockout
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
                new = _state(row).after_failure(now, limits[scope], self.throttle)
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

    def _record_failure(
        self,
        username: str,
        address: str | None,
        locked: LoginThrottled | None,
        now: datetime,
    ) -> None:
        # An unknown name is often a password typed into the wrong field: never store it.
        known = self.by_name(username) if len(username.strip()) <= _MAX_USERNAME else None
        who = known.username if known is not None else "(unknown user)"
        where = f" from {address}" if address else ""
        log.info("login failed for %s%s", who, where)
        if self.history is None:
            return
        after: dict[str, Any] = {"user": who, "address": address}
        events = [("auth", f"failed login for {who}{where}")]
        if locked is not None:
            after["locked_for_seconds"] = int(locked.retry_after.total_seconds())
            after["locked_scope"] = locked.scope
            wait = describe_wait(locked.retry_after)
            reason = {
                "pair": f"locked out {who} for {wait}{where}",
                "address": f"locked out address {address or '(none)'} for {wait}",
                "user": f"locked out {who} for {wait} for the addresses that failed",
            }[locked.scope]
            events.append(("auth", reason))
        for kind, reason in events:
            self.history.record(kind, actor=who, reason=reason, after=after, at=now)

    # -- sessions --------------------------------------------------------------------------

    def start_session(self, user: User, idle: timedelta) -> str:
        """Open a session for `user`, ended after `idle` without use; its secret token.

        The token is what the browser holds (in the session and remember-me cookies);
        only its digest is stored.
        """
        token = secrets.token_urlsafe(32)
        now = self.clock()
        t = sessions_table
        with self.db.begin() as conn:
            conn.execute(t.delete().where(t.c.expires_at < now))  # keeps the table small
            conn.execute(
                t.insert().values(
                    token_hash=_digest(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + idle,
                    idle_seconds=max(1, int(idle.total_seconds())),
                )
            )
        return token

    def session_user(self, token: str) -> User | None:
        """The active user of a live session, or None (ended, expired, unknown, disabled).

        Each use keeps the session alive for its idle time again (written at most once per
        tenth of it, not on every request).
        """
        if not token or len(token) > _MAX_TOKEN:
            return None
        s, u = sessions_table, users_table
        now = self.clock()
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(u, s.c.expires_at, s.c.idle_seconds)
                .join(s, s.c.user_id == u.c.id)
                .where(s.c.token_hash == _digest(token))
            ).first()
        if row is None or not row.active:
            return None
        expires = _utc(row.expires_at)
        assert expires is not None
        if expires <= now:
            return None
        idle = timedelta(seconds=row.idle_seconds)
        if expires - now < idle * 0.9:
            with self.db.begin() as conn:
                conn.execute(
                    s.update().where(s.c.token_hash == _digest(token)).values(expires_at=now + idle)
                )
        return self._user(row)

    def end_session(self, token: str) -> None:
        """End one session (logout); its cookies are refused from now on."""
        with self.db.begin() as conn:
            conn.execute(
                sessions_table.delete().where(sessions_table.c.token_hash == _digest(token))
            )

    def end_sessions(self, user: User, keep: str | None = None) -> int:
        """End every session of `user` but `keep` (a token); how many ended."""
        t = sessions_table
        where = t.c.user_id == user.id
        if keep:
            where = sa.and_(where, t.c.token_hash != _digest(keep))
        with self.db.begin() as conn:
            ended = conn.execute(t.delete().where(where)).rowcount or 0
        if ended:
            log.info("accounts: ended %d session(s) of %s", ended, user.username)
        return int(ended)

    # -- changes ---------------------------------------------------------------------------

    def create(
        self,
        username: str,
        password: str,
        role: str,
        email: str | None = None,
        by: str = "system",
    ) -> User:
        """Create an account; raises AccountError for a taken name, bad role or weak password."""
        username = username.strip()
        if not _USERNAME.match(username):
            raise AccountError(
                f"invalid username {username!r}: use 2-64 letters, digits, '.', '_', '@' or '-'"
            )
        _check_role(role)
        check_password_strength(password)
        if email and (len(email) > 254 or "\x00" in email):  # the column holds 255
            raise AccountError("invalid e-mail address: too long or with a NUL character")
        if self.by_name(username) is not None:
            raise AccountError(f"username {username!r} is already taken")
        with self.db.begin() as conn:
            result = conn.execute(
                users_table.insert().values(
                    username=username,
                    password_hash=generate_password_hash(password),
                    role=role,
                    email=email or None,
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )
            user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        after = {"user": username, "role": role}
        self._audit(by, f"created user {username} with role {role}", after)
        user = self.get(user_id)
        assert user is not None
        return user

    def _require(self, username: str) -> User:
        user = self.by_name(username)
        if user is None:
            raise AccountError(f"no user named {username!r}")
        return user

    def _active_admins(self) -> int:
        with self.db.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(users_table)
                    .where(users_table.c.role == "admin", users_table.c.active.is_(True))
                ).scalar()
                or 0
            )

    def _update(self, user: User, **values: Any) -> User:
        with self.db.begin() as conn:
            conn.execute(users_table.update().where(users_table.c.id == user.id).values(**values))
        updated = self.get(user.id)
        assert updated is not None
        return updated

    def set_role(self, username: str, role: str, by: str) -> User:
        """Change a user's role; the last active admin cannot be demoted."""
        _check_role(role)
        user = self._require(username)
        reason = f"changed role of {user.username} from {user.role} to {role}"
        return self._change(user, "role", role, by, reason, refused="demote")

    def set_active(self, username: str, active: bool, by: str) -> User:
        """Enable or disable an account; the last active admin cannot be disabled."""
        user = self._require(username)
        reason = f"{'enabled' if active else 'disabled'} user {user.username}"
        return self._change(user, "active", active, by, reason, refused="disable")

    def _change(
        self, user: User, field: str, value: Any, by: str, reason: str, refused: str
    ) -> User:
        """Set one field and record it with its value before and after; refuses a change
        that would leave no active admin (`refused` names it: "demote", "disable")."""
        after = replace(user, **{field: value})
        was_admin, stays_admin = user.has_role("admin"), after.role == "admin" and after.active
        if was_admin and not stays_admin and self._active_admins() <= 1:
            raise AccountError(
                f"cannot {refused} the last active admin: promote another user first"
            )
        updated = self._update(user, **{field: value})
        if not updated.active:
            self.end_sessions(updated)  # enabled again later, it must log in afresh
        self._audit(
            by,
            reason,
            {"user": user.username, field: value},
            before={"user": user.username, field: getattr(user, field)},
        )
        return updated

    def set_password(
        self, username: str, password: str, by: str, keep_session: str | None = None
    ) -> None:
        """Replace a user's password (never recorded, only the fact that it changed) and end
        all their sessions but `keep_session` (the one of a user changing their own)."""
        user = self._require(username)
        check_password_strength(password)
        self._update(user, password_hash=generate_password_hash(password))
        self.end_sessions(user, keep=keep_session)
        self._audit(by, f"changed password of {user.username}", {"user": user.username})

    def _audit(
        self, by: str, reason: str, after: dict[str, Any], before: dict[str, Any] | None = None
    ) -> None:
        log.info("accounts: %s (by %s)", reason, by)
        if self.history is not None:
            self.history.record("admin", actor=by, reason=reason, before=before, after=after)
