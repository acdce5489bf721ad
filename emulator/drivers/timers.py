"""The flow's timers in simulated time: each a step on the SimPy queue."""

from __future__ import annotations

from itertools import count

from reference_impl import flow as f
from reference_impl.ports import Deliver

from .clock import SimClock


class SimTimers:
    """Timers as scheduled steps; a cancelled one fires into nothing."""

    def __init__(self, clock: SimClock, deliver: Deliver) -> None:
        self.clock = clock
        self.deliver = deliver
        self._live: dict[tuple[str, str], int] = {}
        self._starts = count()

    def start(self, callback_id: str, timer: str, delay: float) -> None:
        """Fire `timer` after `delay`; a restart makes the old step fire into nothing."""
        # Each start has its own number: a restarted timer's old step finds another.
        key, start = (callback_id, timer), next(self._starts)
        self._live[key] = start
        self.clock.later(delay, self._fire, key, start)

    def _fire(self, key: tuple[str, str], start: int) -> None:
        if self._live.get(key) == start:
            del self._live[key]
            self.deliver(key[0], f.TimerFired(timer=key[1]))

    def cancel(self, callback_id: str, timer: str) -> None:
        """Forget `timer`: its step, when it comes, finds nothing."""
        self._live.pop((callback_id, timer), None)

    @property
    def live(self) -> int:
        """Timers running now."""
        return len(self._live)
