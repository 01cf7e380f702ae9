"""The UID log of a Maildir folder: ``mailcore-uidlist``, an append-only log (``<uid> <key>``
lines after a ``V<uidvalidity>`` header) written under an exclusive file lock, so that several
processes (the poller and the console) agree on UIDs; `read` catches up with it, `assign` gives
the next UIDs to new keys, and a log grown far beyond the live messages is compacted. A UID
given out is never given out again, even after a power cut or a compaction.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

UIDLIST = "mailcore-uidlist"
_LOCKFILE = "mailcore-uidlist.lock"
# The uidlist is rewritten once it holds this many lines more than twice the live messages.
COMPACT_SLACK = 1000


@dataclass
class _Folder:
    """One folder's state: its UIDs (from the log) and its files (from the last scan)."""

    path: str
    uidvalidity: int = 0
    next_uid: int = 1
    key_uid: dict[str, int] = field(default_factory=dict)
    uid_key: dict[int, str] = field(default_factory=dict)
    log_id: tuple[int, int] = (0, 0)  # (inode, bytes read) of the uidlist
    log_lines: int = 0
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (subdir, name)
    dir_stamp: tuple[int, int] | None = None  # trusted mtimes of new/ and cur/


def _private(path: str, flags: int) -> int:
    # Mail is personal data: files only the owner can read, whatever the process umask.
    return os.open(path, flags, 0o600)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _file_lock(state: _Folder) -> Iterator[None]:
    fd = os.open(os.path.join(state.path, _LOCKFILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read(state: _Folder) -> bool:
    """Catch up with the uidlist; False when it does not exist yet."""
    path = os.path.join(state.path, UIDLIST)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        state.key_uid.clear()
        state.uid_key.clear()
        state.next_uid, state.log_lines, state.log_id = 1, 0, (0, 0)
        return False
    inode, done = state.log_id
    if st.st_ino != inode or st.st_size < done:  # rewritten (compacted) or replaced
        state.key_uid.clear()
        state.uid_key.clear()
        state.next_uid, state.log_lines, done = 1, 0, 0
    if st.st_size == done:
        return True
    with open(path, "rb") as fh:
        fh.seek(done)
        chunk = fh.read()
    # A line cut short by a crash has no newline: leave it for the next read.
    end = chunk.rfind(b"\n") + 1
    for line in chunk[:end].decode("utf-8", "replace").splitlines():
        if line.startswith("V"):
            state.uidvalidity = int(line[1:].split()[0])
            continue
        uid_text, _, key = line.partition(" ")
        if not uid_text.isdigit() or not key:
            continue
        uid = int(uid_text)
        old = state.key_uid.get(key)
        if old is not None:
            state.uid_key.pop(old, None)
        state.key_uid[key] = uid
        state.uid_key[uid] = key
        state.next_uid = max(state.next_uid, uid + 1)
        state.log_lines += 1
    state.log_id = (st.st_ino, done + end)
    return True


def _write(state: _Folder, text: str, fresh: bool = False) -> None:
    path = os.path.join(state.path, UIDLIST)
    if fresh:
        tmp = path + f".tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8", opener=_private) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(state.path)
    else:
        with open(path, "a", encoding="utf-8", opener=_private) as fh:
            fh.write(text)
            fh.flush()
            # A UID given out must never be given out again, even after a power cut.
            os.fsync(fh.fileno())
    read(state)


def assign(state: _Folder, keys: Sequence[str]) -> dict[str, int]:
    """UIDs for these keys, giving the next ones to keys that have none yet."""
    with _file_lock(state):
        if not read(state):
            # Never the value this folder had before, even within the same second.
            state.uidvalidity = max(int(time.time()), state.uidvalidity + 1)
            _write(state, f"V{state.uidvalidity}\n", fresh=True)
        missing = [k for k in dict.fromkeys(keys) if k not in state.key_uid]
        if missing:
            lines = "".join(f"{state.next_uid + i} {k}\n" for i, k in enumerate(missing))
            _write(state, lines)
        _maybe_compact(state)
    return {k: state.key_uid[k] for k in keys}


def _maybe_compact(state: _Folder) -> None:
    if state.log_lines <= 2 * len(state.files) + COMPACT_SLACK:
        return
    # List afresh under the lock: another process may have filed messages we have not seen.
    present = {
        name.split(":", 1)[0]
        for sub in ("new", "cur")
        for name in os.listdir(os.path.join(state.path, sub))
    }
    keep = sorted((uid, key) for key, uid in state.key_uid.items() if key in present)
    # The highest UID ever given stays recorded, so it is never handed out again.
    if state.next_uid - 1 not in {u for u, _ in keep}:
        keep.insert(0, (state.next_uid - 1, "."))
    body = "".join(f"{uid} {key}\n" for uid, key in sorted(keep))
    _write(state, f"V{state.uidvalidity}\n{body}", fresh=True)
