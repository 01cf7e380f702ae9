"""Outbound: sign then encrypt a composed mail, S/MIME or OpenPGP/MIME (RFC 3156).

S/MIME: signed by `mailcore.outbound.smime.sign` (when we have a signing certificate), then
the signed entity enveloped for the recipient's certificate (AES-256) by `cryptography` for
an RSA key, by `openssl cms -encrypt` for an EC key (ECDH: not in `cryptography`).
OpenPGP: signed and encrypted in one pass by `gpg` (RFC 3156 section 6.2) in a temporary home
holding only the recipient's public key and our secret key. The outer header fields (From,
To, Subject, Message-ID, Reply-To...) stay readable; they are what routing and threading need.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from mailcore.errors import ConfigError
from mailcore.outbound.compose import MESSAGE_POLICY
from mailcore.outbound.smime import Signer, sign
from mailcore.security.gnupg import GnuPG
from mailcore.security.mimeparts import canonical, split_entity
from mailcore.security.tools import run
from mailcore.store.keys import KeyScheme


@dataclass(frozen=True)
class Recipient:
    """A partner's encryption key: an S/MIME certificate (PEM) or an OpenPGP public key."""

    scheme: KeyScheme
    public: bytes
    fingerprint: str


@dataclass(frozen=True)
class OwnKeys:
    """Our signing keys: an S/MIME signer and/or an OpenPGP secret key (armored)."""

    smime: Signer | None = None
    pgp_secret: bytes | None = field(default=None, repr=False)
    pgp_fingerprint: str | None = None


def seal(message: EmailMessage, recipient: Recipient | None, own: OwnKeys) -> bytes:
    """The mail's bytes, signed with our key of the recipient's scheme (when we have one)
    and encrypted to the recipient; without a recipient, signed only: S/MIME if we have an
    S/MIME signer, else OpenPGP/MIME if we have an OpenPGP key."""
    if recipient is None:
        if own.smime is not None:
            return sign(message, own.smime)
        if own.pgp_secret and own.pgp_fingerprint:
            return pgp_sign(message.as_bytes(policy=MESSAGE_POLICY), own)
        return message.as_bytes(policy=MESSAGE_POLICY)
    if recipient.scheme is KeyScheme.SMIME:
        return smime_encrypt(_smime_signed(message, own), recipient.public)
    return pgp_encrypt(message.as_bytes(policy=MESSAGE_POLICY), recipient, own)


def _smime_signed(message: EmailMessage, own: OwnKeys) -> bytes:
    if own.smime is None:
        return message.as_bytes(policy=MESSAGE_POLICY)
    return sign(message, own.smime)


def smime_encrypt(raw: bytes, certificate_pem: bytes) -> bytes:
    """`raw` with its MIME entity enveloped (application/pkcs7-mime) for the certificate."""
    try:
        cert = x509.load_pem_x509_certificates(certificate_pem)[0]
    except ValueError as exc:
        raise ConfigError(f"the recipient's certificate cannot be read: {exc}") from exc
    outer, entity = split_entity(raw)
    if isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        return outer + b"\r\n" + canonical(_openssl_encrypt(entity, cert))
    try:
        enveloped = (
            pkcs7.PKCS7EnvelopeBuilder()
            .set_data(entity)
            .add_recipient(cert)
            .encrypt(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Binary])
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot encrypt to {cert.subject.rfc4514_string()}: {exc}") from exc
    return outer + b"\r\n" + canonical(enveloped)


def _openssl_encrypt(entity: bytes, cert: x509.Certificate) -> bytes:
    with tempfile.TemporaryDirectory(prefix="mc-seal-") as tmp:
        path = Path(tmp, "recipient.pem")
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        ran = run(["openssl", "cms", "-encrypt", "-aes256", "-binary", str(path)], entity)
    if not ran.ok:
        raise ConfigError(f"cannot encrypt to {cert.subject.rfc4514_string()}: {ran.error_line()}")
    return ran.stdout


def pgp_sign(raw: bytes, own: OwnKeys) -> bytes:
    """`raw` as RFC 3156 multipart/signed, the signature by our OpenPGP key (SHA-256)."""
    assert own.pgp_secret and own.pgp_fingerprint
    outer, entity = split_entity(raw)
    args = ["--digest-algo", "SHA256", "--local-user", own.pgp_fingerprint, "--detach-sign"]
    signature = _gpg_once([], own, args, entity, f"sign with {own.pgp_fingerprint}")
    boundary = "mc-" + secrets.token_hex(12)
    return (
        outer
        + (
            f"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;"
            f' protocol="application/pgp-signature"; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n"
        ).encode()
        + entity
        + (
            f"\r\n--{boundary}\r\nContent-Type: application/pgp-signature; name=signature.asc\r\n"
            f"Content-Disposition: attachment; filename=signature.asc\r\n\r\n"
        ).encode()
        + signature
        + f"\r\n--{boundary}--\r\n".encode()
    )


def pgp_encrypt(raw: bytes, recipient: Recipient, own: OwnKeys) -> bytes:
    """`raw` as RFC 3156 multipart/encrypted for the recipient, signed when we have a key."""
    outer, entity = split_entity(raw)
    args = ["--recipient", recipient.fingerprint, "--encrypt"]
    if own.pgp_secret and own.pgp_fingerprint:
        args = ["--local-user", own.pgp_fingerprint, "--sign", *args]
    data = _gpg_once([recipient.public], own, args, entity, f"encrypt to {recipient.fingerprint}")
    boundary = "mc-" + secrets.token_hex(12)
    return (
        outer
        + (
            f"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted;"
            f' protocol="application/pgp-encrypted"; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream; name=encrypted.asc\r\n"
            f"Content-Disposition: inline; filename=encrypted.asc\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )


def _gpg_once(public: list[bytes], own: OwnKeys, args: list[str], data: bytes, what: str) -> bytes:
    """gpg's armored output (CRLF) for `args` on `data`, in a home made for this one call."""
    gpg = GnuPG(public, [own.pgp_secret] if own.pgp_secret else [])
    try:
        ran = gpg.gpg(["--armor", *args], data)
    finally:
        gpg.close()
    if not ran.ok:
        raise ConfigError(f"gpg cannot {what}: {ran.error_line()}")
    return canonical(ran.stdout)
