"""The asyncio driver of the call flow: real time, real ports. No flow logic here.

The flow's timers become `loop.call_later` handles; ports that live in other
threads (the sippy reactor) report through `deliver_threadsafe`. Everything
the flow does is decided by `Switchboard` and `flow.Callback`, as in the
emulator's simulated time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Iterable

from . import flow as f
from .codes import CodePool
from .directory import Directory
from .ports import Deliver, Notifier, Rooms, Telephony
from .records import RecordStore
from .flow import CallbackPolicy
from .switchboard import Calendar
from .wiring import wire


class LoopTimers:
    """The flow's timers on an asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Deliver) -> None:
        self.loop = loop
        self.deliver = deliver
        self._handles: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def start(self, callback_id: str, timer: str, delay: float) -> None:
        """Fire `timer` after `delay` seconds, replacing one of the same name."""
        key = (callback_id, timer)
        self.cancel(callback_id, timer)
        self._handles[key] = self.loop.call_later(delay, self._fire, key)

    def cancel(self, callback_id: str, timer: str) -> None:
        """Forget `timer`, if it runs."""
        handle = self._handles.pop((callback_id, timer), None)
        if handle is not None:
            handle.cancel()

    def _fire(self, key: tuple[str, str]) -> None:
        if self._handles.pop(key, None) is not None:
            self.deliver(key[0], f.TimerFired(timer=key[1]))

    @property
    def live(self) -> int:
        """Timers running now."""
        return len(self._handles)

    def next_due(self) -> float | None:
        """The loop time the next timer fires at; None if none runs."""
        return min((h.when() for h in self._handles.values()), default=None)

    def hurry(self, seconds: float) -> None:
        """Every timer fires `seconds` sooner: a replay skipping idle time (`Runtime.skip`)
        keeps the timers where the flow's clock expects them."""
        for key, handle in list(self._handles.items()):
            handle.cancel()
            self._handles[key] = self.loop.call_at(handle.when() - seconds, self._fire, key)


class Runtime:
    """One switchboard driven by an asyncio loop.

    `telephony` and `rooms` are built by factories that receive the runtime,
    for its clock and its `deliver` / `deliver_threadsafe`.
    """

    def __init__(self, *, directory: Directory, codes: CodePool,
                 telephony: Callable[["Runtime"], Telephony],
                 rooms: Callable[["Runtime"], Rooms],
                 notifier: Notifier, records: RecordStore | None = None,
                 person_ring_timeout: float = 30.0, caller_id: str = "",
                 observers: Iterable[object] = (), save_every_step: bool = False,
                 loop: asyncio.AbstractEventLoop | None = None,
                 policy: CallbackPolicy | None = None, calendar: Calendar | None = None,
                 dedupe: bool = False) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self._t0 = self.loop.time()
        self.skipped = 0.0                  # idle time jumped over (see `skip`)
        self.accepting = True               # False while draining: requests get a 503
        self.timers = LoopTimers(self.loop, self.deliver)
        self.telephony = telephony(self)
        self.rooms = rooms(self)
        self.notifier = notifier
        self.switchboard = wire(
            directory=directory, codes=codes, clock=self.now,
            telephony=lambda _: self.telephony, rooms=lambda _: self.rooms,
            timers=lambda _: self.timers, notifier=notifier, records=records,
            person_ring_timeout=person_ring_timeout, caller_id=caller_id,
            observers=observers, save_every_step=save_every_step, policy=policy,
            calendar=calendar, dedupe=dedupe)
        self.switchboard.epoch = time.time() - self.now()

    def now(self) -> float:
        """Seconds since the runtime started, idle skips included."""
        return self.loop.time() - self._t0 + self.skipped

    def skip(self, seconds: float) -> None:
        """Count idle time as passed without waiting for it (replays of scenarios)."""
        self.skipped += seconds

    def deliver(self, callback_id: str, event: f.Event) -> None:
        """Feed an event to a callback's flow (from the loop's own thread)."""
        self.switchboard.deliver(callback_id, event)

    def deliver_threadsafe(self, callback_id: str, event: f.Event) -> None:
        """The same from another thread (the sippy reactor's)."""
        self.loop.call_soon_threadsafe(self.switchboard.deliver, callback_id, event)
