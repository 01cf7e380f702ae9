"""The "handler succeeded" marks: `HandledMarks`, which the history delegates them to, and
`MarkJournal`, where a SQLite file keeps them.

The engine must note each success durably the moment the handler returns (see
`HandledMarks.mark`); a message so marked is filed as a duplicate, never handled again. A
message is handled if it is marked, or if its state row in mc_messages says so (the engine's
batch write records it). PostgreSQL, other databases and SQLite in memory commit a row of
mc_handled per mark (on PostgreSQL without waiting for its WAL flush, which the batch write
that follows each chunk's handlers does).

A SQLite file keeps its marks in a journal beside it instead: a SQLite commit per message
costs 15-40 us (a WAL page each, then checkpointing them); one `write()` to the journal costs
2-3 us and survives the process being killed just as well (the data is with the kernel), which
is the failure it guards against. A full disk is noticed: a short write or ENOSPC raises
`MarkNotWritten` at once, and `sync` (one `fdatasync`, which the engine calls after each chunk's
handlers, before anything else is done with them) reports what a file system only says on
writeback -- never a mark lost silently. An fdatasync per mark would cost 0.3-2 ms each.
Lines are JSON:
``["<message_key>", "<Message-ID>", "<handler>", "<UTC time>"]``.

Several processes may share the journal (the poller, the console): appends hold a shared
`flock`, `settle` an exclusive one while it drops the marks the history now records itself.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

from mailcore.errors import MailcoreError
from mailcore.store.tables import HANDLED_TEXT, chunks, fit, handled_table, messages_table, now

if os.name == "posix":  # the journal's flock; elsewhere marks are rows of mc_handled
    import fcntl

logger = logging.getLogger(__name__)

Mark = tuple[str, str | None, str | None, str]  # message_key, message_id, handler, when


class MarkNotWritten(MailcoreError):
    """A handled mark could not be written (disk full): the engine must stop and retry later."""


class HandledMarks:
    """A history's handled marks: written, looked up, and settled once the history records them."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # A SQLite file keeps its handled marks in a journal beside it (see `mark`).
        self._journal: MarkJournal | None = None
        database = engine.url.database
        is_file = database and database != ":memory:" and not database.startswith("file:")
        if engine.dialect.name == "sqlite" and is_file and os.name == "posix":  # flock
            self._journal = MarkJournal(f"{database}-handled")

    def mark(
        self, message_key: str, *, message_id: str | None = None, handler: str | None = None
    ) -> None:
        """Durably note that a message's handler succeeded, before returning.

        SQLite files append it to a journal beside the database (a write survives the process
        being killed; `settle` drops the marks the history has recorded); other databases
        commit a row.
        """
        row = fit(
            {"message_key": message_key, "message_id": message_id, "handler": handler},
            HANDLED_TEXT,
        )
        if self._journal is not None:
            self._journal.add(message_key, row["message_id"], row["handler"])
            return
        try:
            with self._engine.begin() as conn:
                if self._engine.dialect.name == "postgresql":
                    # Visible to every session at once and kept if this process dies, like the
                    # journal's write; made durable by the chunk's next (synchronous) commit
                    # instead of a WAL flush per mark (about a millisecond each).
                    conn.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
                conn.execute(handled_table.insert().values(**row, at=now()))
        except sa.exc.IntegrityError:
            pass  # marked before

    def keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages had their handler succeed (marked or recorded so)."""
        wanted = list(dict.fromkeys(keys))
        out = self.recorded(wanted)
        with self._engine.connect() as conn:
            h = handled_table
            for chunk in chunks(wanted):
                q = sa.select(h.c.message_key).where(h.c.message_key.in_(chunk))
                out.update(conn.scalars(q))
        if self._journal is not None:
            out |= self._journal.keys(wanted)
        return out

    def recorded(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages the history's state rows record as handled."""
        out: set[str] = set()
        m = messages_table
        with self._engine.connect() as conn:
            for chunk in chunks(list(keys)):
                q = sa.select(m.c.message_key).where(m.c.message_key.in_(chunk), m.c.handled)
                out.update(conn.scalars(q))
        return out

    def purge(self, conn: sa.Connection, older_than: datetime) -> None:
        """Delete the rows of mc_handled older than `older_than` (the history's retention)."""
        conn.execute(handled_table.delete().where(handled_table.c.at < older_than))

    def sync(self) -> None:
        """Make the marks written so far durable (a journal's fdatasync; rows are committed
        already); MarkNotWritten when the disk refuses them."""
        if self._journal is not None:
            self._journal.sync()

    def settle(self) -> None:
        """Drop from the journal the marks the state rows now record (after a batch write)."""
        if self._journal is not None:
            self._journal.settle(self.recorded)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


class MarkJournal:
    """Append-only marks file; thread-safe and shared safely between processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._dirty = False

    def sync(self) -> None:
        """fdatasync the marks added since the last sync; MarkNotWritten if the disk refuses
        them (ENOSPC, EIO: delayed allocation reports a full disk only here)."""
        with self._lock:
            if not self._dirty or self._fd is None:
                return
            try:
                os.fdatasync(self._fd)
            except OSError as e:
                raise MarkNotWritten(
                    f"the handled marks could not be saved in {self.path} ({e.strerror}) -- "
                    "free disk space there"
                ) from None
            self._dirty = False

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def add(self, message_key: str, message_id: str | None, handler: str | None) -> None:
        """Append one mark; it is with the kernel when this returns, or MarkNotWritten is
        raised: a full disk (or a file size limit) shows as a short write or an error of the
        write. A torn line left behind is ended before the next mark, so it cannot swallow it.
        `sync` makes the marks durable and reports what the file system only says then."""
        when = datetime.now(UTC).isoformat()
        data = (json.dumps([message_key, message_id, handler, when]) + "\n").encode()
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # an earlier write was torn: end its line first
                # O_APPEND: one write, never interleaved with another's
                written = os.write(fd, data)
                self._dirty = True
            except OSError as e:
                raise MarkNotWritten(
                    f"the handled mark could not be written to {self.path} ({e.strerror}) -- "
                    "free disk space there"
                ) from None
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        if written != len(data):
            raise MarkNotWritten(
                f"the handled mark was cut short in {self.path} ({written} of {len(data)} bytes "
                "written): the disk is probably full -- free space there"
            )

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
            # (a line torn by a full disk; its text holds a Message-ID: not logged)
            logger.warning("unreadable line of %d bytes in the handled-marks journal", len(line))
            continue
        marks.setdefault(str(key), (str(key), message_id, handler, str(when)))
    return marks
