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


def test_a_batch_write_drops_the_marks_it_recorded_and_looks_up_only_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailcore.store.history import History

    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    other = History(f"sqlite:///{tmp_path / 'h.db'}")  # another process's marks, same journal
    for key in ("mine", "theirs", "pending"):
        (history if key == "mine" else other).mark_handled(key, handler="h")
    other.record_batch([], [{"message_key": "theirs", "handled": True}])  # its write: recorded
    history.mark_handled("theirs", handler="h")  # (and marked again since, still recorded)
    looked_up: list[set[str]] = []
    recorded = history._marks.recorded
    monkeypatch.setattr(
        history._marks, "recorded", lambda ks: looked_up.append(set(ks)) or recorded(ks)
    )

    history.record_batch([], [{"message_key": "mine", "status": "processed", "handled": True}])

    assert looked_up == [{"theirs", "pending"}]  # not "mine": this write recorded it
    assert set(MarkJournal(tmp_path / "h.db-handled").marks()) == {"pending"}
    assert history.handled_keys(["mine", "theirs", "pending", "never"]) == {
        "mine",
        "theirs",
        "pending",
    }
    history.close()
    other.close()
