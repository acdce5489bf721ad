"""Arrivals: Poisson at a rate constant within each step of a day profile, or
replayed from a file of recorded times.

Each arrival schedules the next one on the clock (a step, not a SimPy
process: a load run has one arrival per callback). Within a step the gaps
are exponential; a gap that would cross the step's end is dropped and drawn
anew from there, at the next step's rate (memorylessness makes this exact).
"""

from __future__ import annotations

from bisect import bisect
from itertools import accumulate
from typing import Callable, Mapping

from dataclasses import dataclass
from typing import Sequence

from reference_impl import frozen

from .clock import Clock
from .streams import Draws

Segment = tuple[float, float, float]        # start, end, rate (per second)


@dataclass(frozen=True, slots=True)
class RecordedArrival(frozen.Pickled):
    """One request of a recorded day (a row of an arrivals file)."""

    at: float                  # seconds from the start of the run
    service: str | None        # None: drawn by the scenario's weights
    person: str | None         # a profile's name; None: the arrivals' own person
    line: int                  # in the file, for messages


def segments(rate: float | None, profile: Sequence[tuple[float, float]] | None,
             duration: float) -> list[Segment]:
    """(start, end, rate) of each constant-rate stretch of [0, duration).

    `profile` is (from, rate) steps of a day; without one, `rate` holds throughout.
    """
    if not profile:
        return [(0.0, duration, rate or 0.0)]
    steps = sorted(profile)
    edges = [0.0] + [t for t, _ in steps if 0.0 < t < duration] + [duration]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        rate = 0.0
        for t, value in steps:
            if t <= lo:
                rate = value
        out.append((lo, hi, rate))
    return out


class ServiceDraw:
    """A service for each arrival, drawn by the scenario's weights."""

    def __init__(self, services: Mapping[str, float], draws: Draws) -> None:
        total = sum(services.values())
        self.draws = draws
        self._names = list(services)
        self._bounds = list(accumulate(w / total for w in services.values()))

    def __call__(self) -> str:
        """The next arrival's service."""
        names = self._names
        return names[min(bisect(self._bounds, self.draws.random()), len(names) - 1)]


class PoissonArrivals:
    """Calls `arrive(service)` at each arrival, the service drawn by its weight."""

    def __init__(self, clock: Clock, segments: Sequence[Segment], services: Mapping[str, float],
                 draws: Draws, arrive: Callable[[str], None]) -> None:
        self.clock = clock
        self.draws = draws
        self.arrive = arrive
        self.segments = list(segments)
        self.service = ServiceDraw(services, draws)

    def start(self) -> None:
        """Schedule the first arrival."""
        self._next(0, 0.0)

    def _next(self, index: int, now: float) -> None:
        """Schedule the first arrival after `now`, in segment `index` or a later one."""
        segments, exponential = self.segments, self.draws.exponential
        while index < len(segments):
            _, end, rate = segments[index]
            if rate > 0:
                at = now + exponential() / rate
                if at < end:
                    self.clock.later(at - self.clock.now(), self._arrival, index, at)
                    return
            index, now = index + 1, end

    def _arrival(self, index: int, at: float) -> None:
        self.arrive(self.service())
        self._next(index, at)


class FileArrivals:
    """Replays a file's arrivals: `arrive(service, person)` at each row's time,
    with the scenario's weights and person where the row leaves them out."""

    def __init__(self, clock: Clock, rows: Sequence[RecordedArrival], services: Mapping[str, float],
                 draws: Draws, arrive: Callable[[str, str | None], None]) -> None:
        """`rows` sorted by time."""
        self.clock = clock
        self.rows = rows
        self.service = ServiceDraw(services, draws)
        self.arrive = arrive

    def start(self) -> None:
        """Schedule the first row's arrival."""
        if self.rows:
            self.clock.later(self.rows[0].at - self.clock.now(), self._arrival, 0)

    def _arrival(self, index: int) -> None:
        row = self.rows[index]
        self.arrive(row.service or self.service(), row.person)
        if index + 1 < len(self.rows):
            self.clock.later(self.rows[index + 1].at - row.at, self._arrival, index + 1)
