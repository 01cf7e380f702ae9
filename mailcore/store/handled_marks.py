"""The "handler succeeded" marks of a SQLite history, as an append-only file beside it.

The engine must note each success durably the moment the handler returns (see
`History.mark_handled`). A SQLite commit per message costs 15-40 us (a WAL page each, then
checkpointing them); one `write()` to this file costs 2-3 us and survives the process being
killed just as well (the data is with the kernel), which is the failure it guards against.
Lines are JSON: ``["<message_key>", "<Message-ID>", "<handler>", "<UTC time>"]``.

Several processes may share the file (the poller, the console): appends hold a shared
`flock`, `settle` an exclusive one while it drops the marks the history now records itself.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

Mark = tuple[str, str | None, str | None, str]  # message_key, message_id, handler, when


class MarkJournal:
    """Append-only marks file; thread-safe and shared safely between processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def add(self, message_key: str, message_id: str | None, handler: str | None) -> None:
        """Append one mark; it is with the kernel when this returns."""
        when = datetime.now(UTC).isoformat()
        data = (json.dumps([message_key, message_id, handler, when]) + "\n").encode()
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                os.write(fd, data)  # O_APPEND: one write, never interleaved with another's
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def marks(self) -> dict[str, Mark]:
        """Every mark in the file, by message key."""
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                return _parse(_read(fd))
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def keys(self, wanted: Iterable[str]) -> set[str]:
        """Which of these message keys are marked here."""
        with self._lock:
            fd = self._open()
            if os.fstat(fd).st_size == 0:
                return set()
        found = self.marks()
        return {k for k in wanted if k in found}

    def settle(self, recorded: Callable[[set[str]], set[str]]) -> None:
        """Drop the marks that `recorded(keys)` says the history now holds itself."""
        with self._lock:
            fd = self._open()
            if os.fstat(fd).st_size == 0:
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                marks = _parse(_read(fd))
                done = recorded(set(marks)) if marks else set()
                rest = [m for k, m in marks.items() if k not in done]
                os.ftruncate(fd, 0)
                if rest:
                    os.write(fd, "".join(json.dumps(list(m)) + "\n" for m in rest).encode())
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _read(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _parse(data: bytes) -> dict[str, Mark]:
    marks: dict[str, Mark] = {}
    for line in data.splitlines():
        try:
            key, message_id, handler, when = json.loads(line)
        except (ValueError, TypeError):
            logger.warning("unreadable line in the handled-marks journal: %r", line[:200])
            continue
        marks.setdefault(str(key), (str(key), message_id, handler, str(when)))
    return marks
