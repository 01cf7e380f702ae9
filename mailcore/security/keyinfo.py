"""Reading what an admin imports: PEM certificates (with or without their private key) and
OpenPGP keys (public or secret, armored), into the key store's `NewKey` rows; and the store's
keys back into the `Keyring` the verifier uses."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailcore.errors import ConfigError
from mailcore.security.certinfo import describe
from mailcore.security.gnupg import GnuPG
from mailcore.security.keyring import Keyring
from mailcore.store.keys import KeyScheme, KeyStore, NewKey

MAX_KEY_FILE = 1024 * 1024


def read_keys(data: bytes, *, trusted: bool = True) -> list[NewKey]:
    """The certificate or OpenPGP key(s) in `data`; a ConfigError says what is wrong."""
    if len(data) > MAX_KEY_FILE:
        raise ConfigError(f"a key file of {len(data)} bytes is over {MAX_KEY_FILE}")
    if b"-----BEGIN CERTIFICATE-----" in data:
        return [_certificate(data, trusted)]
    if b"-----BEGIN PGP " in data:
        return _openpgp(data, trusted)
    raise ConfigError("not a PEM certificate or an armored OpenPGP key (export with --armor)")


def _certificate(data: bytes, trusted: bool) -> NewKey:
    try:
        certs = x509.load_pem_x509_certificates(data)
        key = None
        if b"PRIVATE KEY-----" in data:
            key = serialization.load_pem_private_key(_pem_block(data, b"PRIVATE KEY"), None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read the certificate or its key: {exc}") from exc
    info = describe(certs[0])
    secret = None
    if key is not None:
        if key.public_key().public_numbers() != certs[0].public_key().public_numbers():  # type: ignore[union-attr]
            raise ConfigError("the private key does not belong to the certificate")
        secret = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())  # fmt: skip
    public = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs).decode()
    return NewKey(info.fingerprint.upper(), KeyScheme.SMIME, info.subject, info.emails,
                  info.not_after, trusted, public, secret)  # fmt: skip


def _pem_block(data: bytes, kind: bytes) -> bytes:
    """The first PEM block whose label ends with `kind` (PRIVATE KEY, EC PRIVATE KEY...)."""
    start = data.find(b"-----BEGIN ")
    while start >= 0:
        label_end = data.find(b"-----", start + 11)
        label = data[start + 11 : label_end]
        end = data.find(b"-----END " + label + b"-----", label_end)
        if label.endswith(kind) and end > 0:
            return data[start : end + len(label) + 14]
        start = data.find(b"-----BEGIN ", label_end)
    raise ValueError("no private key block")


def _openpgp(data: bytes, trusted: bool) -> list[NewKey]:
    gpg = GnuPG([data])
    try:
        listing = gpg.gpg(["--with-colons", "--list-keys"])
        found = []
        for fpr, label, expires in _primary_keys(listing.stdout.decode("utf-8", "replace")):
            public = gpg.gpg(["--armor", "--export", fpr]).stdout.decode()
            secret = None
            if b"PRIVATE KEY BLOCK" in data:
                secret = gpg.gpg(["--armor", "--export-secret-keys", fpr]).stdout or None
            emails = gpg.emails.get(fpr, ())
            found.append(NewKey(fpr, KeyScheme.OPENPGP, label, emails, expires, trusted, public,
                                secret))  # fmt: skip
    finally:
        gpg.close()
    if not found:
        raise ConfigError("gpg found no OpenPGP key in the file")
    return found


def _primary_keys(colons: str) -> list[tuple[str, str, datetime | None]]:
    """(fingerprint, first user id, expiry) of each primary key of a --with-colons listing."""
    keys: list[list[object]] = []
    expect_fpr = False
    for line in colons.splitlines():
        f = line.split(":")
        if f[0] == "pub" and len(f) > 6:
            expires = datetime.fromtimestamp(int(f[6]), UTC) if f[6].isdigit() else None
            keys.append(["", "", expires])
            expect_fpr = True
        elif f[0] == "fpr" and expect_fpr and len(f) > 9:
            keys[-1][0], expect_fpr = f[9].upper(), False
        elif f[0] == "uid" and keys and not keys[-1][1] and len(f) > 9:
            keys[-1][1] = f[9].replace("\\x3a", ":")[:500]
    return [(str(k[0]), str(k[1]), k[2] if isinstance(k[2], datetime) else None) for k in keys]


def keyring(store: KeyStore) -> Keyring:
    """The verifier's keys from the store: trusted certificates and OpenPGP keys, and our
    private keys."""
    trusted, smime_keys, public, secret = b"", [], [], []
    for key in store.list():
        if key.scheme is KeyScheme.SMIME:
            if key.trusted:
                trusted += key.public.encode()
            if key.has_secret:
                cert = x509.load_pem_x509_certificates(key.public.encode())[0]
                private = serialization.load_pem_private_key(
                    store.secret(key.fingerprint) or b"", None
                )
                if isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                    smime_keys.append((cert, private))
        else:
            if key.trusted:
                public.append(key.public.encode())
            if key.has_secret:
                secret.append(store.secret(key.fingerprint) or b"")
    return Keyring(trusted, tuple(smime_keys), tuple(public), tuple(secret))


__all__ = ["keyring", "read_keys"]
