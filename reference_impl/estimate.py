"""The estimated wait: a queued or scheduled callback's position, and when an advisor is
on the line, from the live system.

`WaitEstimator` watches the switchboard: who waits on hold at each centre and
in what order, how many agents each centre has on duty (its desk phones, or
fewer under shifts), and the recent handling
times (an agent's answer to the end of the call, averaged with more weight on
the latest). For the k-th caller on hold at a centre of n agents on duty whose
calls last h on average, the wait is about k·h/n (the queue moves one place each
time an agent frees); a scheduled callback waits until its call is due, plus
the usual time from dialling to an agent answering.

Each callback's first estimate (when it joins a queue or is scheduled) is kept
until an agent answers it; `on_error` is then told the error, what happened
minus what was estimated (the emulator's `ewt_error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from . import flow as f
from . import frozen
from .records import CallbackRecord

PRIOR_HANDLE = 180.0        # s: a handling time to start from, until calls have been seen
WEIGHT = 0.1                # of the latest call in the running mean


@dataclass(frozen=True, slots=True)
class Wait(frozen.Pickled):
    """A callback's place and its estimated wait until an advisor answers, in seconds."""

    position: int | None          # 1 = next; None when it waits for a time, not a place
    seconds: float
    centre: str | None = None


class WaitEstimator:
    """A switchboard observer that estimates waits (see the module)."""

    events_watched = (f.LegAnswered, f.TerminalSeized)
    commands_watched = (f.AwaitTerminal, f.LeaveQueue, f.Dial, f.StartTimer)

    def __init__(self, desks: Mapping[str, int], prior: float = PRIOR_HANDLE,
                 on_error: Callable[[str, float, float], None] | None = None,
                 on_duty: Callable[[str], int] | None = None) -> None:
        """`desks`: centre -> its desk phones; `on_duty(centre)`: the agents on duty now
        (the switchboard's, which shifts change; None: every desk phone); `on_error(callback,
        error, now)`: told each first estimate's error once an agent answers."""
        self.desks = dict(desks)
        self.on_duty = on_duty
        self.on_error = on_error
        self._first: dict[str, tuple[float, float]] = {}   # callback -> (made at, wait)
        self.prior = prior
        self.handle = {centre: prior for centre in desks}
        self.reach = 20.0                            # s from dialling to an agent answering
        self._holding: dict[str, dict[str, None]] = {centre: {} for centre in desks}
        self._answered: dict[str, tuple[str, float]] = {}   # callback -> (centre, when)
        self._dialled: dict[str, float] = {}
        self._centre_of: dict[str, str] = {}         # desk phone -> centre, as dialled

    # -- the Observer protocol -----------------------------------------------

    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        """Track who enters and leaves each centre's queue, and when the person is dialled."""
        kind = command.__class__
        if kind is f.AwaitTerminal:
            self._holding.setdefault(command.centre, {})[callback_id] = None   # type: ignore[attr-defined]
            self._keep_first(callback_id, self.queued(callback_id), now)
        elif kind is f.StartTimer:
            if command.timer == f.DIAL_TIMER:                                  # type: ignore[attr-defined]
                self._keep_first(callback_id, self.scheduled(command.delay), now)  # type: ignore[attr-defined]
        elif kind is f.LeaveQueue:
            self._holding.get(command.centre, {}).pop(callback_id, None)       # type: ignore[attr-defined]
        elif f.role_of(command.leg) is f.Role.PERSON:                          # type: ignore[attr-defined]
            self._dialled[callback_id] = now

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """A terminal taken from the queue, or an agent answering."""
        if event.__class__ is f.TerminalSeized:
            for waiting in self._holding.values():
                waiting.pop(callback_id, None)
            return
        if f.role_of(event.leg) is f.Role.AGENT:                               # type: ignore[attr-defined]
            dialled = self._dialled.pop(callback_id, None)
            if dialled is not None:
                self.reach += WEIGHT * ((now - dialled) - self.reach)
            self._answered[callback_id] = ("", now)
            first = self._first.pop(callback_id, None)
            if first is not None and self.on_error is not None:
                self.on_error(callback_id, (now - first[0]) - first[1], now)

    def closed(self, record: CallbackRecord) -> None:
        """An ended call: its handling time counts in its centre's mean."""
        self._dialled.pop(record.id, None)
        self._first.pop(record.id, None)
        answered = self._answered.pop(record.id, None)
        for waiting in self._holding.values():
            waiting.pop(record.id, None)
        ended = record.times.get("ended")
        if answered is None or ended is None or record.centre not in self.handle:
            return
        centre = record.centre
        self.handle[centre] += WEIGHT * ((ended - answered[1]) - self.handle[centre])

    # -- the estimate --------------------------------------------------------

    def queued(self, callback_id: str) -> Wait | None:
        """The place and wait of a callback on hold at a centre; None if it is not."""
        for centre, waiting in self._holding.items():
            if callback_id in waiting:
                position = list(waiting).index(callback_id) + 1
                agents = self.on_duty(centre) if self.on_duty else self.desks.get(centre, 1)
                handle = self.handle.get(centre, self.prior)
                # Nobody on duty: a wait counted as if one agent were (the next shift's
                # start is not the estimator's to know).
                return Wait(position, position * handle / max(1, agents), centre)
        return None

    def scheduled(self, due_in: float) -> Wait:
        """The wait of a callback whose next call is due in `due_in` seconds."""
        return Wait(None, max(0.0, due_in) + self.reach)

    def _keep_first(self, callback_id: str, wait: Wait | None, now: float) -> None:
        if wait is not None and callback_id not in self._first:
            self._first[callback_id] = (now, wait.seconds)

    def wait_of(self, callback_id: str, due_in: float | None) -> Wait | None:
        """A live callback's wait: on hold (its place), or due in `due_in` s; else None."""
        queued = self.queued(callback_id)
        if queued is not None:
            return queued
        return None if due_in is None else self.scheduled(due_in)
