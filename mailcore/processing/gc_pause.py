"""A poll's batch runs with the cyclic garbage collector's first threshold raised.

A batch of 500 mails allocates a few hundred thousand objects (extractions, payloads, events)
that live until its history is written. At CPython's default threshold (700 allocations) that
is hundreds of young-generation collections per batch, each traversing objects that are all
still alive, and every tenth of them the older generation too: about 15% of the poller's CPU
time on `bench/imap.py`'s mail. Reference counting frees these objects anyway (they hold no
cycles worth waiting for); the collector still runs, every `_THRESHOLD` allocations.

Process-wide (the threshold is), so nested and concurrent batches -- several mailboxes, each
a thread -- share one raise: the first to enter sets it, the last to leave restores what it
was. Whoever changes the threshold meanwhile has it restored over them; nothing else notices.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_THRESHOLD = 50_000  # young objects between collections during a batch (default 700)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, ...] = ()


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Run the block with the young generation collected every `_THRESHOLD` allocations."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            if _saved[0] and _saved[0] < _THRESHOLD:  # 0: disabled by the application
                gc.set_threshold(_THRESHOLD, *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
