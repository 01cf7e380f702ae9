"""Console user accounts: who may log in, with which role; passwords stored hashed only.

Roles: ``operator`` (fixes failed mail), ``author`` (edits outbound templates), ``admin``
(everything, including managing accounts). Changes made by someone are recorded in the
history (kind ``admin``) when a History is given.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from mailcore.db import METADATA
from mailcore.errors import MailcoreError

if TYPE_CHECKING:
    from mailcore.history import History

log = logging.getLogger(__name__)

ROLES = ("operator", "author", "admin")
MIN_PASSWORD_LENGTH = 10
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

# Checked against when the user does not exist, so both paths cost one hash verification
# and response time does not reveal which usernames exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(MailcoreError):
    """An account operation was refused (unknown user, bad role, weak password, last admin)."""


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


class Accounts:
    """Account store on the shared database."""

    def __init__(self, db: sa.Engine, history: History | None = None) -> None:
        self.db = db
        self.history = history
        METADATA.create_all(db, tables=[users_table])

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
        """Every account, by name."""
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(users_table).order_by(users_table.c.username)).all()
        return [self._user(r) for r in rows]

    def count(self) -> int:
        with self.db.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(users_table)).scalar() or 0
            )

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches and the account is active; None otherwise."""
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
        if user.role == "admin" and role != "admin" and user.active and self._active_admins() <= 1:
            raise AccountError("cannot demote the last active admin: promote another user first")
        updated = self._update(user, role=role)
        self._audit(
            by,
            f"changed role of {user.username} from {user.role} to {role}",
            {"user": user.username, "role": role},
            before={"user": user.username, "role": user.role},
        )
        return updated

    def set_active(self, username: str, active: bool, by: str) -> User:
        """Enable or disable an account; the last active admin cannot be disabled."""
        user = self._require(username)
        if user.role == "admin" and user.active and not active and self._active_admins() <= 1:
            raise AccountError("cannot disable the last active admin: promote another user first")
        updated = self._update(user, active=active)
        self._audit(
            by,
            f"{'enabled' if active else 'disabled'} user {user.username}",
            {"user": user.username, "active": active},
            before={"user": user.username, "active": user.active},
        )
        return updated

    def set_password(self, username: str, password: str, by: str) -> None:
        """Replace a user's password (never recorded, only the fact that it changed)."""
        user = self._require(username)
        check_password_strength(password)
        self._update(user, password_hash=generate_password_hash(password))
        self._audit(by, f"changed password of {user.username}", {"user": user.username})

    def _audit(
        self, by: str, reason: str, after: dict[str, Any], before: dict[str, Any] | None = None
    ) -> None:
        log.info("accounts: %s (by %s)", reason, by)
        if self.history is not None:
            self.history.record("admin", actor=by, reason=reason, before=before, after=after)
