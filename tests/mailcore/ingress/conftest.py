"""The private Postfix of the pipe tests (one per xdist worker), skipped where none is installed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.postfix import POSTFIX, Postfix, start_postfix


@pytest.fixture(scope="session")
def postfix() -> Iterator[Postfix]:
    if not os.path.exists(POSTFIX) or os.geteuid() != 0:
        pytest.skip("needs Debian's postfix (scripts/install-system-deps) and root")
    server = start_postfix()
    try:
        yield server
    finally:
        server.stop()
