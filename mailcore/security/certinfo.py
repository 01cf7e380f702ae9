"""Who an X.509 certificate names: subject, e-mail addresses, fingerprint, expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertInfo:
    """What the console and the verifier show of a certificate."""

    subject: str
    emails: tuple[str, ...]
    fingerprint: str  # SHA-256, hex
    not_after: datetime


def describe(cert: x509.Certificate) -> CertInfo:
    """The certificate's subject (RFC 4514), its addresses (SAN first, then the subject's
    emailAddress), lower-cased, its SHA-256 fingerprint and its expiry."""
    emails: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        emails += [str(v) for v in san.value.get_values_for_type(x509.RFC822Name)]
    except x509.ExtensionNotFound:
        pass
    emails += [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    unique = tuple(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    return CertInfo(
        subject=cert.subject.rfc4514_string({NameOID.EMAIL_ADDRESS: "E"})[:500],
        emails=unique[:20],
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        not_after=cert.not_valid_after_utc,
    )
