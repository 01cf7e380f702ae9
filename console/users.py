"""Who may log in: the roles, the username and password rules, the users table, the `User`
value and `AccountError` -- the vocabulary console.accounts, console.sessions and
console.throttle share.

Roles: ``operator`` (fixes failed mail), ``author`` (edits outbound templates), ``admin``
(everything, including managing accounts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from mailcore import DATABASE_METADATA as METADATA
from mailcore.errors import MailcoreError

ROLES = ("operator", "author", "admin")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # longer is not a password but a payload: refused unhashed
MAX_USERNAME = 64
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")

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

# Each user's console language (a code of console.translations.LANGUAGES); no row: the
# browser's. A table of its own, so databases made before it keep their users table as is.
user_languages_table = sa.Table(
    "console_user_languages",
    METADATA,
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("language", sa.String(8), nullable=False),
)


class AccountError(MailcoreError):
    """An account operation was refused (unknown user, bad role, weak password, last admin);
    `field` names the form field it concerns ("username", "password", "role", "email").

    Messages are in the language of the request that caused them (English elsewhere)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


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

    @staticmethod
    def of(row: Any) -> User:
        """The user of a row holding the users table's columns."""
        return User(
            id=row.id, username=row.username, role=row.role, email=row.email, active=row.active
        )


def check_role(role: str) -> str:
    """`role` when it is one of ROLES; else AccountError naming the choices."""
    if role not in ROLES:
        raise AccountError(
            _("unknown role %(role)r: choose one of %(roles)s", role=role, roles=", ".join(ROLES)),
            "role",
        )
    return role


def check_password_strength(password: str) -> None:
    """Raise AccountError saying what is wrong with a password that is too weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            _("password too short: use at least %(n)d characters", n=MIN_PASSWORD_LENGTH),
            "password",
        )
    if password.strip() != password or not password.strip():
        raise AccountError(_("password must not start or end with spaces"), "password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(
            _("password too long: use at most %(n)d characters", n=MAX_PASSWORD_LENGTH),
            "password",
        )


def check_email(email: str | None) -> None:
    """Raise AccountError when `email` cannot be stored (the column holds 255)."""
    if not email:
        return
    if len(email) > 254 or "\x00" in email:
        raise AccountError(_("invalid e-mail address: too long or with a NUL character"), "email")
    local, _at, domain = email.rpartition("@")
    if not (local and domain) or any(c.isspace() or c in "<>" for c in email):
        raise AccountError(
            _("invalid e-mail address %(email)r: use one such as ada@example.com", email=email),
            "email",
        )


def utc(value: datetime | None) -> datetime | None:
    """A timestamp read back from a console table, as UTC.

    SQLite hands DateTime(timezone=True) back without its zone; it was stored as UTC.
    """
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class LanguagePreferences:
    """The console language each user chose (console_user_languages, created if missing)."""

    def __init__(self, db: sa.Engine) -> None:
        self.db = db
        METADATA.create_all(db, tables=[user_languages_table])

    def get(self, user_id: int) -> str | None:
        """The user's language, None when they follow their browser's."""
        t = user_languages_table
        with self.db.connect() as conn:
            value = conn.execute(sa.select(t.c.language).where(t.c.user_id == user_id)).scalar()
        return str(value) if value is not None else None

    def set(self, user_id: int, language: str | None) -> None:
        """Choose `language` for the user (checked by the caller); None: the browser's."""
        t = user_languages_table
        with self.db.begin() as conn:
            conn.execute(t.delete().where(t.c.user_id == user_id))
            if language is not None:
                conn.execute(t.insert().values(user_id=user_id, language=language))
