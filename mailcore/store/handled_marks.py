"""The "handler succeeded" marks: `HandledMarks`, which the history delegates them to, and
`MarkJournal`, where a SQLite file keeps them.

The engine must note each success durably the moment the handler returns (see
`HandledMarks.mark`); a message so marked is filed as a duplicate, never handled again. A
message is handled if it is marked, or if its state row in mc_messages says so (the engine's
batch write records it).

PostgreSQL: each mark is ONE statement on a connection of the marks' own, in autocommit
(``INSERT ... ON CONFLICT DO NOTHING``): one round trip, where a pooled transaction took five
(the pool's ping, BEGIN, SET, INSERT, COMMIT). `mark` returns once the statement is written to
the socket; `confirm`, which the engine calls before the next handler (and `sync` after the
chunk's handlers), reads the answer -- the round trip overlaps the next message's extraction
(`PostgresMarks`). That connection commits without waiting for its WAL flush
(``synchronous_commit`` off on it alone, as each mark's transaction had it before): the commit
is visible to every session and kept if this process dies; the chunk's history write that
follows the handlers is an ordinary commit, whose flush covers the marks before it. Other
databases and SQLite in memory commit a row of mc_handled per mark in a transaction.

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

Why a mark per handler, not one write per chunk: the guarantee is that a handler never succeeds
twice, whichever step a process is killed after. Killed between a handler's return and its
mark, the message is unmarked, still in the inbox and claimed by a dead process; after the
lease another poller claims it, finds no mark and calls the handler again. With one mark per
message that window is the mark's own write (microseconds); with the marks of a chunk written
together before its move or the release of its claims, it would span every later handler of
the chunk -- a poller killed as its tenth handler begins would have nine handled twice (what
tests/mailcore/crash_runner.py does). The write stays per mark, and is made cheap instead; what
is batched is everything that is not a mark: the claims (one statement per 200), the checks
(one read per chunk), the events and states (one transaction per chunk).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from mailcore.errors import MailcoreError
from mailcore.store.tables import (
    HANDLED_TEXT,
    STATE_TEXT,
    fit,
    fit_text,
    handled_table,
    messages_table,
    now,
    one_of,
)

if os.name == "posix":  # the journal's flock; elsewhere marks are rows of mc_handled
    import fcntl

logger = logging.getLogger(__name__)

Mark = tuple[str, str | None, str | None, str]  # message_key, message_id, handler, when
_KEY_LENGTH = STATE_TEXT["message_key"]


class MarkNotWritten(MailcoreError):
    """A handled mark could not be written (disk full): the engine must stop and retry later."""


class HandledMarks:
    """A history's handled marks: written, looked up, and settled once the history records them."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        # A SQLite file keeps its handled marks in a journal beside it (see `mark`).
        self._journal: MarkJournal | None = None
        database = engine.url.database
        is_file = database and database != ":memory:" and not database.startswith("file:")
        if engine.dialect.name == "sqlite" and is_file and os.name == "posix":  # flock
            self._journal = MarkJournal(f"{database}-handled")
        # PostgreSQL (psycopg 3, which connect() picks): one INSERT per mark, on a connection
        # of their own; other drivers commit a transaction per mark.
        psycopg = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._rows = PostgresMarks(engine) if psycopg else None

    def mark(
        self, message_key: str, *, message_id: str | None = None, handler: str | None = None
    ) -> None:
        """Note that a message's handler succeeded: when this returns, the mark survives the
        process being killed.

        SQLite files append it to a journal beside the database (`sync` makes it durable,
        `settle` drops the marks the history has recorded); PostgreSQL sends a row in one
        statement, whose commit `confirm` waits for (`PostgresMarks`); other databases commit
        a row.
        """
        row = fit(
            {"message_key": message_key, "message_id": message_id, "handler": handler},
            HANDLED_TEXT,
        )
        if self._journal is not None:
            self._journal.add(message_key, row["message_id"], row["handler"])
            return
        if self._rows is not None:
            self._rows.add({**row, "at": now()})
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(handled_table.insert().values(**row, at=now()))
        except sa.exc.IntegrityError:
            pass  # marked before

    def confirm(self) -> None:
        """Return once the marks sent so far are committed (PostgreSQL sends a mark and reads
        the server's answer here, see `PostgresMarks`); MarkNotWritten if one cannot be."""
        if self._rows is not None:
            self._rows.confirm()

    def keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages had their handler succeed (marked or recorded so)."""
        wanted = list(dict.fromkeys(keys))
        return self.marked(wanted) | self.recorded(wanted)  # marks first: see `marked`

    def marked(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages carry a mark (their state rows may record it too). Read
        before the state rows: a journal's mark is dropped only once they record it."""
        self.confirm()
        wanted = list(dict.fromkeys(keys))
        out: set[str] = set()
        with self._engine.connect() as conn:
            h = handled_table
            for where in one_of(self._dialect, h.c.message_key, wanted):
                out.update(conn.scalars(sa.select(h.c.message_key).where(where)))
        if self._journal is not None:
            out |= self._journal.keys(wanted)
        return out

    def recorded(self, keys: Iterable[str]) -> set[str]:
        """Which of these messages the history's state rows record as handled."""
        out: set[str] = set()
        m = messages_table
        with self._engine.connect() as conn:
            for where in one_of(self._dialect, m.c.message_key, list(keys)):
                out.update(conn.scalars(sa.select(m.c.message_key).where(where, m.c.handled)))
        return out

    def purge(self, conn: sa.Connection, older_than: datetime) -> None:
        """Delete the rows of mc_handled older than `older_than` (the history's retention)."""
        conn.execute(handled_table.delete().where(handled_table.c.at < older_than))

    def sync(self) -> None:
        """Make the marks written so far durable (a journal's fdatasync, PostgreSQL's last
        answer read); MarkNotWritten when the disk refuses them."""
        self.confirm()
        if self._journal is not None:
            self._journal.sync()

    def settle(self, committed: Iterable[str] = ()) -> None:
        """Drop from the journal the marks the state rows now record (after a batch write;
        `committed`: keys whose rows that write just recorded as handled, so not looked up --
        the journal's other marks, another process's or an earlier batch's, still are)."""
        if self._journal is None:
            return
        # A key the write stored cut or changed (fitted, see tables.fit) would be looked up
        # under its stored form: only keys stored as they are count as committed.
        done = {k for k in committed if fit_text(k, _KEY_LENGTH) == k}

        def recorded(keys: set[str]) -> set[str]:
            rest = keys - done
            return (keys & done) | (self.recorded(rest) if rest else set())

        self._journal.settle(recorded)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
        if self._rows is not None:
            self._rows.close()


class PostgresMarks:
    """PostgreSQL's marks, on a connection of their own taken out of the pool (so that its
    setting -- commits that do not wait for the WAL flush, see the module docstring -- never
    reaches other writes): each mark one autocommit ``INSERT ... ON CONFLICT DO NOTHING`` of a
    prepared statement, driven through libpq in blocking mode.

    `add` returns once the whole statement is written to the socket (with the kernel: a
    SIGKILL from then on does not stop the server from receiving and committing it, as the
    journal's write); `confirm` reads the server's answer. The engine extracts and validates
    the next message in between and confirms before its handler is called, so the round trip
    overlaps work without side effects, and no handler runs while an earlier success is
    unconfirmed. One mark at most is in flight. A mark the server did not confirm (the
    connection died) is sent again on a new connection, which is harmless: kept once.
    Thread-safe (handler workers mark at once)."""

    _NAME = b"mc_handled_mark"

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._conn: Any = None  # psycopg's connection; its libpq handle does the marks
        self._pending: dict[str, Any] | None = None  # sent, answer not read yet
        self._sql = (
            f"INSERT INTO {handled_table.name} (message_key, message_id, handler, at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (message_key) DO NOTHING"
        ).encode()

    def add(self, row: dict[str, Any]) -> None:
        """Send one mark (confirming the one before it first); see the class docstring."""
        with self._lock:
            self._confirm()
            try:
                self._send(row)
            except Exception:  # the connection is gone: a new one, and the mark at once
                self._drop()
                self._again(row)
                return
            self._pending = row

    def confirm(self) -> None:
        """Return once every mark sent is committed; MarkNotWritten if one cannot be."""
        with self._lock:
            self._confirm()

    def _confirm(self) -> None:
        row, self._pending = self._pending, None
        if row is None:
            return
        try:
            self._answer()
        except Exception:  # not confirmed: perhaps committed, perhaps not -- sent again
            self._drop()
            self._again(row)

    def _again(self, row: dict[str, Any]) -> None:
        try:
            self._send(row)
            self._answer()
        except Exception as e:
            self._drop()
            raise MarkNotWritten(
                f"a handled mark could not be committed to PostgreSQL ({type(e).__name__}:"
                f" {str(e).splitlines()[0] if str(e) else 'no answer'})"
            ) from None

    def _send(self, row: dict[str, Any]) -> None:
        pgconn = (self._conn if self._conn is not None else self._open()).pgconn
        values = (row["message_key"], row["message_id"], row["handler"], row["at"].isoformat())
        params = [None if v is None else str(v).encode() for v in values]
        pgconn.send_query_prepared(self._NAME, params)  # blocking mode: written out in full

    def _answer(self) -> None:
        from psycopg import pq

        pgconn = self._conn.pgconn
        errors = []
        while (result := pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                errors.append(result.error_message.decode(errors="replace") or "refused")
        if errors:
            raise RuntimeError(errors[0])

    def _open(self) -> Any:
        from psycopg import pq

        fairy = self._engine.raw_connection()  # pinged by the pool first
        conn: Any = fairy.driver_connection
        fairy.detach()  # never handed back to the pool, with the setting below
        conn.rollback()
        conn.autocommit = True
        conn.execute("SET synchronous_commit TO OFF")
        conn.execute("SET client_encoding TO 'UTF8'")  # the marks' text is sent as UTF-8
        pgconn = conn.pgconn
        pgconn.nonblocking = 0  # a send returns once all of it is written
        prepared = pgconn.prepare(self._NAME, self._sql)
        if prepared.status != pq.ExecStatus.COMMAND_OK:
            conn.close()
            raise RuntimeError(prepared.error_message.decode(errors="replace"))
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn, self._pending = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing more to release
                logger.debug("closing a broken marks connection failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            try:
                self._confirm()
            finally:
                self._drop()


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
    lines = data.splitlines()
    try:  # every line whole (the rule): one parse of them all, a third of a parse per line
        for key, message_id, handler, when in json.loads(b"[" + b",".join(lines) + b"]"):
            marks.setdefault(str(key), (str(key), message_id, handler, str(when)))
        return marks
    except (ValueError, TypeError):  # a torn or odd line: line by line, skipping it
        marks.clear()
    for line in lines:
        try:
            key, message_id, handler, when = json.loads(line)
        except (ValueError, TypeError):
            # (a line torn by a full disk; its text holds a Message-ID: not logged)
            logger.warning("unreadable line of %d bytes in the handled-marks journal", len(line))
            continue
        marks.setdefault(str(key), (str(key), message_id, handler, str(when)))
    return marks
