"""Levels over time: counts that go up and down (rooms open, legs up), time-weighted.

The models change them as they run; `summary.compute` turns them into the
`.mean` and `.max` metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .series import Series


@dataclass
class Level:
    """A count that changes over time (rooms open, legs up): its max and time-weighted mean."""

    value: int = 0
    peak: int = 0
    _area: float = 0.0
    _since: float = 0.0
    _start: float = 0.0

    def __init__(self, value: int = 0, peak: int = 0, _area: float = 0.0, _since: float = 0.0,
                 _start: float = 0.0) -> None:
        self.value = value
        self.peak = peak
        self._area = _area
        self._since = _since
        self._start = _start

    def restart(self, now: float) -> None:
        """Forget the past (the end of a warm-up): means and peaks count from now."""
        self._area, self._since, self._start, self.peak = 0.0, now, now, self.value

    def change(self, now: float, delta: int) -> None:
        """Move the count by `delta` at `now`, after adding the time spent at the old count."""
        self._area += self.value * (now - self._since)
        self._since = now
        self.value += delta
        if self.value > self.peak:
            self.peak = self.value

    def mean(self, end: float, capacity: float = 1.0) -> float:
        """The time-weighted mean since the start (or restart), as a fraction of `capacity`."""
        area = self._area + self.value * (end - self._since)
        span = end - self._start
        return area / (span * capacity) if span > 0 else 0.0


@dataclass
class Levels:
    """The time-weighted counters the emulator keeps while it runs."""

    rooms: Level = field(default_factory=Level)
    agents: Level = field(default_factory=Level)     # agent legs ringing or talking
    trunks: Level = field(default_factory=Level)
    egress: Level = field(default_factory=Level)     # room servers' reserved egress, bit/s
    room_wait: Series = field(default_factory=Series)
    on_duty: Level | None = None       # agents on duty, with shifts (None: every phone staffed)
    terminals: int = 1
    trunk_capacity: int = 1

    def __init__(self, rooms: Level | None = None, agents: Level | None = None,
                 trunks: Level | None = None, egress: Level | None = None,
                 room_wait: Series | None = None, on_duty: Level | None = None,
                 terminals: int = 1, trunk_capacity: int = 1) -> None:
        self.rooms = Level() if rooms is None else rooms
        self.agents = Level() if agents is None else agents
        self.trunks = Level() if trunks is None else trunks
        self.egress = Level() if egress is None else egress
        self.room_wait = Series() if room_wait is None else room_wait
        self.on_duty = on_duty
        self.terminals = terminals
        self.trunk_capacity = trunk_capacity
