"""The metrics of one run, from its collector and levels (the names of `catalogue`)."""

from __future__ import annotations

from typing import Iterable, Mapping

from reference_impl.flow import Outcome
from reference_impl.records import CallbackRecord

from .catalogue import QUALITY, metric_names, percentile, split
from .collector import COLLECTED, Collector
from .levels import Levels
from .series import Series, SignedSeries


def compute(collector: Collector, levels: Levels, end: float,
            extra: Iterable[str] = ()) -> dict[str, float | None]:
    """Every metric of `metric_names()`, then the `extra` percentiles asked for
    (`time_to_agent.p80`); None where there is nothing to measure."""
    values: dict[str, float | None] = {name: None for name in metric_names()}
    for name in COLLECTED:
        values.update(_series(name, collector.series[name]))
    values.update(_series("room_wait", levels.room_wait))
    for name in QUALITY:                   # measured only when the scenario has a network
        if name in collector.series:
            values.update(_series(name, collector.series[name]))
    for outcome in Outcome:
        values[f"outcomes.{outcome.value}"] = collector.fraction(outcome)
    values["rooms_refused"] = collector.refused / collector.bridged if collector.bridged else None
    values["queued"] = collector.queued / collector.callbacks if collector.callbacks else None
    values["service_level"] = collector.in_time / collector.answered if collector.answered else None
    values["concurrent_rooms.max"] = float(levels.rooms.peak)
    values["concurrent_rooms.mean"] = levels.rooms.mean(end)
    if levels.on_duty is None:
        values["agent_occupancy.max"] = levels.agents.peak / levels.terminals
        values["agent_occupancy.mean"] = levels.agents.mean(end, levels.terminals)
    else:                                  # shifts: the share of the agents then on duty
        values.update(_staffed_occupancy(levels, end))
    values["trunk_occupancy.max"] = levels.trunks.peak / levels.trunk_capacity
    values["trunk_occupancy.mean"] = levels.trunks.mean(end, levels.trunk_capacity)
    values["room_egress.max"] = levels.egress.peak / 1e6
    values["room_egress.mean"] = levels.egress.mean(end, 1e6)
    for name in extra:
        if name not in values:
            values[name] = _percentile(name, collector, levels)
    return values


def _staffed_occupancy(levels: Levels, end: float) -> dict[str, float | None]:
    """Agent occupancy under shifts: busy time over on-duty time; the peak over the most on duty."""
    duty = levels.on_duty
    assert duty is not None
    staffed = duty.mean(end)
    return {"agent_occupancy.mean": levels.agents.mean(end) / staffed if staffed > 0 else None,
            "agent_occupancy.max": levels.agents.peak / duty.peak if duty.peak > 0 else None}


def _percentile(name: str, collector: Collector, levels: Levels) -> float | None:
    """A percentile no table shows by default (`.p80`, `.p99.9`) of a series."""
    base, _, suffix = split(name)
    q = percentile(suffix)
    series = levels.room_wait if base == "room_wait" else collector.series.get(base)
    if q is None or series is None or not series.count:
        return None
    return series.quantiles([q])[0]


def _series(name: str, series: Series | SignedSeries) -> dict[str, float | None]:
    values: dict[str, float | None] = {f"{name}.count": float(series.count)}
    if series.count:
        p50, p95, p99 = series.quantiles([50, 95, 99])
        values.update({f"{name}.p50": p50, f"{name}.p95": p95, f"{name}.p99": p99,
                       f"{name}.mean": series.mean, f"{name}.max": series.peak})
    return values


def outcome_counts(records: Iterable[CallbackRecord]) -> Mapping[str, int]:
    """How many records ended with each outcome ("live" for those still under way)."""
    counts: dict[str, int] = {}
    for record in records:
        key = record.outcome or "live"
        counts[key] = counts.get(key, 0) + 1
    return counts
