"""OAuth2 tokens of the mail accounts (`mailcore oauth2 login`), in the history database: the
`oauth_tokens` table and `OAuthTokenStore`.

A row is one account: its access and refresh tokens, each encrypted with the console's secret
key (Fernet, key derived by SHA-256, as the key store does) and never listed, shown or logged;
when the access token expires; the last refresh failure (a message for the operator, without
secrets); and a lease, so that of the threads, processes and machines sharing the database only
one refreshes at a time (a rotated refresh token works once: two refreshing together would
lose the account).
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from mailcore.errors import ConfigError
from mailcore.store.db import METADATA

oauth_tokens = sa.Table(
    "oauth_tokens",
    METADATA,
    sa.Column("account", sa.String(128), primary_key=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("username", sa.String(320), nullable=False),  # the mailbox login, for the lists
    sa.Column("access", sa.LargeBinary, nullable=False),  # Fernet token of the access token
    sa.Column("refresh", sa.LargeBinary, nullable=True),  # Fernet token of the refresh token
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("failure", sa.Text, nullable=True),  # why the last refresh failed, for people
    sa.Column("lease_until", sa.Float, nullable=True),  # epoch seconds: someone is refreshing
    sa.Column("version", sa.Integer, nullable=False),  # +1 at each save
)

MISSING_SECRET = (
    "OAuth2 tokens are stored encrypted with the console's secret key: set MAILCORE_SECRET_KEY"
    " (or secret_key in the [console] table of the config file)"
)


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint answered (the secrets are never shown by repr)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scope: str = ""

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """Whether the access token expires in less than `seconds` (or has: never, if no
        expiry is known)."""
        if self.expires_at is None:
            return False
        return self.expires_at.timestamp() - (time.time() if now is None else now) < seconds


class TokenHealth(StrEnum):
    """An account's token as the lists show it."""

    VALID = "valid"  # the access token has not expired
    EXPIRED = "expired"  # refreshed at the next login (if a refresh token is stored)
    FAILING = "failing"  # the last refresh failed: `failure` says what to do


@dataclass(frozen=True)
class TokenState:
    """One account as the lists show it: never a token, only whether there is one."""

    account: str
    provider: str
    username: str
    expires_at: datetime | None
    refreshed_at: datetime
    failure: str | None
    has_refresh: bool
    version: int

    def valid(self, now: datetime | None = None) -> bool:
        return self.expires_at is None or self.expires_at > (now or datetime.now(UTC))

    def health(self, now: datetime | None = None) -> TokenHealth:
        if self.failure:
            return TokenHealth.FAILING
        return TokenHealth.VALID if self.valid(now) else TokenHealth.EXPIRED

    def describe(self, now: datetime | None = None) -> str:
        """One line for people: valid until when, or what is wrong and what to do."""
        until = f"{self.expires_at:%Y-%m-%d %H:%M:%S} UTC" if self.expires_at else "no expiry"
        health = self.health(now)
        if health is TokenHealth.FAILING:
            return f"refresh failing: {self.failure}"
        if health is TokenHealth.VALID:
            return f"valid until {until}"
        if self.has_refresh:
            return f"expired at {until}; refreshed at the next login"
        return (
            f"expired at {until} and no refresh token is stored: run"
            f" `mailcore oauth2 login --account {self.account}` again"
        )


class OAuthTokenStore:
    """The `oauth_tokens` table; `secret` is the console's secret key (required)."""

    def __init__(self, db: sa.Engine, secret: str | None) -> None:
        if not secret:
            raise ConfigError(MISSING_SECRET)
        self.db = db
        self._fernet = _fernet(secret)
        oauth_tokens.create(db, checkfirst=True)

    def save(self, account: str, provider: str, username: str, tokens: TokenSet) -> None:
        """Store the tokens of `account` in one statement (a rotated refresh token and its
        access token land together or not at all); clears the failure and the lease. A
        refresh that returned no new refresh token keeps the old one."""
        values: dict[str, object] = {
            "provider": provider,
            "username": username[:320],
            "access": self._fernet.encrypt(tokens.access_token.encode()),
            "expires_at": tokens.expires_at,
            "scope": tokens.scope[:2000],
            "refreshed_at": datetime.now(UTC),
            "failure": None,
            "lease_until": None,
            "version": oauth_tokens.c.version + 1,
        }
        if tokens.refresh_token:
            values["refresh"] = self._fernet.encrypt(tokens.refresh_token.encode())
        with self.db.begin() as conn:
            done = conn.execute(
                oauth_tokens.update().where(oauth_tokens.c.account == account).values(**values)
            )
            if done.rowcount == 0:
                values.update(account=account, version=1)
                values.setdefault("refresh", None)
                conn.execute(oauth_tokens.insert().values(**values))

    def load(self, account: str) -> TokenSet | None:
        """The tokens of `account` in clear (for the token source only), None when none."""
        row = self._row(account)
        if row is None:
            return None
        return TokenSet(
            access_token=self._decrypt(row["access"]),
            refresh_token=self._decrypt(row["refresh"]) if row["refresh"] is not None else None,
            expires_at=_aware(row["expires_at"]),
            scope=row["scope"],
        )

    def state(self, account: str) -> TokenState | None:
        row = self._row(account)
        return _state(row) if row is not None else None

    def states(self) -> list[TokenState]:
        """Every account, by name."""
        query = sa.select(oauth_tokens).order_by(oauth_tokens.c.account)
        with self.db.connect() as conn:
            return [_state(r) for r in conn.execute(query).mappings()]

    def take_lease(self, account: str, seconds: float) -> bool:
        """Whether this caller may refresh `account` now: the lease is set (for `seconds`)
        by one atomic UPDATE, so of two callers at once one gets it."""
        now = time.time()
        free = sa.or_(oauth_tokens.c.lease_until.is_(None), oauth_tokens.c.lease_until < now)
        with self.db.begin() as conn:
            done = conn.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.account == account, free)
                .values(lease_until=now + seconds)
            )
        return bool(done.rowcount)

    def leased(self, account: str) -> bool:
        row = self._row(account)
        return row is not None and (row["lease_until"] or 0) > time.time()

    def fail(self, account: str, message: str) -> None:
        """Record why a refresh failed (shown to admins) and release the lease."""
        with self.db.begin() as conn:
            conn.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.account == account)
                .values(failure=message[:1000], lease_until=None)
            )

    def release(self, account: str) -> None:
        with self.db.begin() as conn:
            conn.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.account == account)
                .values(lease_until=None)
            )

    def remove(self, account: str) -> bool:
        """Forget the tokens of `account`; whether there were any."""
        with self.db.begin() as conn:
            done = conn.execute(oauth_tokens.delete().where(oauth_tokens.c.account == account))
        return bool(done.rowcount)

    def _row(self, account: str) -> sa.RowMapping | None:
        query = sa.select(oauth_tokens).where(oauth_tokens.c.account == account)
        with self.db.connect() as conn:
            return conn.execute(query).mappings().first()

    def _decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise ConfigError(
                "the stored OAuth2 tokens cannot be decrypted: MAILCORE_SECRET_KEY is not the"
                " one they were stored with; run `mailcore oauth2 login` again"
            ) from None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite gives naive datetimes back
    return value


def _state(row: sa.RowMapping) -> TokenState:
    return TokenState(
        account=row["account"],
        provider=row["provider"],
        username=row["username"],
        expires_at=_aware(row["expires_at"]),
        refreshed_at=_aware(row["refreshed_at"]) or datetime.now(UTC),
        failure=row["failure"],
        has_refresh=row["refresh"] is not None,
        version=row["version"],
    )


def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(b"mailcore oauth_tokens\0" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
