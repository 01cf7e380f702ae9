"""API tokens: the bearer secrets machines use on /api/v1, one role each (console.users.ROLES).

A token is 32 random bytes (256 bits) shown once, as ``mc_<43 url-safe characters>``; the
table keeps only its SHA-256 (a secret of that entropy needs no slow hash: nobody can guess
it, and a lookup by digest is one indexed read). Admins create and revoke them on the
console's admin page (/admin/tokens/) and with ``mailcore token create|list|revoke``; each
creation and revocation is an admin event in the history. A revoked token stays listed
(who revoked it, when) and is refused with 401.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
import sqlalchemy as sa

from console.users import ROLES, utc
from mailcore import DATABASE_METADATA as METADATA
from mailcore.errors import MailcoreError
from mailcore.processing.vocabulary import EventKind

if TYPE_CHECKING:
    from mailcore import History

PREFIX = "mc_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_TOKEN = 128  # a longer Authorization value is no token of ours: refused unhashed

api_tokens_table = sa.Table(
    "console_api_tokens",
    METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),  # SHA-256, hex
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_by", sa.String(64), nullable=True),
)


class TokenError(MailcoreError):
    """A token that cannot be created or revoked as asked (the message says why)."""


class TokenExists(TokenError):
    """A token of that name exists already (revoked ones too: names are never reused)."""


@dataclass(frozen=True)
class ApiToken:
    """One token as listed: never its secret."""

    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def actor(self) -> str:
        """How the history names what this token did."""
        return f"token:{self.name}"

    def has_role(self, *roles: str) -> bool:
        """As console.users.User.has_role: admins hold every role."""
        return self.active and (self.role == "admin" or self.role in roles)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class ApiTokens:
    """The token table over the history database (`history` records who did what)."""

    def __init__(self, engine: sa.Engine, history: History) -> None:
        self._engine = engine
        self._history = history
        METADATA.create_all(engine, tables=[api_tokens_table])

    def create(self, name: str, role: str, *, by: str) -> tuple[ApiToken, str]:
        """A new token and its secret (shown once, never stored)."""
        if not NAME.match(name or ""):
            raise TokenError(
                f"token name {name!r}: 1-64 letters, digits, '.', '_' or '-', starting with a"
                " letter or digit"
            )
        if role not in ROLES:
            raise TokenError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
        secret = PREFIX + secrets.token_urlsafe(32)
        row: dict[str, Any] = {"name": name, "digest": digest(secret), "role": role}
        row |= {"created_at": datetime.now(UTC), "created_by": by}
        try:
            with self._engine.begin() as conn:
                conn.execute(api_tokens_table.insert().values(**row))
        except sa.exc.IntegrityError:
            raise TokenExists(
                f"a token named {name!r} exists already: choose another name"
            ) from None
        self._record(by, f"API token {name} created ({role})", after={"token": name, "role": role})
        return self._token(row), secret

    def revoke(self, name: str, *, by: str) -> ApiToken:
        table = api_tokens_table
        with self._engine.begin() as conn:
            done = conn.execute(
                table.update()
                .where(table.c.name == name, table.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC), revoked_by=by)
            ).rowcount
        found = self.get(name)
        if found is None:
            raise TokenError(f"no API token named {name!r}: `mailcore token list` shows them")
        if done:
            self._record(by, f"API token {name} revoked", before={"token": name})
        return found

    def get(self, name: str) -> ApiToken | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(api_tokens_table).where(api_tokens_table.c.name == name)
            ).first()
        return self._token(row._mapping) if row else None

    def list(self) -> list[ApiToken]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(api_tokens_table).order_by(api_tokens_table.c.name))
            return [self._token(r._mapping) for r in rows]

    def verify(self, secret: str) -> ApiToken | None:
        """The active token whose secret this is; None for anything else (revoked too)."""
        if not secret.startswith(PREFIX) or len(secret) > MAX_TOKEN:
            return None
        wanted = digest(secret)
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(api_tokens_table).where(api_tokens_table.c.digest == wanted)
            ).first()
        if row is None or not hmac.compare_digest(row.digest, wanted):
            return None
        token = self._token(row._mapping)
        return token if token.active else None

    def _record(self, by: str, reason: str, **change: dict[str, str]) -> None:
        self._history.record(EventKind.ADMIN, actor=by, reason=reason, **change)

    @staticmethod
    def _token(row: object) -> ApiToken:
        get = row.get  # type: ignore[attr-defined]
        created = utc(get("created_at"))
        assert created is not None  # the column is NOT NULL
        return ApiToken(
            get("name"), get("role"), created, get("created_by"), utc(get("revoked_at")),
            get("revoked_by"),
        )  # fmt: skip


# -- mailcore token ... ---------------------------------------------------------------------


def _store(config_path: str | None, data_dir: str | None) -> tuple[ApiTokens, History, str]:
    from console.first_run import database_label, user_database
    from mailcore import History

    url = user_database(config_path, data_dir)
    history = History(url)
    return ApiTokens(history.engine, history), history, database_label(url)


_CONFIG = click.option(
    "--config", "config_path", type=click.Path(exists=True), help="TOML settings file."
)
_DATA = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    help="The demo's directory (its database); default as for `mailcore create-user`.",
)


@click.group("token")
def token() -> None:
    """Create, list and revoke the console's API tokens (bearer tokens for /api/v1)."""


@token.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="operator", show_default=True)
@_CONFIG
@_DATA
def create(name: str, role: str, config_path: str | None, data_dir: str | None) -> None:
    """Create token NAME; its secret is printed once, on standard output."""
    tokens, history, label = _store(config_path, data_dir)
    try:
        made, secret = tokens.create(name, role, by="cli")
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        history.close()
    click.echo(f"created {made.role} token {made.name!r} in {label}; keep it now:", err=True)
    click.echo(secret)


@token.command("list")
@_CONFIG
@_DATA
def list_tokens(config_path: str | None, data_dir: str | None) -> None:
    """Every token: name, role, created, revoked (never a secret)."""
    tokens, history, _label = _store(config_path, data_dir)
    try:
        for t in tokens.list():
            state = (
                f"revoked {t.revoked_at:%Y-%m-%d %H:%M} by {t.revoked_by}"
                if t.revoked_at
                else "active"
            )
            click.echo(
                f"{t.name}\t{t.role}\t{t.created_at:%Y-%m-%d %H:%M} by {t.created_by}\t{state}"
            )
    finally:
        history.close()


@token.command("revoke")
@click.argument("name")
@_CONFIG
@_DATA
def revoke(name: str, config_path: str | None, data_dir: str | None) -> None:
    """Revoke token NAME: it is refused from now on (401)."""
    tokens, history, _label = _store(config_path, data_dir)
    try:
        tokens.revoke(name, by="cli")
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        history.close()
    click.echo(f"revoked token {name!r}", err=True)
    sys.exit(0)
