"""Every message of CPython's own e-mail test data goes through extract without an exception."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mailcore.inbound.extract import Extraction, extract


def _data_dir() -> Path | None:
    try:
        import test.test_email
    except ImportError:
        return None
    folder = Path(os.path.dirname(test.test_email.__file__)) / "data"
    return folder if folder.is_dir() else None


DATA = _data_dir()
FILES = sorted(p.name for p in DATA.iterdir() if p.is_file()) if DATA else []


def test_the_corpus_is_there() -> None:
    # Not a skip: without the corpus the next test would silently check nothing.
    assert DATA is not None, (
        "CPython's test.test_email data folder is missing: use a Python that ships its test"
        " suite (python.org / pyenv builds do; on Debian install libpython3-testsuite)"
    )
    assert len(FILES) > 40


@pytest.mark.skipif(DATA is None, reason="CPython's test.test_email data folder is not installed")
@pytest.mark.parametrize("name", FILES)
def test_cpython_email_test_message(name: str) -> None:
    assert DATA is not None
    result = extract((DATA / name).read_bytes())
    assert isinstance(result, Extraction)
    # Not the catch-all path: these are handled by the normal code, defects or not.
    assert not any(d.startswith("extraction failed") for d in result.defects), result.defects
    json.dumps(result.to_json(), ensure_ascii=False)
    for attachment in result.attachments:
        assert len(attachment.data()) >= 0
