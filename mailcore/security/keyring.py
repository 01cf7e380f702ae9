"""The keys the verifier and the decrypter use, from files named in ``[security]`` and from
the key store admins manage (`mailcore keys`, the console's Keys page).

    [security]
    smime_trust_store = "/etc/mailcore/partners-ca.pem"   # trusted certificates (PEM)
    smime_cert = "/etc/mailcore/ops.pem"                  # ours: decrypting, signing
    smime_key = "/etc/mailcore/ops.key"
    pgp_keyring = "/etc/mailcore/partners.asc"            # trusted OpenPGP public keys
    pgp_secret_key = "/etc/mailcore/ops-secret.asc"       # ours
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailcore.errors import ConfigError
from mailcore.security.smime_in import SmimeKey


@dataclass(frozen=True)
class Keyring:
    """Trusted S/MIME certificates (PEM), our S/MIME keys, trusted and secret OpenPGP keys."""

    smime_trusted: bytes = b""  # concatenated PEM certificates: partners or their CAs
    smime_keys: tuple[SmimeKey, ...] = ()
    pgp_public: tuple[bytes, ...] = ()
    pgp_secret: tuple[bytes, ...] = field(default=(), repr=False)

    def __or__(self, other: Keyring) -> Keyring:
        return Keyring(
            self.smime_trusted + other.smime_trusted,
            self.smime_keys + other.smime_keys,
            self.pgp_public + other.pgp_public,
            self.pgp_secret + other.pgp_secret,
        )

    @property
    def empty(self) -> bool:
        return not (self.smime_trusted or self.smime_keys or self.pgp_public or self.pgp_secret)

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> Keyring:
        """From the ``[security]`` table's file names (each optional)."""

        def read(key: str) -> bytes:
            name = section.get(key)
            if not name:
                return b""
            try:
                return Path(str(name)).read_bytes()
            except OSError as exc:
                raise ConfigError(f"[security] {key}: cannot read {name}: {exc}") from exc

        keys: tuple[SmimeKey, ...] = ()
        if section.get("smime_cert") or section.get("smime_key"):
            keys = (smime_key(read("smime_cert"), read("smime_key")),)
        public, secret = read("pgp_keyring"), read("pgp_secret_key")
        return cls(
            read("smime_trust_store"),
            keys,
            (public,) if public else (),
            (secret,) if secret else (),
        )


def smime_key(cert_pem: bytes, key_pem: bytes) -> SmimeKey:
    """Our certificate and its private key (RSA or EC), to decrypt what partners send."""
    try:
        cert = x509.load_pem_x509_certificates(cert_pem)[0]
        key = serialization.load_pem_private_key(key_pem, None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"cannot load the S/MIME certificate or key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError("an S/MIME decryption key must be an RSA or EC key (no password)")
    return cert, key
