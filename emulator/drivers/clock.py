"""The two clocks of `models.clock.Clock`: simulated time and real time.

`SimClock` schedules on a SimPy environment (simulated time); `LoopClock` on
an asyncio loop (real time, with the runtime's idle skips).
"""

from __future__ import annotations

import asyncio
from functools import partial
from heapq import heappop, heappush
from typing import Any, Callable, ClassVar, Iterator

import simpy
from simpy.events import NORMAL


class SimClock:
    """Simulated time: steps pushed straight onto a SimPy environment's queue."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        # SimPy's queue and id counter are made once with the environment: held here,
        # they cost no attribute lookup on it per step.
        self._queue: list[Any] = env._queue
        self._eid: Iterator[int] = env._eid
        # Bound once, and to the attribute behind SimPy's `now` property: no Python
        # frame at all (the models read the time some twenty times a callback).
        self.now: Callable[[], float] = partial(getattr, env, "_now")

    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """Call `action(*args)` after `delay` simulated seconds."""
        # The hottest path of a load run (a dozen steps per callback): a `Step`
        # pushed as `Environment.schedule` would push an event.
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        step = Step(action, args)
        heappush(self._queue, (self.env._now + delay, NORMAL, next(self._eid), step))

    def events_scheduled(self) -> int:
        """How many events went on the environment's queue so far, SimPy's and ours
        (every entry takes the next number of SimPy's event-id counter)."""
        return next(self._eid) - 1          # peeking takes one

    def run(self) -> None:
        """`env.run()` until nothing is left, firing our own steps inline.

        Steps are three quarters of a load run's events; SimPy's `step` spends
        two Python frames on each (its own and `_fire`). Everything else
        (processes, timeouts) still goes through `Environment.step`.
        """
        env = self.env
        queue, step = self._queue, env.step
        while queue:
            entry = queue[0]
            item = entry[3]
            if item.__class__ is Step:
                heappop(queue)
                env._now = entry[0]
                item.action(*item.args)        # compiled: a C struct's fields, no lookup
            else:
                step()


class Step:
    """One scheduled call on SimPy's queue, as small as its loop allows.

    `Environment.step` reads only `callbacks` (iterated, then set to None) and
    `_ok` of what it pops, so a `Timeout` (an __init__ and a `schedule` frame
    more) is not needed. This leans on SimPy 4's queue entries, `(time,
    priority, id, event)`: `tests/test_engine.py` checks the order they give.
    Compiled, it is a C struct made without a Python frame.
    """

    __slots__ = ("callbacks", "action", "args")
    _ok: ClassVar[bool] = True

    def __init__(self, action: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.callbacks: tuple[Callable[[Step], None], ...] | None = _FIRE
        self.action = action
        self.args = args


def _fire(step: Step) -> None:
    step.action(*step.args)


_FIRE = (_fire,)


class LoopClock:
    """Real time on an asyncio loop; `now` is the runtime's (idle skips included)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, now: Callable[[], float]) -> None:
        self.loop = loop
        self._now = now

    def now(self) -> float:
        """The runtime's seconds."""
        return self._now()

    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """Call `action(*args)` after `delay` real seconds."""
        self.loop.call_later(delay, action, *args)
