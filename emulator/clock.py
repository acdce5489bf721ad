"""One small interface to time, so room servers and agents run in either domain.

`SimClock` schedules on a SimPy environment (simulated time); `LoopClock` on
an asyncio loop (real time, with the runtime's idle skips).
"""

from __future__ import annotations

import asyncio
from typing import Callable, Protocol

import simpy
from simpy.events import Timeout


class Clock(Protocol):
    def now(self) -> float: ...
    def later(self, delay: float, action: Callable[[], None]) -> None: ...


class SimClock:
    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def now(self) -> float:
        return float(self.env.now)

    def later(self, delay: float, action: Callable[[], None]) -> None:
        # A bare Timeout (not env.timeout) saves a call on the hottest path of a run.
        Timeout(self.env, delay).callbacks.append(lambda _: action())


class LoopClock:
    def __init__(self, loop: asyncio.AbstractEventLoop, now: Callable[[], float]) -> None:
        self.loop = loop
        self._now = now

    def now(self) -> float:
        return self._now()

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self.loop.call_later(delay, action)
