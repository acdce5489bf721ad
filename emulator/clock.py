"""One small interface to time, so room servers and agents run in either domain.

`SimClock` schedules on a SimPy environment (simulated time); `LoopClock` on
an asyncio loop (real time, with the runtime's idle skips).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Protocol

import simpy
from simpy.events import Timeout


class Clock(Protocol):
    def now(self) -> float: ...
    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """Call `action(*args)` after `delay` seconds."""


class SimClock:
    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def now(self) -> float:
        return float(self.env.now)

    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        # The hottest path of a load run: a bare Timeout carrying the call as its
        # value, fired by one shared function (no closure made per step).
        Timeout(self.env, delay, (action, args)).callbacks.append(_fire)


def _fire(timeout: simpy.Event) -> None:
    # `_value`, not the `value` property: it has fired, and this runs for every step.
    action, args = timeout._value
    action(*args)


class LoopClock:
    def __init__(self, loop: asyncio.AbstractEventLoop, now: Callable[[], float]) -> None:
        self.loop = loop
        self._now = now

    def now(self) -> float:
        return self._now()

    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        self.loop.call_later(delay, action, *args)
