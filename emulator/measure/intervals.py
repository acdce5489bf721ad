"""Results per interval of the day (`--interval 30min`), for each centre.

A run that asks for them gets an `IntervalStats`: a switchboard observer
that tallies every finished callback in the interval of its request (the
arrivals) and in the interval the person answered (service level, waits,
abandonment: that is when they start waiting for an agent), each under the
centre its service tries first (the centre's own callers, wherever failover
took them); and two time-weighted levels per centre, kept per interval: the
agents on duty and the agents busy (their desk phone ringing or talking).
A run that asks for none pays nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .series import Series

ALL = "all"          # the row of every centre together


class Buckets:
    """A count that goes up and down, with the time spent at each value summed per interval."""

    __slots__ = ("interval", "value", "_since", "areas")

    def __init__(self, interval: float, value: int = 0) -> None:
        self.interval = interval
        self.value = value
        self._since = 0.0
        self.areas: dict[int, float] = {}

    def change(self, now: float, delta: int) -> None:
        """Move the count by `delta` at `now`."""
        self._settle(now)
        self.value += delta

    def set(self, now: float, value: int) -> None:
        """Set the count to `value` at `now`."""
        self._settle(now)
        self.value = value

    def _settle(self, now: float) -> None:
        """Add the time since the last change, split at interval boundaries."""
        value, start = self.value, self._since
        self._since = now
        if not value or now <= start:
            return
        interval, areas = self.interval, self.areas
        index = int(start // interval)
        while start < now:
            stop = min(now, (index + 1) * interval)
            areas[index] = areas.get(index, 0.0) + value * (stop - start)
            start, index = stop, index + 1

    def means(self, intervals: int) -> list[float]:
        """The time-weighted mean of each of the first `intervals` intervals."""
        self._settle(max(self._since, intervals * self.interval))
        return [self.areas.get(i, 0.0) / self.interval for i in range(intervals)]


@dataclass(slots=True)
class Tally:
    """What one centre's callers did in one interval."""

    arrivals: int = 0           # requests made in the interval
    answered: int = 0           # people who answered in the interval
    in_time: int = 0            # ... and reached an agent within sla.within
    abandoned: int = 0          # ... and hung up before an agent answered
    waits: Series = field(default_factory=Series)   # answered -> an agent answered


class IntervalStats:
    """A switchboard observer: each centre's callers and agents, interval by interval."""

    def __init__(self, interval: float, within: float, home: Mapping[str, str],
                 phones: Mapping[str, int]) -> None:
        """`home`: service -> the centre it tries first; `phones`: centre -> desk phones,
        the agents on duty of a centre without shifts."""
        self.interval = interval
        self.within = within
        self.home = home
        self.tallies: dict[tuple[str, int], Tally] = {}
        self.on_duty = {centre: Buckets(interval, n) for centre, n in phones.items()}
        self.busy = {centre: Buckets(interval) for centre in phones}

    def closed(self, record: Any) -> None:
        """Tally a finished callback under its service's first centre."""
        centre = self.home.get(record.service_code)
        if centre is None:
            return
        times = record.times
        self._tally(centre, times.get("requested", 0.0)).arrivals += 1
        answered = times.get("person_answered")
        if answered is None:
            return
        tally = self._tally(centre, answered)
        tally.answered += 1
        reached = times.get("agent_answered")
        if reached is not None:
            tally.waits.add(reached - answered)
            tally.in_time += reached - answered <= self.within
        elif record.outcome == "person_abandoned":
            tally.abandoned += 1

    def _tally(self, centre: str, at: float) -> Tally:
        key = (centre, int(at // self.interval))
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = Tally()
        return tally

    def values(self, duration: float) -> dict[str, list[dict[str, float | None]]]:
        """Centre (and `all`) -> one row per interval of [0, duration): arrivals, answered,
        service_level, wait_mean, wait_p95, abandoned, on_duty, busy, occupancy."""
        count = max(1, -(-int(duration) // int(self.interval)))
        out = {centre: self._rows(centre, count) for centre in self.on_duty}
        out[ALL] = _total(list(out.values()), count)
        return out

    def _rows(self, centre: str, count: int) -> list[dict[str, float | None]]:
        duty, busy = self.on_duty[centre].means(count), self.busy[centre].means(count)
        rows = []
        for index in range(count):
            tally = self.tallies.get((centre, index)) or Tally()
            rows.append({**_callers(tally), "on_duty": duty[index], "busy": busy[index],
                         "occupancy": busy[index] / duty[index] if duty[index] > 0 else None})
        return rows


def _callers(tally: Tally) -> dict[str, float | None]:
    """An interval's callers: counts, and shares of those who answered."""
    answered, waits = tally.answered, tally.waits
    return {"arrivals": float(tally.arrivals), "answered": float(answered),
            "service_level": tally.in_time / answered if answered else None,
            "abandoned": tally.abandoned / answered if answered else None,
            "wait_mean": waits.mean if waits.count else None,
            "wait_p95": waits.quantiles([95])[0] if waits.count else None,
            "_in_time": float(tally.in_time), "_abandoned": float(tally.abandoned),
            "_waits": waits}     # type: ignore[dict-item]   # pooled for the `all` row, then dropped


def _total(centres: list[list[dict[str, Any]]], count: int) -> list[dict[str, float | None]]:
    """Every centre together, interval by interval."""
    rows = []
    for index in range(count):
        parts = [rows_[index] for rows_ in centres]
        tally = Tally(arrivals=int(sum(p["arrivals"] for p in parts)),
                      answered=int(sum(p["answered"] for p in parts)),
                      in_time=int(sum(p["_in_time"] for p in parts)),
                      abandoned=int(sum(p["_abandoned"] for p in parts)))
        for part in parts:
            tally.waits.merge(part["_waits"])
        duty, busy = sum(p["on_duty"] for p in parts), sum(p["busy"] for p in parts)
        rows.append({**_callers(tally), "on_duty": duty, "busy": busy,
                     "occupancy": busy / duty if duty > 0 else None})
    for row in (r for rows_ in [*centres, rows] for r in rows_):
        for key in ("_in_time", "_abandoned", "_waits"):
            row.pop(key)
    return rows


FIELDS = ("arrivals", "answered", "service_level", "wait_mean", "wait_p95", "abandoned",
          "on_duty", "busy", "occupancy")


def shown_fields() -> Iterable[str]:
    """The fields of an interval's row, in the order tables show them."""
    return FIELDS
