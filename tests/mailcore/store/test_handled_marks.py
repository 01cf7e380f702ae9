"""The handled-marks journal on a full disk: the kernel's own short writes and EFBIG, made by a
file size limit (RLIMIT_FSIZE) in a child process, never lose a mark silently."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mailcore.store.handled_marks import MarkJournal

_CHILD = r"""
import json, resource, signal, sys
from mailcore.store.handled_marks import MarkJournal, MarkNotWritten
path, limit = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG / short writes instead of a signal
journal = MarkJournal(path)
journal.add("before", "<a@example.org>", "h")
import os
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + limit, resource.RLIM_INFINITY))
results = []
for key in ("torn", "refused"):
    try:
        journal.add(key, "<secret-id@example.org>", "h")
        results.append("written")
    except MarkNotWritten as e:
        results.append(str(e))
print(json.dumps(results))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics of Linux")
def test_a_full_disk_raises_and_the_next_mark_after_it_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "h.db-handled"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), "20"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    first, second = json.loads(child.stdout)

    assert "cut short" in first and "20 of" in first  # the kernel wrote 20 bytes of the line
    assert "could not be written" in second  # then EFBIG
    assert "secret-id" not in first + second
    journal = MarkJournal(path)
    journal.add("after", None, "h")  # room again: the torn line is ended first
    assert set(journal.marks()) == {"before", "after"}
    journal.close()


def test_unreadable_lines_are_skipped_without_logging_their_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "h.db-handled"
    path.write_text('["k1", "<torn-secret@exam' + "\n" + json.dumps(["k2", None, "h", "t"]) + "\n")
    journal = MarkJournal(path)

    assert set(journal.marks()) == {"k2"}
    assert "torn-secret" not in caplog.text and "unreadable line" in caplog.text
    journal.close()
