"""Session-scoped keys made by openssl and gpg, and an Unwrapper that trusts the partner
(the fixtures live in `fixtures`, which the console's tests import too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailcore.security.keyring import Keyring, smime_key
from mailcore.security.unwrap import Unwrapper
from tests.mailcore.security.fixtures import material
from tests.mailcore.security.material import Material

__all__ = ["material", "trusting", "unwrapper"]


def trusting(m: Material) -> Keyring:
    """What an admin configured: the partners' CA, our keys, the partner's OpenPGP key."""
    return Keyring(
        smime_trusted=m.ca.pem,
        smime_keys=(smime_key(m.ours.pem, m.ours.key.read_bytes()),),
        pgp_public=(m.gpg_partner.public(), m.gpg_expired.public()),
        pgp_secret=(m.gpg_ours.secret(),),
    )


@pytest.fixture(scope="session")
def unwrapper(material: Material) -> Iterator[Unwrapper]:
    u = Unwrapper(trusting(material))
    yield u
    u.close()
