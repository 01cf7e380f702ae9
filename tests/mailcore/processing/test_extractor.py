"""The extraction child (mailcore.processing.extractor): the same decisions as in-line, and
every way it can fail -- killed, hung, unable to start, a message it cannot extract -- ends
in the poller's thread extracting, never in a lost or changed message."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from mailcore.config import ConfigError, Settings
from mailcore.ident import DEFAULT_SCHEME
from mailcore.inbound.extract import extract
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing import extractor as extractor_module
from mailcore.processing.engine import Engine
from mailcore.processing.extractor import MIN_BATCH, ExtractionProcess, Pace
from mailcore.store.history import History
from tests.mailcore.engine_support import (
    Calls,
    auto_reply_mail,
    deliver,
    make_registry,
    vehicle_mail,
)

MAX_SIZE = 25 * 1024 * 1024


class EngineCalls(Calls):
    engine: Engine  # the engine whose handler calls these are


def mixed_mails(n: int) -> list[bytes]:
    """Processed, refused, schema failures, auto-replies and unrouted mail, in turn."""
    kinds = [
        lambda i: vehicle_mail(ident=f"VEH-{i}", plate=f"P-{i}"),
        lambda i: vehicle_mail(ident=f"VEH-{i}", plate="REFUSE"),
        lambda i: vehicle_mail(ident=f"VEH-{i}", year="last year"),
        lambda i: auto_reply_mail(),
        lambda i: vehicle_mail(ident=f"ZZZ-{i}"),
    ]
    return [kinds[i % len(kinds)](i) for i in range(n)]


def run(tmp_path: Path, name: str, mails: list[bytes], processes: int, **kw: Any) -> Any:
    """Poll `mails` in one batch; (outcomes, handler calls, history events, engine)."""
    box = MaildirMailbox(tmp_path / name / "mail")
    history = History(f"sqlite:///{tmp_path / name / 'history.db'}")
    calls = kw.pop("calls", None)
    calls = EngineCalls() if calls is None else calls  # an empty list is false
    engine = Engine(box, make_registry(calls), history, extract_processes=processes)
    calls.engine = engine
    deliver(box, *mails)
    try:
        outcomes = engine.poll_once(len(mails))
        rows = [
            (e.kind, e.status, e.reason, e.identifier, e.handler)
            for e in history.events(limit=10_000)
        ]
        return outcomes, calls, rows, engine
    finally:
        engine.close()
        history.close()


def summary(outcomes: list[Any]) -> list[tuple[Any, ...]]:
    return [(o.uid, o.status, o.reason, o.handler, o.errors) for o in outcomes]


def test_the_child_decides_as_the_poller_thread_does(tmp_path: Path) -> None:
    mails = mixed_mails(60)
    inline = run(tmp_path, "inline", mails, 0)
    child = run(tmp_path, "child", mails, 1)
    assert child[3]._extractor is not None and child[3]._extractor._job == 1  # it was used
    assert summary(child[0]) == summary(inline[0])
    assert child[1] == inline[1]  # the same handler calls with the same payloads
    assert sorted(map(repr, child[2])) == sorted(map(repr, inline[2]))
    statuses = {o.status for o in child[0]}
    assert {"processed", "failed", "auto"} <= statuses


def test_a_small_batch_never_starts_a_child(tmp_path: Path) -> None:
    outcomes, _, _, engine = run(tmp_path, "small", mixed_mails(MIN_BATCH - 1), 1)
    assert len(outcomes) == MIN_BATCH - 1
    assert engine._extractor is not None and engine._extractor._process is None


def test_a_child_killed_mid_batch_leaves_the_rest_to_the_poller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Long enough that the child is still at work when the first handler runs (a socket
    # buffer holds a few dozen of these answers, not 300).
    prose = "The car was serviced and everything is in order, apart from a scratch.\r\n" * 250
    mails = [vehicle_mail(ident=f"VEH-{i}", plate=f"P-{i}", extra=prose) for i in range(300)]

    class Killing(EngineCalls):
        """Kills the child as the first handler runs: most extractions are still to come."""

        def append(self, call: tuple[str | None, dict[str, Any]]) -> None:
            assert self.engine._extractor is not None
            child = self.engine._extractor._process
            if call[1]["plate_number"] == "P-0" and child is not None:
                os.kill(child.pid, signal.SIGKILL)
            super().append(call)

    with caplog.at_level(logging.WARNING):
        outcomes, calls, _, _ = run(tmp_path, "killed", mails, 1, calls=Killing())
    assert [o.status for o in outcomes] == ["processed"] * 300
    assert sorted(p["plate_number"] for _, p in calls) == sorted(f"P-{i}" for i in range(300))
    assert "extraction process stopped" in caplog.text


def test_a_hung_child_is_given_up_after_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extractor_module, "WAIT_SECONDS", 1.0)
    mails = [vehicle_mail(ident=f"VEH-{i}", plate=f"P-{i}") for i in range(40)]
    process = ExtractionProcess(DEFAULT_SCHEME, MAX_SIZE)
    try:
        process.warm()
        assert process._process is not None
        os.kill(process._process.pid, signal.SIGSTOP)  # alive, answering nothing
        batch = process.start(list(enumerate(mails)))
        assert batch is not None
        assert batch.get(0) is None  # given up: the caller extracts it
        assert process._process is None  # the stopped child was killed, not left behind
    finally:
        process.close()


def test_a_message_the_child_cannot_extract_is_left_to_the_caller() -> None:
    good = vehicle_mail()
    process = ExtractionProcess(DEFAULT_SCHEME, MAX_SIZE)
    try:
        items: list[tuple[int, Any]] = [(i, good) for i in range(MIN_BATCH)]
        items[5] = (5, None)  # bounded_extract raises on it in the child
        batch = process.start(items)
        assert batch is not None
        assert batch.get(5) is None
        assert batch[6] == extract(good)  # the others still come, in order
        assert batch[MIN_BATCH - 1] == extract(good)
    finally:
        process.close()


def test_an_abandoned_batch_does_not_block_the_next(tmp_path: Path) -> None:
    """A poll stopped by an error leaves answers unread; the next batch still comes through
    (both ends waiting on a full pipe would hang the poller)."""
    first = [vehicle_mail(ident=f"VEH-{i}", extra="x" * 5000) for i in range(200)]
    second = [vehicle_mail(ident=f"VEH-{i}", plate=f"Q-{i}") for i in range(40)]
    process = ExtractionProcess(DEFAULT_SCHEME, MAX_SIZE)
    try:
        ready = process.start([(i, raw) for i, raw in enumerate(second)])
        assert ready is not None and len(ready) == 40  # the child is up and answering
        abandoned = process.start(list(enumerate(first)))
        assert abandoned is not None and abandoned[0] is not None
        batch = process.start([(1000 + i, raw) for i, raw in enumerate(second)])
        assert batch is not None
        assert [batch[1000 + i].payload for i in range(40)] == [
            extract(raw).payload for raw in second
        ]
        # What the child had been sent was read before the new batch went out; the rest was
        # never sent: it is the caller's to extract (absent), never a wrong extraction.
        kept = [(i, abandoned.get(i)) for i in range(200)]
        assert any(ex is None for _, ex in kept)
        assert all(ex == extract(first[i]) for i, ex in kept if ex is not None)
    finally:
        process.close()


def test_the_poller_thread_extracts_the_batch_end_while_the_child_is_late() -> None:
    mails = [vehicle_mail(ident=f"VEH-{i}", plate=f"P-{i}") for i in range(100)]
    process = ExtractionProcess(DEFAULT_SCHEME, MAX_SIZE)
    try:
        process.warm()
        assert process._process is not None
        pid = process._process.pid
        os.kill(pid, signal.SIGSTOP)  # alive but late: the pieces sent wait in its socket
        resume = threading.Timer(0.5, os.kill, (pid, signal.SIGCONT))
        resume.start()
        batch = process.start(list(enumerate(mails)))
        assert batch is not None
        got = [batch[i] for i in range(100)]
        resume.join()
        assert got == [extract(raw) for raw in mails]  # the same, whoever extracted it
        # Everything not yet sent was taken from the end meanwhile; the child answered the
        # pieces it had been sent once it ran again.
        assert 100 - extractor_module._AHEAD * extractor_module._PIECE <= batch.stolen < 100
        assert batch._answers >= 1
    finally:
        process.close()


def test_a_child_that_cannot_start_means_in_line_extraction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")
    mails = mixed_mails(40)
    with caplog.at_level(logging.WARNING):
        outcomes, _, _, engine = run(tmp_path, "nochild", mails, 1)
    monkeypatch.undo()
    assert summary(outcomes) == summary(run(tmp_path, "inline", mails, 0)[0])
    assert "extracting in the poller's thread" in caplog.text
    assert engine._extractor is not None and engine._extractor._process is None


def test_extract_processes_is_zero_or_one() -> None:
    Settings(extract_processes=0).check()
    with pytest.raises(ConfigError, match="extract_processes must be 0"):
        Settings(extract_processes=2).check()


def test_pace_takes_the_child_then_probes_in_line_then_keeps_the_faster() -> None:
    pace = Pace()
    assert pace.child_next()  # nothing measured: the child
    pace.record(True, 100, 1.0)  # 10 ms a message with the child
    first = [pace.child_next() for _ in range(Pace.PROBE_EVERY - 1)]
    assert first == [True] * (Pace.PROBE_EVERY - 2) + [False]  # in-line as the first probe
    pace.record(False, 100, 0.5)  # 5 ms in-line: faster (all cores busy)
    ways = [pace.child_next() for _ in range(3 * Pace.PROBE_EVERY)]
    assert ways.count(True) == 3  # only the probes
    pace.record(True, 100, 0.1)  # a probe finds the child faster again (1 ms vs 5)
    pace.record(True, 100, 0.1)
    again = [pace.child_next() for _ in range(Pace.PROBE_EVERY)]
    assert again.count(False) == 1  # the child again, in-line only as the probe


def test_a_slow_child_hands_the_next_batch_back_in_line(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "mail")
    history = History(f"sqlite:///{tmp_path / 'history.db'}")
    engine = Engine(box, make_registry(Calls()), history, extract_processes=1)
    try:
        assert engine._extractor is not None
        engine._extractor.pace.record(True, 1, 60.0)  # as if the child took a minute a mail
        engine._extractor.pace.record(False, 1, 0.001)
        deliver(box, *mixed_mails(40))
        jobs = engine._extractor._job
        assert len(engine.poll_once(40)) == 40
        assert engine._extractor._job == jobs  # not handed to the child
    finally:
        engine.close()
        history.close()
