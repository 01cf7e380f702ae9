"""The `material` fixture: every test key, made once per session by openssl and gpg."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mailcore.security.material import Material, close, make_material


@pytest.fixture(scope="session")
def material(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Material]:
    m = make_material(tmp_path_factory.mktemp("keys"))
    m.gpg_partner.import_key(m.gpg_ours.public())  # the partner encrypts to us
    m.gpg_ours.import_key(m.gpg_partner.public())  # and we check what mailcore sends
    yield m
    close(m)
