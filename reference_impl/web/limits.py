"""Wrong connection codes are rate-limited, per client, so codes cannot be guessed."""

from __future__ import annotations

import time
from collections import deque
from typing import Callable


class Attempts:
    """At most `limit` failures per `window` seconds for each key (a client address)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 keep: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.keep = keep
        self._failures: dict[str, deque[float]] = {}

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: now)."""
        failures = self._recent(key)
        if len(failures) < self.limit:
            return 0.0
        return max(0.0, failures[0] + self.window - self.clock())

    def failed(self, key: str) -> None:
        if len(self._failures) >= self.keep and key not in self._failures:
            self._failures.pop(next(iter(self._failures)))   # forget the oldest client
        self._recent(key).append(self.clock())

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
