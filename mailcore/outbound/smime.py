"""Detached S/MIME signatures (multipart/signed) with the `cryptography` package.

The signature covers the exact bytes sent: the message's MIME entity is serialised once
(CRLF, 7-bit: `mailcore.outbound.compose` encodes text as quoted-printable), signed, and the
result is returned as bytes. Re-serialising a signed message would break the signature,
so `mailcore.outbound.smtp.send` accepts these bytes as they are. Recipients (and
``openssl smime -verify``) check it against the signer's certificate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from mailcore.errors import ConfigError

log = logging.getLogger(__name__)

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Signer:
    """A certificate (first of `chain` sent along) and its private key."""

    certificate: x509.Certificate
    key: SigningKey
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes, password: bytes | None = None) -> Signer:
        """From PEM data; the certificate data may hold intermediates after the leaf."""
        try:
            certs = x509.load_pem_x509_certificates(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"cannot load the S/MIME certificate or key: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigError("the S/MIME key must be an RSA or EC private key")
        return cls(certs[0], key, tuple(certs[1:]))

    @classmethod
    def from_files(
        cls, cert_path: str | Path, key_path: str | Path, password: bytes | None = None
    ) -> Signer:
        """From PEM files (certificate chain file, private key file)."""
        return cls.from_pem(Path(cert_path).read_bytes(), Path(key_path).read_bytes(), password)


def _split(raw: bytes) -> tuple[list[bytes], list[bytes], bytes]:
    """(outer header fields, Content-* fields, body) of a CRLF message."""
    head, _, body = raw.partition(b"\r\n\r\n")
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line  # folded continuation
        else:
            fields.append(line)
    outer, content = [], []
    for f in fields:
        name = f.split(b":", 1)[0].strip().lower()
        if name.startswith(b"content-"):
            content.append(f)
        elif name != b"mime-version":
            outer.append(f)
    return outer, content, body


def sign(message: EmailMessage, signer: Signer) -> bytes:
    """The message as multipart/signed bytes, ready to send as they are."""
    from mailcore.outbound.compose import MESSAGE_POLICY

    raw = message.as_bytes(policy=MESSAGE_POLICY)
    outer, content, body = _split(raw)
    entity = b"\r\n".join(content) + b"\r\n\r\n" + body
    builder = pkcs7.PKCS7SignatureBuilder().set_data(entity)
    builder = builder.add_signer(signer.certificate, signer.key, hashes.SHA256())
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    signed = builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    log.debug("signed %s", message.get("Message-ID"))
    return b"\r\n".join(outer) + b"\r\n" + signed
