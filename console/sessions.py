"""Server-side console sessions: the sessions table and `Sessions`, which opens, checks and
ends them.

The browser holds an opaque random token, the database only its SHA-256. Logging out ends
that session; a password change or disabling the account ends all the user's sessions (and
the remember-me cookies, which carry the same token). `Accounts` (console.accounts) offers
these as `start_session`, `session_user`, `end_session` and `end_sessions`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from console.users import User, users_table, utc
from mailcore import DATABASE_METADATA as METADATA

log = logging.getLogger("console.accounts")  # the name these records had before the split

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

_MAX_TOKEN = 200  # ours are 43 characters; anything much longer is not one of ours


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class Sessions:
    """The sessions of the shared database (times are passed in: the caller owns the clock)."""

    def __init__(self, db: sa.Engine) -> None:
        self.db = db

    def start(self, user: User, idle: timedelta, now: datetime) -> str:
        """Open a session for `user`, ended after `idle` without use; its secret token.

        The token is what the browser holds (in the session and remember-me cookies);
        only its digest is stored.
        """
        token = secrets.token_urlsafe(32)
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

    def user(self, token: str, now: datetime) -> User | None:
        """The active user of a live session, or None (ended, expired, unknown, disabled).

        Each use keeps the session alive for its idle time again (written at most once per
        tenth of it, not on every request).
        """
        if not token or len(token) > _MAX_TOKEN:
            return None
        s, u = sessions_table, users_table
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(u, s.c.expires_at, s.c.idle_seconds)
                .join(s, s.c.user_id == u.c.id)
                .where(s.c.token_hash == _digest(token))
            ).first()
        if row is None or not row.active:
            return None
        expires = utc(row.expires_at)
        assert expires is not None
        if expires <= now:
            return None
        idle = timedelta(seconds=row.idle_seconds)
        if expires - now < idle * 0.9:
            with self.db.begin() as conn:
                conn.execute(
                    s.update().where(s.c.token_hash == _digest(token)).values(expires_at=now + idle)
                )
        return User.of(row)

    def end(self, token: str) -> None:
        """End one session (logout); its cookies are refused from now on."""
        with self.db.begin() as conn:
            conn.execute(
                sessions_table.delete().where(sessions_table.c.token_hash == _digest(token))
            )

    def end_all(self, user: User, keep: str | None = None) -> int:
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
