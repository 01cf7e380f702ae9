"""Test keys made by the real tools: an openssl CA with partner certificates (EC), our RSA
certificate for S/MIME encryption, and gpg keys (ed25519/cv25519, no passphrase).

`make_material(directory)` makes everything once (session fixture); `Tools` drives openssl and
gpg the way a partner's software would, to produce and to check mail.
"""

from __future__ import annotations

import datetime
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PARTNER = "partner@acme.example"
OTHER = "other@acme.example"
OURS = "ops@mailcore.example"


def sh(args: list[str], data: bytes = b"", env: dict[str, str] | None = None) -> bytes:
    done = subprocess.run(args, input=data, capture_output=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, (args, done.stderr.decode())
    return done.stdout


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path

    @property
    def pem(self) -> bytes:
        return self.cert.read_bytes()


def _ec_cert(d: Path, name: str, email: str, ca: Cert, days: str = "2") -> Cert:
    key, csr, crt, ext = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem", d / f"{name}.ext"
    subject = f"/CN={name}/emailAddress={email}"
    sh(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", subject])  # fmt: skip
    ext.write_text(f"subjectAltName=email:{email}\nextendedKeyUsage=emailProtection\n")
    sh(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-days", days, "-extfile", str(ext), "-out", str(crt)])  # fmt: skip
    return Cert(crt, key)


def _expired_cert(d: Path, ca: Cert) -> Cert:
    """A certificate from the CA whose validity ended yesterday (openssl 3.0 cannot backdate)."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=10))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(PARTNER)]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .sign(ca_key, hashes.SHA256())
    )
    (d / "expired.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "expired.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )  # fmt: skip
    )
    return Cert(d / "expired.pem", d / "expired.key")


def _self_signed(d: Path, name: str, email: str, kind: list[str]) -> Cert:
    key, crt = d / f"{name}.key", d / f"{name}.pem"
    sh(["openssl", "req", "-x509", "-newkey", *kind, "-nodes", "-keyout", str(key),
        "-out", str(crt), "-days", "2", "-subj", f"/CN={name}/emailAddress={email}",
        "-addext", f"subjectAltName=email:{email}",
        "-addext", "extendedKeyUsage=emailProtection"])  # fmt: skip
    return Cert(crt, key)


@dataclass(frozen=True)
class Gpg:
    """A gpg home (a partner's own, or ours for tests) and its key's fingerprint."""

    home: Path
    fingerprint: str
    email: str

    def run(self, args: list[str], data: bytes = b"", *, when: str | None = None) -> bytes:
        env = {"PATH": os.environ["PATH"], "GNUPGHOME": str(self.home)}
        fake = ["--faked-system-time", when] if when else []
        return sh(
            ["gpg", "--batch", "--no-tty", "--trust-model", "always", *fake, *args], data, env
        )

    def public(self) -> bytes:
        return self.run(["--armor", "--export", self.fingerprint])

    def secret(self) -> bytes:
        return self.run(["--armor", "--export-secret-keys", self.fingerprint])

    def import_key(self, key: bytes) -> None:
        self.run(["--import"], key)


def make_gpg(d: Path, name: str, email: str, when: str | None = None) -> Gpg:
    home = d / f"gpg-{name}"
    home.mkdir(mode=0o700)
    params = (
        "%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
        "Subkey-Type: ecdh\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n"
        f"Name-Real: {name}\nName-Email: {email}\nExpire-Date: 1d\n%commit\n"
    )
    g = Gpg(home, "", email)
    g.run(["--gen-key"], params.encode(), when=when)
    listing = g.run(["--with-colons", "--list-keys"]).decode()
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    return Gpg(home, fpr, email)


@dataclass(frozen=True)
class Material:
    dir: Path
    ca: Cert
    partner: Cert  # signed by the CA, for PARTNER
    other: Cert  # signed by the CA, for OTHER
    expired: Cert  # signed by the CA, for PARTNER, expired
    stranger: Cert  # self-signed, for PARTNER, not trusted
    ours: Cert  # self-signed RSA, OURS: what partners encrypt to
    ours_other: Cert  # another RSA certificate of ours: the wrong key
    gpg_partner: Gpg
    gpg_ours: Gpg
    gpg_stranger: Gpg  # a key not in our keyring
    gpg_expired: Gpg  # expired yesterday


def close(m: Material) -> None:
    """Stop the gpg-agents the test homes started."""
    for g in (m.gpg_partner, m.gpg_ours, m.gpg_stranger, m.gpg_expired):
        subprocess.run(["gpgconf", "--homedir", str(g.home), "--kill", "all"], check=False,
                       capture_output=True, timeout=10)  # fmt: skip


def make_material(d: Path) -> Material:
    ca = _self_signed(d, "ca", "ca@acme.example", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
    return Material(
        dir=d,
        ca=ca,
        partner=_ec_cert(d, "partner", PARTNER, ca),
        other=_ec_cert(d, "other", OTHER, ca),
        expired=_expired_cert(d, ca),
        stranger=_self_signed(
            d, "stranger", PARTNER, ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        ),
        ours=_self_signed(d, "ours", OURS, ["rsa:2048"]),
        ours_other=_self_signed(d, "ours2", OURS, ["rsa:2048"]),
        gpg_partner=make_gpg(d, "partner", PARTNER),
        gpg_ours=make_gpg(d, "ours", OURS),
        gpg_stranger=make_gpg(d, "stranger", PARTNER),
        gpg_expired=make_gpg(d, "expired", PARTNER, when="20200101T000000"),
    )
