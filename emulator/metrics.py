"""Metrics of SCENARIOS.md from the records of finished callbacks.

Stage latencies come from the stage times of each record; levels (rooms open,
agents busy) from the emulator's time-weighted counters. Names and suffixes
here are the contract used by `expect`, the table and `--json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from reference_impl.flow import Outcome
from reference_impl.records import CallbackRecord

from .stats import STAGES, Collector, Series

SERIES = (*STAGES, "failovers")
ROOM_SERIES = ("room_wait",)      # measured by the room servers: a room asked for -> a server took it
# Quality metrics of the network model (emulator/network/): None without `network:`.
# `video_first_frame` is ours (not in SCENARIOS.md): the network's share of
# `video_startup`, without the wait for the agent to type the code.
QUALITY = ("video_startup", "video_first_frame", "video_stall_ratio", "video_bitrate",
           "chat_latency", "document_delivery", "person_upload")
SERIES_SUFFIXES = ("p50", "p95", "p99", "mean", "max", "count")
LEVELS = ("concurrent_rooms", "agent_occupancy", "trunk_occupancy",
          "room_egress")                   # egress reserved on all room servers, Mbit/s
LEVEL_SUFFIXES = ("mean", "max")
FRACTIONS = ("rooms_refused", "queued", *(f"outcomes.{o.value}" for o in Outcome))


def metric_names() -> list[str]:
    """Every metric name with its suffixes, in table order."""
    names = [f"{s}.{x}" for s in (*SERIES, *ROOM_SERIES, *QUALITY) for x in SERIES_SUFFIXES]
    names += [f"{level}.{x}" for level in LEVELS for x in LEVEL_SUFFIXES]
    return names + list(FRACTIONS)


def check_metric_name(name: str) -> tuple[str, str] | None:
    """None if `name` is a metric; else the problem and a hint."""
    if name in metric_names():
        return None
    base, _, suffix = name.rpartition(".")
    if base in (*SERIES, *ROOM_SERIES, *QUALITY):
        return f"unknown suffix {suffix!r} for {base}", f"use one of {', '.join(SERIES_SUFFIXES)}"
    if base in LEVELS:
        return f"unknown suffix {suffix!r} for {base}", f"use one of {', '.join(LEVEL_SUFFIXES)}"
    if name in (*SERIES, *ROOM_SERIES, *QUALITY, *LEVELS):
        return f"{name} needs a suffix", f"e.g. {name}.p95 or {name}.mean"
    if name.startswith("outcomes."):
        return (f"unknown outcome {name.removeprefix('outcomes.')!r}",
                f"outcomes are {', '.join(o.value for o in Outcome)}")
    import difflib
    close = difflib.get_close_matches(name, metric_names(), n=1)
    return f"unknown metric {name!r}", (f"did you mean {close[0]!r}?" if close
                                        else "SCENARIOS.md lists the metrics")


@dataclass
class Level:
    """A count that changes over time (rooms open, legs up): its max and time-weighted mean."""

    value: int = 0
    peak: int = 0
    _area: float = 0.0
    _since: float = 0.0
    _start: float = 0.0

    def restart(self, now: float) -> None:
        """Forget the past (the end of a warm-up): means and peaks count from now."""
        self._area, self._since, self._start, self.peak = 0.0, now, now, self.value

    def change(self, now: float, delta: int) -> None:
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
    terminals: int = 1
    trunk_capacity: int = 1


def compute(collector: Collector, levels: Levels, end: float) -> dict[str, float | None]:
    """Every metric of `metric_names()`; None where there is nothing to measure."""
    values: dict[str, float | None] = {name: None for name in metric_names()}
    for name in SERIES:
        values.update(_series(name, collector.series[name]))
    values.update(_series("room_wait", levels.room_wait))
    for name in QUALITY:                   # measured only when the scenario has a network
        if name in collector.series:
            values.update(_series(name, collector.series[name]))
    for outcome in Outcome:
        values[f"outcomes.{outcome.value}"] = collector.fraction(outcome)
    values["rooms_refused"] = collector.refused / collector.bridged if collector.bridged else None
    values["queued"] = collector.queued / collector.callbacks if collector.callbacks else None
    values["concurrent_rooms.max"] = float(levels.rooms.peak)
    values["concurrent_rooms.mean"] = levels.rooms.mean(end)
    values["agent_occupancy.max"] = levels.agents.peak / levels.terminals
    values["agent_occupancy.mean"] = levels.agents.mean(end, levels.terminals)
    values["trunk_occupancy.max"] = levels.trunks.peak / levels.trunk_capacity
    values["trunk_occupancy.mean"] = levels.trunks.mean(end, levels.trunk_capacity)
    values["room_egress.max"] = levels.egress.peak / 1e6
    values["room_egress.mean"] = levels.egress.mean(end, 1e6)
    return values


def _series(name: str, series: Series) -> dict[str, float | None]:
    values: dict[str, float | None] = {f"{name}.count": float(series.count)}
    if series.count:
        p50, p95, p99 = series.quantiles([50, 95, 99])
        values.update({f"{name}.p50": p50, f"{name}.p95": p95, f"{name}.p99": p99,
                       f"{name}.mean": series.mean, f"{name}.max": series.peak})
    return values


def outcome_counts(records: Iterable[CallbackRecord]) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        key = record.outcome or "live"
        counts[key] = counts.get(key, 0) + 1
    return counts
