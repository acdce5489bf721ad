"""Fewer garbage collections while a simulation runs.

A run makes and drops some thirty small objects per callback and keeps the
live calls' ones; with CPython's default first threshold (700 allocations)
the collector wakes every few callbacks and, with thousands of calls at once,
walks all of them each time it reaches an older generation. While a run
lasts, the world built before it is frozen out of the collector and the first
threshold is raised; both are put back after. Nothing a run computes depends
on when the collector runs, so seeded results are unchanged
(`benchmarks/sim_scale.py` shows the effect on the cost per callback).
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

FIRST_THRESHOLD = 10_000     # allocations between young collections (CPython: 700)

_lock = threading.Lock()
_running = 0                 # runs under way in this process (threads share the collector)
_saved: tuple[int, ...] = ()
_froze = False               # whether we froze (a PBX may have frozen its start-up already)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Freeze what exists and raise the first threshold, for the body's duration."""
    global _running, _saved, _froze
    with _lock:
        if _running == 0:
            _saved = gc.get_threshold()
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
            gc.set_threshold(max(FIRST_THRESHOLD, _saved[0]), *_saved[1:])
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.set_threshold(*_saved)
                if _froze:
                    gc.unfreeze()
