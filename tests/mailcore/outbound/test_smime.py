"""S/MIME signatures that `openssl smime -verify` accepts, also after an SMTP trip."""

from __future__ import annotations

import datetime
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mailcore.errors import ConfigError
from mailcore.outbound.compose import Template, compose
from mailcore.outbound.smime import Signer, sign
from mailcore.outbound.smtp import SmtpConfig, send
from tests.mailcore.smtp_server import smtp_server


def make_signer(directory: Path, key_type: str = "ec") -> tuple[Signer, Path]:
    """A self-signed e-mail certificate for ops@acme.example; returns (signer, cert.pem)."""
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if key_type == "ec"
        else (rsa.generate_private_key(public_exponent=65537, key_size=2048))
    )
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Acme Ops"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ops@acme.example"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("ops@acme.example")]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (directory / "cert.pem").write_bytes(cert_pem)
    return Signer.from_pem(cert_pem, key_pem), directory / "cert.pem"


def openssl_verify(raw: bytes, ca: Path, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    mail = tmp / "signed.eml"
    mail.write_bytes(raw)
    return subprocess.run(
        ["openssl", "smime", "-verify", "-in", str(mail), "-CAfile", str(ca), "-out", "/dev/null"],
        capture_output=True,
        timeout=30,
        check=False,
    )


TEMPLATE = Template("t", "Signed {{ x }}", "Hello **{{ x }}** – ünïcödé\n")


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_signature_verifies_with_openssl(tmp_path: Path, key_type: str) -> None:
    signer, cert = make_signer(tmp_path, key_type)
    msg = compose(
        TEMPLATE,
        {"x": "y"},
        "p@x.example",
        "abc123",
        sender="ops@acme.example",
        attachments=[("é.txt", b"attached")],
    )
    raw = sign(msg, signer)
    result = openssl_verify(raw, cert, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Verification successful" in result.stderr
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/signed"
    assert parsed["Subject"] == "[abc123] Signed y" and parsed["Reply-To"] == msg["Reply-To"]
    signed_part, signature = parsed.iter_parts()  # type: ignore[attr-defined]
    assert signed_part.get_content_type() == "multipart/mixed"
    assert signature.get_content_type() == "application/x-pkcs7-signature"


def test_tampered_message_fails_verification(tmp_path: Path) -> None:
    signer, cert = make_signer(tmp_path)
    raw = sign(
        compose(TEMPLATE, {"x": "100"}, "p@x.example", "abc123", sender="o@acme.example"), signer
    )
    assert b"100" in raw
    result = openssl_verify(raw.replace(b"100", b"900"), cert, tmp_path)
    assert result.returncode != 0


def test_signed_bytes_survive_the_smtp_trip(tmp_path: Path) -> None:
    signer, cert = make_signer(tmp_path)
    raw = sign(
        compose(TEMPLATE, {"x": "y"}, "p@x.example", "abc123", sender="o@acme.example"), signer
    )
    with smtp_server() as server:
        send(raw, SmtpConfig(server.host, server.port, "plain", timeout=10))
    received = server.recorder.messages[0].data
    result = openssl_verify(received, cert, tmp_path)
    assert result.returncode == 0, result.stderr.decode()


def test_bad_key_material_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Signer.from_pem(b"not a cert", b"not a key")
