"""Certificates and keys that admins manage (`mailcore keys`, the console's Keys page), in the
history database: the `security_keys` table and `KeyStore`.

A row is one S/MIME certificate or one OpenPGP key, named by its fingerprint, with what the
lists show (subject or user id, addresses, expiry) and its public part. A private key (ours:
decrypting what partners send, signing what we send) is stored encrypted with the console's
secret key (Fernet, key derived by SHA-256) and is never listed, shown or logged; without a
secret key no private key is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from mailcore.errors import ConfigError
from mailcore.store.db import METADATA

security_keys = sa.Table(
    "security_keys",
    METADATA,
    sa.Column("fingerprint", sa.String(80), primary_key=True),
    sa.Column("scheme", sa.String(16), nullable=False),
    sa.Column("label", sa.Text, nullable=False),  # certificate subject, OpenPGP user id
    sa.Column("emails", sa.Text, nullable=False),  # JSON list, lower case
    sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
    sa.Column("trusted", sa.Boolean, nullable=False),  # a trust anchor / a trusted partner key
    sa.Column("public", sa.Text, nullable=False),  # PEM certificate(s) / armored public key
    sa.Column("secret", sa.LargeBinary, nullable=True),  # Fernet token of the private key
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class KeyScheme(StrEnum):
    SMIME = "smime"
    OPENPGP = "openpgp"


@dataclass(frozen=True)
class KeyFacts:
    """What the lists show of a certificate or OpenPGP key, and its public part."""

    fingerprint: str
    scheme: KeyScheme
    label: str
    emails: tuple[str, ...]
    expires: datetime | None
    trusted: bool
    public: str = field(repr=False)

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires is not None and self.expires <= (now or datetime.now(UTC))


@dataclass(frozen=True)
class StoredKey(KeyFacts):
    """One row as lists show it: never the private key, only whether there is one."""

    has_secret: bool = False
    created_by: str = ""


@dataclass(frozen=True)
class NewKey(KeyFacts):
    """What an import adds (the secret in clear, encrypted by the store)."""

    secret: bytes | None = field(default=None, repr=False)


class KeyStore:
    """The `security_keys` table; `secret` is the console's secret key (or None)."""

    def __init__(self, db: sa.Engine, secret: str | None) -> None:
        self.db = db
        self._fernet = _fernet(secret) if secret else None
        security_keys.create(db, checkfirst=True)

    def add(self, key: NewKey, actor: str) -> StoredKey:
        """Store `key`, replacing a key with the same fingerprint."""
        token = None
        if key.secret is not None:
            if self._fernet is None:
                raise ConfigError(
                    "a private key is stored encrypted with the console's secret key: set"
                    " MAILCORE_SECRET_KEY (or secret_key in [console]) first"
                )
            token = self._fernet.encrypt(key.secret)
        row = {
            "fingerprint": key.fingerprint.upper(),
            "scheme": str(key.scheme),
            "label": key.label[:500],
            "emails": json.dumps(list(key.emails)),
            "expires": key.expires,
            "trusted": key.trusted,
            "public": key.public,
            "secret": token,
            "created_by": actor[:128],
            "created_at": datetime.now(UTC),
        }
        with self.db.begin() as conn:
            conn.execute(
                security_keys.delete().where(security_keys.c.fingerprint == row["fingerprint"])
            )
            conn.execute(security_keys.insert().values(**row))
        return self.get(key.fingerprint.upper())

    def list(self) -> list[StoredKey]:
        """Every key, by scheme then label."""
        query = sa.select(security_keys).order_by(security_keys.c.scheme, security_keys.c.label)
        with self.db.connect() as conn:
            return [_stored(r) for r in conn.execute(query).mappings()]

    def version(self) -> tuple[int, datetime | None]:
        """Changes whenever a key is added, replaced or removed: (count, latest import)."""
        query = sa.select(sa.func.count(), sa.func.max(security_keys.c.created_at))
        with self.db.connect() as conn:
            count, latest = conn.execute(query).one()
        return int(count), latest

    def get(self, fingerprint: str) -> StoredKey:
        """The key of that fingerprint (or unambiguous prefix of at least 8 digits)."""
        return _stored(self._row(fingerprint))

    def remove(self, fingerprint: str) -> StoredKey:
        """Delete the key of that fingerprint (or unambiguous prefix); returns what it was."""
        found = self.get(fingerprint)
        with self.db.begin() as conn:
            conn.execute(
                security_keys.delete().where(security_keys.c.fingerprint == found.fingerprint)
            )
        return found

    def secret(self, fingerprint: str) -> bytes | None:
        """The private key in clear, for the verifier and the sealer only."""
        token = self._row(fingerprint)["secret"]
        if token is None:
            return None
        if self._fernet is None:
            raise ConfigError("private keys are stored encrypted: set MAILCORE_SECRET_KEY")
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ConfigError(
                "a stored private key cannot be decrypted: MAILCORE_SECRET_KEY is not the one it"
                " was imported with; import it again"
            ) from None

    def _row(self, fingerprint: str) -> sa.RowMapping:
        prefix = "".join(fingerprint.split()).upper()
        if len(prefix) < 8:
            raise ConfigError(f"give at least 8 digits of the fingerprint, not {prefix!r}")
        query = sa.select(security_keys).where(
            security_keys.c.fingerprint.startswith(prefix, autoescape=True)
        )
        with self.db.connect() as conn:
            rows = list(conn.execute(query.limit(2)).mappings())
        if len(rows) != 1:
            what = "no key has" if not rows else "more than one key has"
            raise ConfigError(f"{what} the fingerprint {prefix}: see `mailcore keys list`")
        return rows[0]


def _stored(row: sa.RowMapping) -> StoredKey:
    expires = row["expires"]
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)  # SQLite gives naive datetimes back
    return StoredKey(
        fingerprint=row["fingerprint"],
        scheme=KeyScheme(row["scheme"]),
        label=row["label"],
        emails=tuple(json.loads(row["emails"])),
        expires=expires,
        trusted=row["trusted"],
        public=row["public"],
        has_secret=row["secret"] is not None,
        created_by=row["created_by"],
    )


def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(b"mailcore security_keys\0" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
