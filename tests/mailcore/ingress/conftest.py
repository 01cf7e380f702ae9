"""The private Postfix of the pipe tests (one per xdist worker), skipped where none is installed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.postfix import POSTFIX, SYSTEM_PYTHON, Postfix, start_postfix


def _system_python_matches() -> bool:
    """The pipe runs as `nobody` on the system Python with this virtualenv's packages: only
    the same minor version can load them."""
    try:
        found = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()  # fmt: skip
    except OSError:
        return False
    return found == str(sys.version_info[:2])


@pytest.fixture(scope="session")
def postfix() -> Iterator[Postfix]:
    if not os.path.exists(POSTFIX) or os.geteuid() != 0:
        pytest.skip("needs Debian's postfix (scripts/install-system-deps) and root")
    if not _system_python_matches():
        pytest.skip(f"{SYSTEM_PYTHON} is not Python {sys.version_info[0]}.{sys.version_info[1]}")
    server = start_postfix()
    try:
        yield server
    finally:
        server.stop()
