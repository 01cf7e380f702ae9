"""Outbound: sign then encrypt a composed mail, S/MIME or OpenPGP/MIME (RFC 3156).

S/MIME: signed by `mailcore.outbound.smime.sign` (when we have a signing certificate), then
the signed entity enveloped for the recipient's certificate by `cryptography` (AES-256;
the recipient's certificate must hold an RSA key). OpenPGP: signed and encrypted in one pass
by `gpg` (RFC 3156 section 6.2) in a temporary home holding only the recipient's public key
and our secret key. The outer header fields (From, To, Subject, Message-ID, Reply-To...) stay
readable; they are what routing and threading need.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from email.message import EmailMessage

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from mailcore.errors import ConfigError
from mailcore.outbound.compose import MESSAGE_POLICY
from mailcore.outbound.smime import Signer, sign
from mailcore.security.gnupg import GnuPG
from mailcore.security.mimeparts import canonical, split_entity
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
    and encrypted to the recipient; without a recipient, S/MIME-signed if we can sign."""
    if recipient is None:
        if own.smime is None:
            return message.as_bytes(policy=MESSAGE_POLICY)
        return sign(message, own.smime)
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


def pgp_encrypt(raw: bytes, recipient: Recipient, own: OwnKeys) -> bytes:
    """`raw` as RFC 3156 multipart/encrypted for the recipient, signed when we have a key."""
    outer, entity = split_entity(raw)
    gpg = GnuPG([recipient.public], [own.pgp_secret] if own.pgp_secret else [])
    try:
        args = ["--armor", "--recipient", recipient.fingerprint, "--encrypt"]
        if own.pgp_secret and own.pgp_fingerprint:
            args = ["--local-user", own.pgp_fingerprint, "--sign", *args]
        ran = gpg.gpg(args, entity)
    finally:
        gpg.close()
    if not ran.ok:
        raise ConfigError(f"gpg cannot encrypt to {recipient.fingerprint}: {ran.error_line()}")
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
        + canonical(ran.stdout)
        + f"\r\n--{boundary}--\r\n".encode()
    )
