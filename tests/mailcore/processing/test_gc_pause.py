"""The batch's raised collector threshold: set once for nested and concurrent batches,
restored by the last one out, left alone when the application disabled the collector."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from mailcore.processing import gc_pause
from mailcore.processing.gc_pause import relaxed_gc


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_raised_inside_and_restored_after() -> None:
    gc.set_threshold(700, 10, 10)
    with relaxed_gc():
        assert gc.get_threshold() == (gc_pause._THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_even_when_the_batch_raises() -> None:
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), relaxed_gc():
        raise RuntimeError("a poll that failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_concurrent_batches_share_one_raise() -> None:
    gc.set_threshold(700, 10, 10)
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with relaxed_gc():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(10)
    with relaxed_gc():
        pass
    assert gc.get_threshold()[0] == gc_pause._THRESHOLD  # the other batch still runs
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_collector_the_application_disabled_stays_disabled() -> None:
    gc.set_threshold(0)
    with relaxed_gc():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0
