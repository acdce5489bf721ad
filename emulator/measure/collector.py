"""The switchboard observer that streams each finished callback into statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference_impl.flow import Outcome
from reference_impl.records import CallbackRecord

from .catalogue import STAGES
from .series import Series, SignedSeries

# The series a collector fills from records: every stage, and failovers.
COLLECTED = (*STAGES, "failovers", "attempts", "retry_wait", "scheduled_wait", "ewt_error")


@dataclass
class Interval:
    """What happened to callbacks requested in one interval of the run."""

    created: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    latency_total: float = 0.0
    latency_count: int = 0

    def __init__(self, created: int = 0, outcomes: dict[str, int] | None = None,
                 latency_total: float = 0.0, latency_count: int = 0) -> None:
        self.created = created
        self.outcomes = {} if outcomes is None else outcomes
        self.latency_total = latency_total
        self.latency_count = latency_count


class Collector:
    """A switchboard observer that streams finished callbacks into statistics."""

    def __init__(self, warmup: float = 0.0, interval: float = 0.0, within: float = 20.0) -> None:
        """`within`: the service level's threshold (sla.within)."""
        self.warmup = warmup
        self.interval = interval
        self.within = within
        self.answered = 0          # people who answered the call...
        self.in_time = 0           # ... and reached an agent within `within`
        self.series: dict[str, Series | SignedSeries] = {name: Series() for name in COLLECTED}
        self.series["ewt_error"] = SignedSeries()   # an estimate is early or late
        self.outcomes: dict[str, int] = {}
        self.callbacks = 0
        self.bridged = 0
        self.refused = 0
        self.queued = 0
        self.intervals: dict[int, Interval] = {}
        # (series, start, stop) of each stage, looked up once: this runs per callback.
        self._stages = [(self.series[s.name], s.start, s.stop) for s in STAGES.values()]

    def closed(self, record: CallbackRecord) -> None:
        """Count a finished callback (unless it was requested during the warm-up)."""
        times = record.times
        requested = times.get("requested", 0.0)
        if requested < self.warmup:
            return
        self.callbacks += 1
        outcome = record.outcome or "live"
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        for series, start, stop in self._stages:
            if stop in times and start in times:
                series.add(times[stop] - times[start])
        if record.centre is not None:
            self.series["failovers"].add(float(record.failovers))
        answered = times.get("person_answered")
        if answered is not None:
            self.answered += 1
            reached = times.get("agent_answered")
            if reached is not None and reached - answered <= self.within:
                self.in_time += 1
        attempts = record.attempts
        self.series["attempts"].add(float(len(attempts)))
        if len(attempts) > 1:
            waits = self.series["retry_wait"]
            for before, after in zip(attempts, attempts[1:]):
                waits.add(after.dialled - (before.ended if before.ended is not None
                                           else before.dialled))
        if "scheduled" in times and attempts:
            self.series["scheduled_wait"].add(attempts[0].dialled - requested)
        if "bridged" in times:
            self.bridged += 1
            self.refused += record.room_refused
        if "queued" in times:
            self.queued += 1
        if self.interval > 0:
            self._count(int(requested // self.interval), outcome, times)

    def estimate_error(self, callback_id: str, error: float, now: float) -> None:
        """An estimated wait's error once an agent answered (a `WaitEstimator`'s
        `on_error`): counted unless it came during the warm-up."""
        if now >= self.warmup:
            self.series["ewt_error"].add(error)

    def _count(self, index: int, outcome: str, times: Any) -> None:
        bucket = self.intervals.get(index)
        if bucket is None:
            bucket = self.intervals[index] = Interval()
        bucket.created += 1
        bucket.outcomes[outcome] = bucket.outcomes.get(outcome, 0) + 1
        if "bridged" in times:
            bucket.latency_total += times["bridged"] - times["requested"]
            bucket.latency_count += 1

    def fraction(self, outcome: Outcome) -> float | None:
        """The share of counted callbacks that ended with `outcome`."""
        return self.outcomes.get(outcome.value, 0) / self.callbacks if self.callbacks else None
