"""The two clocks of `models.clock.Clock`: simulated time and real time.

`SimClock` schedules on a SimPy environment (simulated time); `LoopClock` on
an asyncio loop (real time, with the runtime's idle skips).
"""

from __future__ import annotations

import asyncio
from functools import partial
from heapq import heappop, heappush
from typing import Any, Callable

import simpy
from mypy_extensions import mypyc_attr
from simpy.events import NORMAL


class SimClock:
    """Simulated time: steps pushed straight onto a SimPy environment's queue."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        # Bound once, and to the attribute behind SimPy's `now` property: no Python
        # frame at all (the models read the time some twenty times a callback).
        self.now: Callable[[], float] = partial(getattr, env, "_now")

    def later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """Call `action(*args)` after `delay` simulated seconds."""
        # The hottest path of a load run (a dozen steps per callback): a `Step`
        # made without an __init__ frame, pushed as `Environment.schedule` would.
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        env = self.env
        step = _new(Step)
        step.callbacks, step.call = _FIRE, (action, args)
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), step))  # type: ignore[misc]

    def events_scheduled(self) -> int:
        """How many events went on the environment's queue so far, SimPy's and ours
        (every entry takes the next number of SimPy's event-id counter)."""
        return next(self.env._eid) - 1      # type: ignore[attr-defined]  # peeking takes one

    def run(self) -> None:
        """`env.run()` until nothing is left, firing our own steps inline.

        Steps are three quarters of a load run's events; SimPy's `step` spends
        two Python frames on each (its own and `_fire`). Everything else
        (processes, timeouts) still goes through `Environment.step`.
        """
        env = self.env
        queue, step = env._queue, env.step
        while queue:
            entry = queue[0]
            item = entry[3]
            if item.__class__ is Step:
                heappop(queue)
                env._now = entry[0]
                action, args = item.call               # type: ignore[attr-defined]
                action(*args)
            else:
                step()


@mypyc_attr(native_class=False)    # compiled too, it is made without its __init__
class Step:
    """One scheduled call on SimPy's queue, as small as its loop allows.

    `Environment.step` reads only `callbacks` (iterated, then set to None) and
    `_ok` of what it pops, so a `Timeout` (an __init__ and a `schedule` frame
    more) is not needed. This leans on SimPy 4's queue entries, `(time,
    priority, id, event)`: `tests/test_engine.py` checks the order they give.
    """

    __slots__ = ("callbacks", "call")
    _ok = True
    callbacks: tuple[Callable[["Step"], None], ...] | None
    call: tuple[Callable[..., None], tuple[Any, ...]]


def _fire(step: Step) -> None:
    action, args = step.call
    action(*args)


_FIRE = (_fire,)
_new = object.__new__


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
