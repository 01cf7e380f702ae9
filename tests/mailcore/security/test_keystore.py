"""Keys admins import: read by openssl/cryptography and gpg, stored with the private part
encrypted, listed without it, and turned into the keyring that verifies and decrypts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcore.errors import ConfigError
from mailcore.security.keyinfo import keyring, read_keys
from mailcore.security.unwrap import Unwrapper
from mailcore.store.db import connect
from mailcore.store.keys import KeyScheme, KeyStore
from tests.mailcore.security import mails
from tests.mailcore.security.material import OURS, PARTNER, Material


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KeyStore]:
    db = connect(f"sqlite:///{tmp_path / 'keys.db'}")
    yield KeyStore(db, "console-secret")
    db.dispose()


def test_certificate_and_key_are_read(material: Material) -> None:
    (cert,) = read_keys(material.partner.pem)
    assert cert.scheme is KeyScheme.SMIME and cert.emails == (PARTNER,) and cert.secret is None
    assert "CN=partner" in cert.label and cert.expires is not None
    (ours,) = read_keys(material.ours.pem + material.ours.key.read_bytes())
    assert ours.secret is not None and b"PRIVATE KEY" in ours.secret


def test_key_of_another_certificate_is_refused(material: Material) -> None:
    with pytest.raises(ConfigError, match="does not belong"):
        read_keys(material.ours.pem + material.ours_other.key.read_bytes())


def test_openpgp_keys_are_read(material: Material) -> None:
    (public,) = read_keys(material.gpg_partner.public())
    assert public.fingerprint == material.gpg_partner.fingerprint and public.emails == (PARTNER,)
    assert public.secret is None and "BEGIN PGP PUBLIC KEY" in public.public
    (secret,) = read_keys(material.gpg_ours.secret())
    assert secret.secret is not None and b"PRIVATE KEY BLOCK" in secret.secret


def test_garbage_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a PEM certificate"):
        read_keys(b"hello")


def test_private_keys_are_stored_encrypted(store: KeyStore, material: Material) -> None:
    (ours,) = read_keys(material.ours.pem + material.ours.key.read_bytes())
    stored = store.add(ours, "admin")
    assert stored.has_secret and "secret" not in repr(stored).lower().replace("has_secret", "")
    with store.db.connect() as conn:
        token = conn.exec_driver_sql("SELECT secret FROM security_keys").scalar_one()
    assert b"PRIVATE KEY" not in token  # encrypted at rest
    assert store.secret(stored.fingerprint) == ours.secret
    other = KeyStore(store.db, "another secret")
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        other.secret(stored.fingerprint)
    with pytest.raises(ConfigError, match="MAILCORE_SECRET_KEY"):
        KeyStore(store.db, None).add(ours, "admin")


def test_list_get_and_remove_by_prefix(store: KeyStore, material: Material) -> None:
    for data in (material.partner.pem, material.gpg_partner.public()):
        store.add(read_keys(data)[0], "admin")
    assert [k.scheme for k in store.list()] == [KeyScheme.OPENPGP, KeyScheme.SMIME]
    fpr = material.gpg_partner.fingerprint
    assert store.get(fpr[:8].lower()).fingerprint == fpr
    assert store.remove(fpr[:12]).fingerprint == fpr
    assert len(store.list()) == 1
    with pytest.raises(ConfigError, match="no key has"):
        store.get(fpr)
    with pytest.raises(ConfigError, match="at least 8"):
        store.get("AB")


def test_the_stored_keys_verify_and_decrypt(store: KeyStore, material: Material) -> None:
    for data in (
        material.ca.pem,
        material.ours.pem + material.ours.key.read_bytes(),
        material.gpg_partner.public(),
        material.gpg_ours.secret(),
    ):
        for key in read_keys(data):
            store.add(key, "admin")
    u = Unwrapper(keyring(store))
    try:
        signed = u.extract(mails.smime_signed(material.partner)).security
        pgp = u.extract(mails.pgp_encrypted(material.gpg_partner, OURS, sign=True)).security
        enc = u.extract(mails.smime_encrypted(material.ours)).security
    finally:
        u.close()
    assert signed is not None and signed.verified
    assert pgp is not None and pgp.decrypted and pgp.verified
    assert enc is not None and enc.decrypted
