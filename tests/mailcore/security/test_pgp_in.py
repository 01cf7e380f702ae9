"""What gpg signs or encrypts (RFC 3156), mailcore verifies or decrypts."""

from __future__ import annotations

from mailcore.security.keyring import Keyring
from mailcore.security.unwrap import Unwrapper
from tests.mailcore.security import mails
from tests.mailcore.security.material import OTHER, OURS, PARTNER, Material

PAYLOAD = {"plate_number": "AB-123", "year": 2020}


def test_gpg_signature_is_valid_and_trusted(unwrapper: Unwrapper, material: Material) -> None:
    ex = unwrapper.extract(mails.pgp_signed(material.gpg_partner))
    sec = ex.security
    assert sec is not None and sec.verified, sec
    assert sec.scheme == "openpgp" and sec.signer == material.gpg_partner.fingerprint
    assert sec.signer_email == PARTNER and ex.payload == PAYLOAD


def test_tampered_is_not_valid(unwrapper: Unwrapper, material: Material) -> None:
    raw = mails.pgp_signed(material.gpg_partner).replace(b"AB-123", b"XX-999")
    sec = unwrapper.extract(raw).security
    assert sec is not None and sec.signed and not sec.valid
    assert sec.reason == "the signature does not match the content"


def test_key_not_in_keyring(unwrapper: Unwrapper, material: Material) -> None:
    sec = unwrapper.extract(mails.pgp_signed(material.gpg_stranger)).security
    assert sec is not None and sec.signed and not sec.valid and not sec.trusted
    assert "not in the keyring" in str(sec.reason)


def test_expired_key_is_not_trusted(unwrapper: Unwrapper, material: Material) -> None:
    raw = mails.pgp_signed(material.gpg_expired, when="20200101T010000")
    sec = unwrapper.extract(raw).security
    assert sec is not None and sec.valid and not sec.trusted
    assert sec.reason == "the signing key has expired"


def test_signer_who_is_not_the_sender(unwrapper: Unwrapper, material: Material) -> None:
    sec = unwrapper.extract(mails.pgp_signed(material.gpg_partner, sender=OTHER)).security
    assert sec is not None and sec.valid and sec.trusted and not sec.verified
    assert sec.reason == f"signed for {PARTNER}, not for the sender {OTHER}"


def test_encrypted_mail_is_decrypted(unwrapper: Unwrapper, material: Material) -> None:
    ex = unwrapper.extract(mails.pgp_encrypted(material.gpg_partner, OURS))
    sec = ex.security
    assert sec is not None and sec.encrypted and sec.decrypted and not sec.signed
    assert ex.payload == PAYLOAD


def test_signed_and_encrypted_in_one_pass(unwrapper: Unwrapper, material: Material) -> None:
    ex = unwrapper.extract(mails.pgp_encrypted(material.gpg_partner, OURS, sign=True))
    sec = ex.security
    assert sec is not None and sec.decrypted and sec.verified, sec
    assert ex.payload == PAYLOAD


def test_signed_then_encrypted_as_two_layers(unwrapper: Unwrapper, material: Material) -> None:
    signed = mails.strip_outer(mails.pgp_signed(material.gpg_partner))
    ex = unwrapper.extract(mails.pgp_encrypted(material.gpg_partner, OURS, signed))
    sec = ex.security
    assert sec is not None and sec.decrypted and sec.verified and len(sec.layers) == 2


def test_without_our_key_it_stays_encrypted(material: Material) -> None:
    u = Unwrapper(Keyring(pgp_public=(material.gpg_partner.public(),)))
    try:
        ex = u.extract(mails.pgp_encrypted(material.gpg_partner, OURS))
    finally:
        u.close()
    sec = ex.security
    assert sec is not None and sec.encrypted and not sec.decrypted
    assert sec.reason == "no configured OpenPGP key decrypts it" and ex.payload is None
