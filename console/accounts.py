"""Console user accounts: who may log in, with which role; passwords stored hashed only.

`Accounts` is the account store on the shared database. Changes made by someone are recorded
in the history (kind ``admin``) when a History is given. It delegates to one object per
concern, each in its own module:

- console.users: the roles, the username and password rules, the users table, `User` and
  `AccountError`;
- console.throttle: the login throttle (`Accounts.login` throttles guessing without handing an
  outsider a way to lock a legitimate user out; see that module for how failures count);
- console.sessions: server-side sessions (`Accounts.start_session`): the browser holds an
  opaque random token, the database only its SHA-256. Logging out ends that session; a
  password change or disabling the account ends all the user's sessions (and the
  remember-me cookies, which carry the same token).

Every name this module offered before the split is still importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from console.sessions import Sessions, sessions_table
from console.throttle import (
    LoginThrottle,
    LoginThrottled,
    ThrottlePolicy,
    ThrottleState,
    describe_wait,
    refusal,
    throttle_keys,
    throttle_table,
)
from console.users import (
    MAX_PASSWORD_LENGTH,
    MAX_USERNAME,
    MIN_PASSWORD_LENGTH,
    ROLES,
    USERNAME,
    AccountError,
    User,
    check_email,
    check_password_strength,
    check_role,
    user_languages_table,
    users_table,
)
from mailcore import DATABASE_METADATA as METADATA
from mailcore.processing.vocabulary import EventKind

if TYPE_CHECKING:
    from mailcore import History

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "AccountError",
    "Accounts",
    "LoginThrottled",
    "ThrottlePolicy",
    "ThrottleState",
    "User",
    "check_password_strength",
    "describe_wait",
    "refusal",
    "sessions_table",
    "throttle_keys",
    "throttle_table",
    "users_table",
]

log = logging.getLogger(__name__)

# What would leave no active admin, by the change refused (each message a whole sentence,
# so that it translates).
LAST_ADMIN = {
    "demote": lambda: _("cannot demote the last active admin: promote another user first"),
    "disable": lambda: _("cannot disable the last active admin: promote another user first"),
    "delete": lambda: _("cannot delete the last active admin: promote another user first"),
    "change": lambda: _("cannot change the last active admin: promote another user first"),
}

# Checked against when the user does not exist, so both paths cost one hash verification
# and response time does not reveal which usernames exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


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
        self.login_throttle = LoginThrottle(db, self.throttle)
        self.sessions = Sessions(db)
        # checkfirst: a database made before sessions (or languages) existed gains the table.
        tables = [users_table, sessions_table, throttle_table, user_languages_table]
        METADATA.create_all(db, tables=tables)

    # -- reading ---------------------------------------------------------------------------

    def get(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        with self.db.connect() as conn:
            row = conn.execute(sa.select(users_table).where(users_table.c.id == user_id)).first()
        return User.of(row) if row else None

    def by_name(self, username: str) -> User | None:
        """The user with this name (case-insensitive), or None."""
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(users_table).where(
                    sa.func.lower(users_table.c.username) == username.strip().lower()
                )
            ).first()
        return User.of(row) if row else None

    def list(self) -> list[User]:
        """Every account, by name (case-insensitively, whatever the database's collation)."""
        t = users_table
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(sa.func.lower(t.c.username), t.c.id)).all()
        return [User.of(r) for r in rows]

    def count(self) -> int:
        with self.db.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(users_table)).scalar() or 0
            )

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches and the account is active; None otherwise."""
        if len(username.strip()) > MAX_USERNAME or len(password) > MAX_PASSWORD_LENGTH:
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
        return User.of(row)

    def login(self, username: str, password: str, address: str | None = None) -> User | None:
        """`authenticate`, throttled per (account, address), per address and per account.

        Raises LoginThrottled while the attempt is refused (the password is not even checked;
        see `refusal` for which locks apply), and when this failure is the one that locks.
        Returns None for a plain failure.
        """
        now = self.clock()
        keys = throttle_keys(username, address)
        states = self.login_throttle.states(keys)
        self.login_throttle.check(states, now)
        user = self.authenticate(username, password)
        if user is not None:
            self.login_throttle.forgive(keys)
            return user
        locked = self.login_throttle.fail(keys, states, now)
        # An unknown name is often a password typed into the wrong field: never store it.
        known = self.by_name(username) if len(username.strip()) <= MAX_USERNAME else None
        who = known.username if known is not None else "(unknown user)"
        self.login_throttle.record_failure(who, address, locked, now, self.history)
        if locked is not None:
            raise locked  # a new account-wide lock applies too: this address has just failed
        return None

    # -- sessions (console.sessions) -------------------------------------------------------

    def start_session(self, user: User, idle: timedelta) -> str:
        """Open a session for `user`, ended after `idle` without use; its secret token.

        The token is what the browser holds (in the session and remember-me cookies);
        only its digest is stored.
        """
        return self.sessions.start(user, idle, self.clock())

    def session_user(self, token: str) -> User | None:
        """The active user of a live session, or None (ended, expired, unknown, disabled).

        Each use keeps the session alive for its idle time again (written at most once per
        tenth of it, not on every request).
        """
        return self.sessions.user(token, self.clock())

    def end_session(self, token: str) -> None:
        """End one session (logout); its cookies are refused from now on."""
        self.sessions.end(token)

    def end_sessions(self, user: User, keep: str | None = None) -> int:
        """End every session of `user` but `keep` (a token); how many ended."""
        return self.sessions.end_all(user, keep)

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
        if not USERNAME.match(username):
            raise AccountError(
                _(
                    "invalid username %(name)r: use 2-64 letters, digits, '.', '_', '@' or '-'",
                    name=username,
                ),
                "username",
            )
        check_role(role)
        check_password_strength(password)
        check_email(email)
        if self.by_name(username) is not None:
            raise AccountError(_("username %(name)r is already taken", name=username), "username")
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
            raise AccountError(_("no user named %(name)r", name=username), "username")
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
        check_role(role)
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
            raise AccountError(LAST_ADMIN[refused]())
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

    def set_email(self, username: str, email: str | None, by: str) -> User:
        """Change (or with None or "" remove) a user's e-mail address, where test sends go."""
        user = self._require(username)
        email = (email or "").strip() or None
        check_email(email)
        reason = f"changed e-mail of {user.username}"
        return self._change(user, "email", email, by, reason, refused="change")

    def delete(self, username: str, by: str) -> None:
        """Delete an account, its sessions and preferences; never the last active admin
        (what it did stays in the history, under its name)."""
        user = self._require(username)
        if user.has_role("admin") and self._active_admins() <= 1:
            raise AccountError(LAST_ADMIN["delete"]())
        with self.db.begin() as conn:
            conn.execute(sessions_table.delete().where(sessions_table.c.user_id == user.id))
            langs = user_languages_table
            conn.execute(langs.delete().where(langs.c.user_id == user.id))
            conn.execute(users_table.delete().where(users_table.c.id == user.id))
        self._audit(by, f"deleted user {user.username}", {}, before={"user": user.username})

    def _audit(
        self, by: str, reason: str, after: dict[str, Any], before: dict[str, Any] | None = None
    ) -> None:
        log.info("accounts: %s (by %s)", reason, by)
        if self.history is not None:
            self.history.record(
                EventKind.ADMIN, actor=by, reason=reason, before=before, after=after
            )
