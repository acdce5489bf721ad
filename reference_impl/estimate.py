"""The estimated wait: a queued or scheduled callback's position, and when an advisor is
on the line, from the live system.

`WaitEstimator` watches the switchboard: who waits on hold at each centre and
in what order, how many desk phones each centre has, and the recent handling
times (an agent's answer to the end of the call, averaged with more weight on
the latest). For the k-th caller on hold at a centre of n desk phones whose
calls last h on average, the wait is about k·h/n (the queue moves one place each
time a desk phone frees); a scheduled callback waits until its call is due, plus
the usual time from dialling to an agent answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from . import flow as f
from .records import CallbackRecord

PRIOR_HANDLE = 180.0        # s: a handling time to start from, until calls have been seen
WEIGHT = 0.1                # of the latest call in the running mean


@dataclass(frozen=True, slots=True)
class Wait:
    """A callback's place and its estimated wait until an advisor answers, in seconds."""

    position: int | None          # 1 = next; None when it waits for a time, not a place
    seconds: float
    centre: str | None = None


class WaitEstimator:
    """A switchboard observer that estimates waits (see the module)."""

    events_watched = (f.LegAnswered, f.TerminalSeized)
    commands_watched = (f.AwaitTerminal, f.LeaveQueue, f.Dial)

    def __init__(self, desks: Mapping[str, int], prior: float = PRIOR_HANDLE) -> None:
        """`desks`: centre -> its desk phones (the agents on duty)."""
        self.desks = dict(desks)
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

    def closed(self, record: CallbackRecord) -> None:
        """An ended call: its handling time counts in its centre's mean."""
        self._dialled.pop(record.id, None)
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
                desks = max(1, self.desks.get(centre, 1))
                return Wait(position, position * self.handle[centre] / desks, centre)
        return None

    def scheduled(self, due_in: float) -> Wait:
        """The wait of a callback whose next call is due in `due_in` seconds."""
        return Wait(None, max(0.0, due_in) + self.reach)
