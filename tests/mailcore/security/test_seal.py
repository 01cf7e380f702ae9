"""What mailcore signs and encrypts, openssl and gpg decrypt and verify (and so does mailcore)."""

from __future__ import annotations

import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcore.errors import ConfigError
from mailcore.outbound.compose import Template, compose
from mailcore.outbound.smime import Signer
from mailcore.security.seal import OwnKeys, Recipient, seal
from mailcore.security.unwrap import Unwrapper
from mailcore.store.keys import KeyScheme
from tests.mailcore.security.mails import crlf
from tests.mailcore.security.material import OURS, PARTNER, Material

TEMPLATE = Template("t", "Order {{ n }}", "Plate **{{ plate }}** – ünïcödé\n")


def message(sender: str = PARTNER) -> EmailMessage:
    return compose(TEMPLATE, {"n": 7, "plate": "AB-123"}, OURS, "VEH-7", sender=sender)


def openssl(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30,
                          check=False)  # fmt: skip


def smime_signer(m: Material) -> Signer:
    return Signer.from_files(m.partner.cert, m.partner.key)


def test_smime_sign_then_encrypt_opens_with_openssl(material: Material, tmp_path: Path) -> None:
    recipient = Recipient(KeyScheme.SMIME, material.ours.pem, "ours")
    raw = seal(message(), recipient, OwnKeys(smime=smime_signer(material)))
    assert b"AB-123" not in raw and b"application/pkcs7-mime" in raw
    assert b"Subject: [VEH-7] Order 7" in raw  # routing headers stay readable
    opened = openssl(["cms", "-decrypt", "-recip", str(material.ours.cert), "-inkey",
                      str(material.ours.key)], raw)  # fmt: skip
    assert opened.returncode == 0, opened.stderr.decode()
    assert b"multipart/signed" in opened.stdout
    verified = openssl(["cms", "-verify", "-inform", "SMIME", "-CAfile", str(material.ca.cert),
                        "-purpose", "smimesign"], opened.stdout)  # fmt: skip
    assert verified.returncode == 0, verified.stderr.decode()
    assert b"AB-123" in verified.stdout


def test_smime_sealed_mail_is_opened_by_mailcore(material: Material, unwrapper: Unwrapper) -> None:
    recipient = Recipient(KeyScheme.SMIME, material.ours.pem, "ours")
    raw = seal(message(), recipient, OwnKeys(smime=smime_signer(material)))
    ex = unwrapper.extract(raw)
    assert ex.security is not None and ex.security.decrypted and ex.security.verified
    assert "AB-123" in ex.text and ex.identifier == "VEH-7"


def test_pgp_sign_and_encrypt_opens_with_gpg(material: Material) -> None:
    partner = material.gpg_partner
    recipient = Recipient(
        KeyScheme.OPENPGP, material.gpg_ours.public(), material.gpg_ours.fingerprint
    )
    own = OwnKeys(pgp_secret=partner.secret(), pgp_fingerprint=partner.fingerprint)
    raw = seal(message(), recipient, own)
    assert b"AB-123" not in raw and b"multipart/encrypted" in raw
    armored = raw[raw.index(b"-----BEGIN PGP MESSAGE") :]
    armored = armored[: armored.index(b"-----END PGP MESSAGE-----") + 25]
    env = {"PATH": "/usr/bin:/bin", "GNUPGHOME": str(material.gpg_ours.home)}
    done = subprocess.run(["gpg", "--batch", "--status-fd", "2", "--trust-model", "always",
                           "--decrypt"], input=armored, capture_output=True, timeout=30, env=env,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert b"[GNUPG:] GOODSIG" in done.stderr and b"AB-123" in done.stdout
    assert crlf(done.stdout).startswith(b"Content-Type: multipart/alternative")


def test_pgp_sealed_mail_is_opened_by_mailcore(material: Material, unwrapper: Unwrapper) -> None:
    partner = material.gpg_partner
    recipient = Recipient(
        KeyScheme.OPENPGP, material.gpg_ours.public(), material.gpg_ours.fingerprint
    )
    own = OwnKeys(pgp_secret=partner.secret(), pgp_fingerprint=partner.fingerprint)
    ex = unwrapper.extract(seal(message(), recipient, own))
    assert ex.security is not None and ex.security.decrypted and ex.security.verified, ex.security
    assert "AB-123" in ex.text


def test_openpgp_sign_only_verifies_with_gpg_and_mailcore(
    material: Material, unwrapper: Unwrapper, tmp_path: Path
) -> None:
    partner = material.gpg_partner
    own = OwnKeys(pgp_secret=partner.secret(), pgp_fingerprint=partner.fingerprint)
    raw = seal(message(), None, own)
    assert b'protocol="application/pgp-signature"' in raw
    sec = unwrapper.extract(raw).security
    assert sec is not None and sec.verified and sec.scheme == "openpgp", sec
    boundary = raw.split(b'boundary="', 1)[1].split(b'"', 1)[0]
    signed, signature = raw.split(b"--" + boundary + b"\r\n")[1:3]
    (tmp_path / "data").write_bytes(signed[: -len(b"\r\n")])
    (tmp_path / "sig.asc").write_bytes(signature.split(b"\r\n\r\n", 1)[1])
    env = {"PATH": "/usr/bin:/bin", "GNUPGHOME": str(material.gpg_ours.home)}
    done = subprocess.run(["gpg", "--batch", "--status-fd", "2", "--verify",
                           str(tmp_path / "sig.asc"), str(tmp_path / "data")],
                          capture_output=True, timeout=30, env=env, check=False)  # fmt: skip
    assert done.returncode == 0 and b"[GNUPG:] GOODSIG" in done.stderr, done.stderr.decode()


def test_without_recipient_it_is_only_signed(material: Material, unwrapper: Unwrapper) -> None:
    raw = seal(message(), None, OwnKeys(smime=smime_signer(material)))
    sec = unwrapper.extract(raw).security
    assert sec is not None and sec.verified and not sec.encrypted


def test_an_ec_certificate_is_encrypted_to_with_openssl(material: Material) -> None:
    raw = seal(message(), Recipient(KeyScheme.SMIME, material.partner.pem, "p"), OwnKeys())
    assert b"application/pkcs7-mime" in raw and b"AB-123" not in raw.split(b"\r\n\r\n", 1)[1]
    opened = openssl(["cms", "-decrypt", "-recip", str(material.partner.cert), "-inkey",
                      str(material.partner.key)], raw)  # fmt: skip
    assert opened.returncode == 0, opened.stderr.decode()
    assert b"AB-123" in opened.stdout


def test_a_broken_certificate_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="certificate cannot be read"):
        seal(message(), Recipient(KeyScheme.SMIME, b"not a certificate", "p"), OwnKeys())
