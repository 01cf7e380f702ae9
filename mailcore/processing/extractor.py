"""Extraction beside the engine: a child process extracts a batch while the engine's thread
handles the messages already extracted (`extract_processes`, default 1).

Extraction is pure CPU (bytes in, values out) and holds the GIL, so threads cannot overlap it
with the rest of the engine's work: routing, validation, the handlers, the marks and the
history write of each message, which cost about as much again. A child process can. The
engine hands it a large batch once claimed (`ExtractionProcess.start`) and reads each
extraction when its message's turn comes (`Extracting.get`); the child sends them in order, a
few at a time, so the engine waits only for the first. The two share the batch: pieces go to
the child from its front, a few ahead of what it has answered (`_Queue`), and whenever the
engine's thread would wait for an answer it extracts the batch's last message not yet sent
instead. Neither core idles while the other has work; a busy child simply does less.

Nothing here may lose or change a decision:
- the child computes exactly what the engine's thread would (`bounded_extract`, the same
  function), so the outcome is the same whichever computed it;
- a message the child could not extract (it raised), and every message after a child that
  died, hung past `WAIT_SECONDS` or sent garbage, is simply absent: the engine extracts it
  itself, as it would without a child -- the same exception recorded the same way;
- the child holds no claim, no connection and no key: it sees the raw bytes of messages the
  engine already claimed, and nothing it does has a side effect.

Mail to verify or decrypt first (``[security]``) is extracted by the engine's thread: the keys
stay in one process. Small batches too (under `MIN_BATCH`): the hand-over costs about one
extraction, which only a batch pays back.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

from mailcore.ident import IdentScheme
from mailcore.inbound.extract import Extraction, extract
from mailcore.inbound.headers import header_block

__all__ = [
    "MIN_BATCH",
    "ExtractionProcess",
    "Extracting",
    "Pace",
    "bounded_extract",
    "oversized_reason",
]

logger = logging.getLogger(__name__)

MIN_BATCH = 32  # messages; below this the engine's thread extracts them itself
WAIT_SECONDS = 120.0  # for the child's next answer: a 1 MB hostile mail extracts in seconds
RETRY_SECONDS = 300.0  # after the child failed, in-line until then (not a warning a poll)
_PIECE = 8  # extractions per answer: few enough that the engine waits for the first only
_AHEAD = 4  # pieces sent and not answered yet: enough that the child never waits for the next


def _human_size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def oversized_reason(raw: bytes, limit: int) -> str | None:
    """The failure reason of a message over `limit` bytes (max_message_size), None for the
    others."""
    if len(raw) <= limit:
        return None
    return (
        f"message of {_human_size(len(raw))} is over the maximum message size of"
        f" {_human_size(limit)} (max_message_size): not parsed; download it to decide, reject"
        " it, re-submit it with a payload typed by hand, or raise max_message_size and re-run"
    )


def bounded_extract(raw: bytes, scheme: IdentScheme, max_size: int) -> Extraction:
    """The extraction of a message, or of its header block only when it is over `max_size`."""
    oversized = oversized_reason(raw, max_size)
    if oversized is None:
        return extract(raw, scheme=scheme)
    ex = extract(header_block(raw), scheme=scheme)
    return dataclasses.replace(ex, defects=[oversized, *ex.defects])


class _Queue:
    """The messages of a batch not yet sent to the child: the sender takes pieces from the
    front, at most `_AHEAD` beyond those answered; the engine's thread takes single messages
    from the back. Shared by those two threads, hence the lock."""

    def __init__(self, raws: list[bytes]) -> None:
        self.raws = raws
        self.sent = 0  # pieces taken by the sender; final once `cancel` returned
        self._front, self._back = 0, len(raws)
        self._lock = threading.Lock()
        self._credit = threading.Semaphore(_AHEAD)

    def next_piece(self) -> tuple[int, list[bytes]] | None:
        """The next piece for the child (its start and raws), once one more may be in flight;
        None when nothing is left."""
        self._credit.acquire()
        with self._lock:
            start, end = self._front, min(self._front + _PIECE, self._back)
            if start >= end:
                return None
            self._front, self.sent = end, self.sent + 1
            return start, self.raws[start:end]

    def answered(self) -> None:
        """The child answered a piece: one more may go."""
        self._credit.release()

    def steal(self) -> int | None:
        """The position of the last message not sent, now the caller's; None if all are."""
        with self._lock:
            if self._back <= self._front:
                return None
            self._back -= 1
            return self._back

    def cancel(self) -> None:
        """Send nothing more (a sender waiting for credit wakes and finds nothing)."""
        with self._lock:
            self._back = self._front
        self._credit.release()


class Extracting(Mapping[int, Extraction]):
    """The extractions of one batch, by UID, as the child sends them: looking one up waits
    for it -- extracting messages from the batch's end meanwhile; a UID the child could not
    extract is absent (the caller extracts it itself)."""

    def __init__(
        self, owner: ExtractionProcess, job: int, items: Sequence[tuple[int, bytes]]
    ) -> None:
        self._owner = owner
        self._job = job
        self._uids = [uid for uid, _ in items]
        self._wanted = set(self._uids)
        self._got: dict[int, Extraction | None] = {}
        self._queue = _Queue([raw for _, raw in items])
        self._answers = 0  # pieces the child answered
        self.stolen = 0  # messages the engine's thread extracted while it waited
        self.fresh = False  # the child's first batch: its start-up in the time it took

    def __getitem__(self, uid: int) -> Extraction:
        if uid not in self._wanted:
            raise KeyError(uid)
        while uid not in self._got and (self._steal() or self._owner.receive(self)):
            pass
        found = self._got.get(uid)
        if found is None:
            raise KeyError(uid)
        return found

    def __iter__(self) -> Iterator[int]:
        """The UIDs extracted (waiting for the child's answers): not those left to the caller."""
        return (uid for uid in self._uids if self.get(uid) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _steal(self) -> bool:
        """Extract the last message not sent, if the child's next answer is not there yet."""
        if self._owner.answer_ready(self):
            return False
        index = self._queue.steal()
        if index is None:
            return False
        try:  # as the child would: the same function, None where it raises
            ex: Extraction | None = self._owner.extract(self._queue.raws[index])
        except Exception:
            ex = None
        self._got[self._uids[index]] = ex
        self.stolen += 1
        return True

    def _take(self, start: int, extractions: list[Extraction | None]) -> None:
        self._answers += 1
        self._queue.answered()
        for uid, ex in zip(self._uids[start:], extractions, strict=False):
            self._got[uid] = ex

    def _unanswered(self) -> bool:
        return self._answers < self._queue.sent

    def _complete(self) -> bool:
        return len(self._got) >= len(self._uids)

    def _give_up(self) -> None:
        """The child will send nothing more for this batch: the rest is the caller's."""
        self._queue.cancel()
        for uid in self._uids:
            self._got.setdefault(uid, None)


class Pace:
    """Whether the next batch goes to the child or is extracted in-line: whichever cost less
    time per message lately. A child helps only with a core to spare; on a machine whose
    cores are all busy it adds its hand-over to the same work (seen: 27% slower at load 4-5
    on 2 cores). Every `PROBE_EVERY`th batch tries the other way, so a change of load is
    noticed -- the first in-line one too: until then the child is taken to be faster (it is
    whenever a core is free, and a backlog of a few batches should not pay for the
    comparison); a child's first batch (its start-up) is not counted."""

    PROBE_EVERY = 8

    def __init__(self) -> None:
        self._cost: dict[bool, float | None] = {True: None, False: None}  # seconds a message
        self._batches = 0

    def child_next(self) -> bool:
        """Whether the next batch should go to the child."""
        self._batches += 1
        child, inline = self._cost[True], self._cost[False]
        if child is None:
            return True
        probe = self._batches % self.PROBE_EVERY == 0
        if inline is None:
            return not probe  # in-line once in a while, to compare
        better = child <= inline
        return not better if probe else better

    def record(self, child: bool, messages: int, seconds: float) -> None:
        """How long a batch of `messages` took, extracted by the child or in-line."""
        if messages <= 0:
            return
        cost, old = seconds / messages, self._cost[child]
        self._cost[child] = cost if old is None else (old + cost) / 2


class ExtractionProcess:
    """One child process that extracts batches for one engine; started on first use, started
    again after it died. `start` is called from the engine's polling thread only."""

    def __init__(self, scheme: IdentScheme, max_size: int) -> None:
        self._scheme = scheme
        self._max_size = max_size
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Any = None
        self._job = 0
        self._current: Extracting | None = None
        self._sender: threading.Thread | None = None
        self._reaper: weakref.finalize[Any, Any] | None = None
        self._failed_at = -RETRY_SECONDS
        self._fresh = False  # a child started, no batch given to it yet
        self.pace = Pace()

    def start(self, items: Sequence[tuple[int, bytes]]) -> Extracting | None:
        """Hand a batch to the child; None when it is under MIN_BATCH, the child cannot take
        it or in-line is faster now (`Pace`): the caller extracts. Tell `done` how long the
        batch took."""
        if len(items) < MIN_BATCH:
            return None
        with self._lock:
            self._finish_current()
            if not self.pace.child_next():
                return None
            self._job += 1
            batch = Extracting(self, self._job, items)
            try:
                conn = self._connection()
                batch.fresh, self._fresh = self._fresh, False
            except Exception as exc:  # no child: the engine's thread extracts, as before
                self._failed(f"unavailable ({exc})")
                return None
            # Sent a piece at a time by a thread of its own: the child starts on the first
            # piece at once, and this thread reads answers while the rest is still going out
            # (one thread writing both ways would wait on a full pipe with the child).
            self._sender = threading.Thread(
                target=_send_pieces,
                args=(conn, self._job, batch._queue),
                name="mailcore-extract-send",
                daemon=True,
            )
            self._sender.start()
            self._current = batch
            return batch

    def done(self, batch: Extracting | None, messages: int, seconds: float) -> None:
        """A batch of `messages` took `seconds`: `batch` if the child extracted it, None if the
        caller did (see Pace; a batch under MIN_BATCH is not counted)."""
        if messages >= MIN_BATCH and (batch is None or not batch.fresh):
            self.pace.record(batch is not None, messages, seconds)

    def extract(self, raw: bytes) -> Extraction:
        """What the child computes for `raw` (the caller's thread extracting its share)."""
        return bounded_extract(raw, self._scheme, self._max_size)

    def answer_ready(self, batch: Extracting) -> bool:
        """Whether reading `batch`'s next answer would not wait (or would fail at once)."""
        with self._lock:
            if batch is not self._current or self._conn is None:
                return True
            try:
                return bool(self._conn.poll(0))
            except Exception:  # closed or broken: receive says so
                return True

    def receive(self, batch: Extracting) -> bool:
        """Read the child's next answer for `batch`; False once nothing more will come."""
        with self._lock:
            return self._receive(batch)

    def _receive(self, batch: Extracting) -> bool:
        if batch is not self._current or self._conn is None:
            batch._give_up()
            return False
        try:
            if not self._conn.poll(WAIT_SECONDS):
                raise TimeoutError(f"no extraction within {WAIT_SECONDS:.0f} s")
            job, start, extractions = self._conn.recv()
            if job != batch._job:
                raise RuntimeError(f"answer for batch {job}, expected {batch._job}")
        except Exception as exc:  # died, hung or confused: stopped; the rest in-line
            self._failed(f"stopped ({type(exc).__name__}: {exc})")
            batch._give_up()
            return False
        batch._take(start, extractions)
        if batch._complete():
            self._current = None
        return True

    def close(self) -> None:
        """Stop the child (left running, it ends when this process does: its end of the
        socket closes, and it reads no more)."""
        with self._lock:
            self._stop()

    def _finish_current(self) -> None:
        """Read what the child still sends for an abandoned batch: a new batch sent while it
        writes answers nobody reads would leave both waiting on a full pipe."""
        current = self._current
        if current is not None:
            current._queue.cancel()  # its unsent messages are left to the caller
        while current is not None and current._unanswered() and self._receive(current):
            pass
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.join()  # done: every piece was answered, or the connection is closed

    def warm(self) -> None:
        """Start the child now (it takes a moment to import), e.g. on seeing a backlog."""
        with self._lock:
            try:
                self._connection()
            except Exception as exc:
                self._failed(f"unavailable ({exc})")

    def _failed(self, what: str) -> None:
        logger.warning(
            "extraction process %s; extracting in the poller's thread for %.0f s",
            what, RETRY_SECONDS,
        )  # fmt: skip
        self._stop()
        self._failed_at = time.monotonic()

    def _connection(self) -> Connection:
        alive = self._process is not None and self._process.poll() is None
        if alive and self._conn is not None:
            return self._conn
        self._stop()
        if time.monotonic() - self._failed_at < RETRY_SECONDS:
            raise RuntimeError("it failed recently")
        # Its own interpreter (not multiprocessing's fork, forkserver or spawn): a fork copies
        # the console's and pollers' threads mid-flight, and the others import the caller's
        # __main__ again in the child -- a script without a __main__ guard would run twice.
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=_child_environment(),
            )
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        self._process, self._conn, self._fresh = process, conn, True
        self._reaper = weakref.finalize(self, _reap, process, conn)  # an engine dropped unclosed
        conn.send((self._scheme, self._max_size))
        return conn

    def _stop(self) -> None:
        if self._current is not None:
            self._current._queue.cancel()  # a sender waiting for credit must not wait on
        process, conn, sender = self._process, self._conn, self._sender
        self._process, self._conn, self._current, self._sender = None, None, None, None
        if self._reaper is not None:
            self._reaper.detach()
            self._reaper = None
        if process is not None:
            _reap(process, conn, sender)


def _child_environment() -> dict[str, str]:
    """This environment, with the directory mailcore was imported from first on the path: a
    checkout run from elsewhere, or a sys.path set by hand, must import the same code."""
    import mailcore

    root = os.path.dirname(os.path.dirname(os.path.abspath(mailcore.__file__)))
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _reap(
    process: subprocess.Popen[bytes], conn: Connection, sender: threading.Thread | None = None
) -> None:
    """Kill the child, then close our end -- once the sender is out of it: a descriptor
    closed under a thread still writing may be reused by the next file opened."""
    process.kill()
    process.wait(5)
    if sender is not None:
        sender.join(5)  # the child is gone: its writes fail at once
    conn.close()


def _send_pieces(conn: Connection, job: int, queue: _Queue) -> None:
    while (piece := queue.next_piece()) is not None:
        try:
            conn.send_bytes(pickle.dumps((job, *piece), -1))
        except OSError:  # closed: the child died or was stopped; the reader notices
            return


def _serve(conn: Connection) -> None:
    """The child: extract each piece received and answer with its extractions (None for a
    message whose extraction raised: the engine extracts that one again itself)."""
    try:
        scheme, max_size = conn.recv()
    except (EOFError, OSError):
        return
    while True:
        try:
            job, start, raws = conn.recv()
        except (EOFError, OSError):  # the engine closed its end or exited
            return
        piece: list[Extraction | None] = []
        for raw in raws:
            try:
                piece.append(bounded_extract(raw, scheme, max_size))
            except Exception:  # the engine reproduces it and records it as it should
                piece.append(None)
        try:
            conn.send_bytes(pickle.dumps((job, start, piece), pickle.HIGHEST_PROTOCOL))
        except OSError:
            return


if __name__ == "__main__":  # the child: python -m mailcore.processing.extractor FD
    import gc

    # Nothing lives here beyond one piece, and its objects hold no cycles worth collecting
    # early: the collector walks what is loaded once, then rarely (10-15% of its CPU).
    gc.freeze()
    gc.set_threshold(50_000, 50, 50)
    _serve(Connection(int(sys.argv[1])))
