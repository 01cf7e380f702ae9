"""What openssl signs or encrypts, mailcore verifies or decrypts; each failure has its reason."""

from __future__ import annotations

import pytest

from mailcore.security.keyring import Keyring, smime_key
from mailcore.security.unwrap import Unwrapper
from tests.mailcore.security import mails
from tests.mailcore.security.material import OTHER, PARTNER, Material


def test_plain_mail_has_no_security(unwrapper: Unwrapper) -> None:
    ex = unwrapper.extract(mails.plain())
    assert ex.security is None and ex.payload == {"plate_number": "AB-123", "year": 2020}


@pytest.mark.parametrize("make", ["smime_detached", "cms_detached", "smime_opaque"])
def test_openssl_signature_is_valid_and_trusted(
    unwrapper: Unwrapper, material: Material, make: str
) -> None:
    raw = {
        "smime_detached": lambda: mails.smime_signed(material.partner),
        "cms_detached": lambda: mails.cms_signed(material.partner),
        "smime_opaque": lambda: mails.smime_signed(material.partner, opaque=True),
    }[make]()
    ex = unwrapper.extract(raw)
    sec = ex.security
    assert sec is not None and sec.verified, sec
    assert sec.scheme == "smime" and sec.signer_email == PARTNER and "CN=partner" in str(sec.signer)
    assert sec.reason is None and not sec.encrypted
    assert ex.payload == {"plate_number": "AB-123", "year": 2020}  # the inner mail, extracted
    assert ex.headers.subject == "[VEH-1] update" and ex.identifier == "VEH-1"


def test_lf_line_endings_still_verify(unwrapper: Unwrapper, material: Material) -> None:
    raw = mails.smime_signed(material.partner).replace(b"\r\n", b"\n")  # as a Maildir file
    sec = unwrapper.extract(raw).security
    assert sec is not None and sec.verified


def test_tampered_content_is_not_valid(unwrapper: Unwrapper, material: Material) -> None:
    raw = mails.smime_signed(material.partner).replace(b"AB-123", b"XX-999")
    ex = unwrapper.extract(raw)
    sec = ex.security
    assert sec is not None and sec.signed and not sec.valid and not sec.verified
    assert "does not match the content" in str(sec.reason)
    assert ex.payload == {"plate_number": "XX-999", "year": 2020}  # still shown to operators


def test_tampered_opaque_signed_data_is_not_valid(unwrapper: Unwrapper, material: Material) -> None:
    raw = mails.smime_signed(material.partner, opaque=True)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = body.split(b"\r\n")
    middle = len(lines) // 2
    lines[middle] = (
        lines[middle][:10] + (b"A" if lines[middle][10:11] != b"A" else b"B") + lines[middle][11:]
    )
    sec = unwrapper.extract(head + b"\r\n\r\n" + b"\r\n".join(lines)).security
    assert sec is not None and sec.signed and not sec.valid


def test_expired_certificate_is_not_trusted(unwrapper: Unwrapper, material: Material) -> None:
    sec = unwrapper.extract(mails.smime_signed(material.expired)).security
    assert sec is not None and sec.valid and not sec.trusted
    assert "expired" in str(sec.reason)


def test_untrusted_certificate(unwrapper: Unwrapper, material: Material) -> None:
    sec = unwrapper.extract(mails.smime_signed(material.stranger)).security
    assert sec is not None and sec.valid and not sec.trusted and not sec.verified
    assert "not trusted" in str(sec.reason)


def test_no_trust_store_configured(material: Material) -> None:
    u = Unwrapper(Keyring())
    sec = u.extract(mails.smime_signed(material.partner)).security
    assert sec is not None and sec.valid and not sec.trusted
    assert "no trusted S/MIME certificates" in str(sec.reason)


def test_signer_who_is_not_the_sender(unwrapper: Unwrapper, material: Material) -> None:
    sec = unwrapper.extract(mails.smime_signed(material.other, sender=PARTNER)).security
    assert sec is not None and sec.valid and sec.trusted and not sec.matches_from
    assert not sec.verified and sec.signer_email == OTHER
    assert f"signed for {OTHER}, not for the sender {PARTNER}" == sec.reason


def test_openssl_encrypted_mail_is_decrypted(unwrapper: Unwrapper, material: Material) -> None:
    ex = unwrapper.extract(mails.smime_encrypted(material.ours))
    sec = ex.security
    assert sec is not None and sec.encrypted and sec.decrypted and not sec.signed
    assert ex.payload == {"plate_number": "AB-123", "year": 2020}
    assert "decrypted for" in sec.layers[0]


def test_signed_then_encrypted(unwrapper: Unwrapper, material: Material) -> None:
    signed = mails.strip_outer(mails.smime_signed(material.partner))
    ex = unwrapper.extract(mails.smime_encrypted(material.ours, signed))
    sec = ex.security
    assert sec is not None and sec.encrypted and sec.decrypted and sec.verified, sec
    assert len(sec.layers) == 2 and ex.payload is not None


def test_openssl_encrypted_to_an_ec_key_is_decrypted(material: Material) -> None:
    ec_key = smime_key(material.partner.pem, material.partner.key.read_bytes())
    ex = Unwrapper(Keyring(smime_keys=(ec_key,))).extract(mails.smime_encrypted(material.partner))
    assert ex.security is not None and ex.security.decrypted, ex.security
    assert ex.payload == {"plate_number": "AB-123", "year": 2020}


def test_wrong_key_cannot_decrypt(material: Material) -> None:
    wrong = Keyring(smime_keys=(smime_key(material.ours_other.pem,
                                          material.ours_other.key.read_bytes()),))  # fmt: skip
    ex = Unwrapper(wrong).extract(mails.smime_encrypted(material.ours))
    sec = ex.security
    assert sec is not None and sec.encrypted and not sec.decrypted
    assert sec.reason == "no configured S/MIME key decrypts it" and ex.payload is None


def test_without_openssl_the_mail_is_still_read(
    material: Material, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = mails.smime_signed(material.partner)
    monkeypatch.setenv("PATH", "/nonexistent")
    ex = Unwrapper(Keyring(smime_trusted=material.ca.pem)).extract(raw)
    sec = ex.security
    assert sec is not None and sec.signed and not sec.valid and not sec.verified
    assert "could not be checked: openssl is not installed" in str(sec.reason)
    assert "AB-123" in ex.text  # the signed part, read as it is
