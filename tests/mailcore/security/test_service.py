"""The [security] table: the verifier over files and the key store (following an admin's
changes), and sealing per partner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.outbound.compose import Template, compose
from mailcore.security.keyinfo import read_keys
from mailcore.security.service import StoreUnwrapper, seal_message, unwrapper
from mailcore.store.db import connect
from mailcore.store.keys import KeyStore
from tests.mailcore.security import mails
from tests.mailcore.security.material import OURS, PARTNER, Material


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KeyStore]:
    db = connect(f"sqlite:///{tmp_path / 'k.db'}")
    yield KeyStore(db, "s")
    db.dispose()


def settings(**security: object) -> Settings:
    return Settings.from_mapping({"security": security}, env={})


def test_trust_store_file_and_key_store_changes(store: KeyStore, material: Material) -> None:
    u = unwrapper(settings(smime_trust_store=str(material.ca.cert)), store)
    assert isinstance(u, StoreUnwrapper)
    sec = u.extract(mails.smime_signed(material.partner)).security
    assert sec is not None and sec.verified  # from the file
    sec = u.extract(mails.pgp_signed(material.gpg_partner)).security
    assert sec is not None and not sec.valid  # not in any keyring yet
    store.add(read_keys(material.gpg_partner.public())[0], "admin")
    u.RECHECK_SECONDS = 0.0
    sec = u.extract(mails.pgp_signed(material.gpg_partner)).security
    assert sec is not None and sec.verified  # the admin's import is seen without a restart
    u.close()


def test_verification_can_be_turned_off(store: KeyStore) -> None:
    assert unwrapper(settings(verify=False), store) is None


def test_a_missing_file_is_a_config_error(store: KeyStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="smime_trust_store: cannot read"):
        unwrapper(settings(smime_trust_store=str(tmp_path / "none.pem")), store)


TEMPLATE = Template("t", "Hello", "Plate AB-123\n")


def test_sealing_per_partner(store: KeyStore, material: Material) -> None:
    (cert,) = read_keys(material.ours.pem)
    store.add(cert, "admin")
    to_ours = compose(TEMPLATE, {}, OURS, "VEH-1", sender=PARTNER)
    plain = seal_message(settings(), to_ours, store)
    assert plain is to_ours  # nothing configured: sent as it is
    config = settings(encrypt_to={OURS: cert.fingerprint[:16]})
    sealed = seal_message(config, to_ours, store)
    assert isinstance(sealed, bytes) and b"application/pkcs7-mime" in sealed
    other = compose(TEMPLATE, {}, "nobody@else.example", "VEH-1", sender=PARTNER)
    assert seal_message(config, other, store) is other  # no key for that partner
    both = compose(TEMPLATE, {}, [OURS, "nobody@else.example"], "VEH-1", sender=PARTNER)
    with pytest.raises(ConfigError, match="not to every recipient"):
        seal_message(config, both, store)


def test_an_expired_partner_key_is_refused(store: KeyStore, material: Material) -> None:
    (expired,) = read_keys(material.expired.pem)
    store.add(expired, "admin")
    message = compose(TEMPLATE, {}, OURS, "VEH-1", sender=PARTNER)
    with pytest.raises(ConfigError, match="has expired"):
        seal_message(settings(encrypt_to={OURS: expired.fingerprint}), message, store)
