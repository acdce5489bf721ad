"""Rate limits, per key in a sliding window: wrong connection codes per client
(codes cannot be guessed), callback requests per phone number and per client."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Callable


class Attempts:
    """At most `limit` failures (or requests) per `window` seconds for each key.

    Only keys with a failure inside the window are kept: asking about a key
    stores nothing, and each new failure sweeps out the keys whose last one
    has expired (keys are kept in order of their last failure, so the sweep
    stops at the first live one). Past `keep` live keys, the one idle the
    longest is forgotten: memory stays bounded whatever the keys are.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 keep: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.keep = keep
        self._failures: dict[str, deque[float]] = {}     # by last failure, oldest first

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: now)."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        now = self.clock()
        _expire(failures, now - self.window)
        if not failures:
            del self._failures[key]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        return max(0.0, failures[0] + self.window - now)

    def failed(self, key: str) -> None:
        """Count a failure (or a request) of `key` now."""
        now = self.clock()
        failures = self._failures.pop(key, None) or deque()
        _expire(failures, now - self.window)
        failures.append(now)
        self._failures[key] = failures              # now the most recent
        self._sweep(now - self.window)

    def __len__(self) -> int:
        """Keys held: those with a failure in the window (at most `keep`)."""
        return len(self._failures)

    def _sweep(self, cutoff: float) -> None:
        held = self._failures
        while held:
            oldest = next(iter(held))
            if held[oldest][-1] > cutoff and len(held) <= self.keep:
                return
            del held[oldest]


def _expire(failures: deque[float], cutoff: float) -> None:
    while failures and failures[0] <= cutoff:
        failures.popleft()


class RequestRefused(Exception):
    """A callback request over a limit: the field at fault, why, and how long to wait."""

    def __init__(self, field: str, message: str, wait: float) -> None:
        super().__init__(message)
        self.field, self.message, self.wait = field, message, wait


class RequestLimits:
    """Callback requests: per phone number and per client address, each optional."""

    def __init__(self, per_number: int | None, number_window: float,
                 per_client: int | None, client_window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # None or 0: that limit is off.
        self.numbers = Attempts(per_number, number_window, clock) if per_number else None
        self.clients = Attempts(per_client, client_window, clock) if per_client else None

    def admit(self, phone: str, client: str) -> None:
        """Count this request, or raise `RequestRefused` (and count nothing) if it must wait."""
        if self.clients is not None and (wait := self.clients.wait(client)) > 0:
            raise RequestRefused("body", f"too many callback requests from this address: "
                                 f"try again in {retry_after(wait)} s", wait)
        if self.numbers is not None and (wait := self.numbers.wait(phone)) > 0:
            raise RequestRefused("phone", f"this number was asked to be called back too often: "
                                 f"try again in {_minutes(wait)}", wait)
        if self.clients is not None:
            self.clients.failed(client)
        if self.numbers is not None:
            self.numbers.failed(phone)


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def retry_after(seconds: float) -> str:
    """A Retry-After header's value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))
