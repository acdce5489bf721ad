"""Metrics of SCENARIOS.md from the records of finished callbacks.

Stage latencies come from the stage times of each record; levels (rooms open,
agents busy) from the emulator's time-weighted counters. Names and suffixes
here are the contract used by `expect`, the table and `--json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from reference_impl.flow import Outcome
from reference_impl.records import CallbackRecord

# name -> (from stage, to stage) in a record's `times`
STAGES: dict[str, tuple[str, str]] = {
    "time_to_ring": ("requested", "person_ringing"),
    "time_to_person": ("requested", "person_answered"),
    "time_to_agent": ("person_answered", "agent_answered"),
    "callback_latency": ("requested", "bridged"),
    "time_to_room": ("bridged", "person_in_room"),
    "agent_join_delay": ("bridged", "agent_in_room"),
}
SERIES = (*STAGES, "failovers")
# Quality metrics of the network model: named now, measured once links exist.
QUALITY = ("video_startup", "video_stall_ratio", "video_bitrate", "chat_latency",
           "document_delivery", "person_upload")
SERIES_SUFFIXES = ("p50", "p95", "p99", "mean", "max", "count")
LEVELS = ("concurrent_rooms", "agent_occupancy", "trunk_occupancy")
LEVEL_SUFFIXES = ("mean", "max")
FRACTIONS = ("rooms_refused", *(f"outcomes.{o.value}" for o in Outcome))


def metric_names() -> list[str]:
    """Every metric name with its suffixes, in table order."""
    names = [f"{s}.{x}" for s in (*SERIES, *QUALITY) for x in SERIES_SUFFIXES]
    names += [f"{level}.{x}" for level in LEVELS for x in LEVEL_SUFFIXES]
    return names + list(FRACTIONS)


def check_metric_name(name: str) -> tuple[str, str] | None:
    """None if `name` is a metric; else the problem and a hint."""
    if name in metric_names():
        return None
    base, _, suffix = name.rpartition(".")
    if base in (*SERIES, *QUALITY):
        return f"unknown suffix {suffix!r} for {base}", f"use one of {', '.join(SERIES_SUFFIXES)}"
    if base in LEVELS:
        return f"unknown suffix {suffix!r} for {base}", f"use one of {', '.join(LEVEL_SUFFIXES)}"
    if name in (*SERIES, *QUALITY, *LEVELS):
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

    def change(self, now: float, delta: int) -> None:
        self._area += self.value * (now - self._since)
        self._since = now
        self.value += delta
        self.peak = max(self.peak, self.value)

    def mean(self, end: float, capacity: float = 1.0) -> float:
        """The time-weighted mean over [0, end], as a fraction of `capacity`."""
        area = self._area + self.value * (end - self._since)
        return area / (end * capacity) if end > 0 else 0.0


@dataclass
class Levels:
    """The time-weighted counters the emulator keeps while it runs."""

    rooms: Level = field(default_factory=Level)
    agents: Level = field(default_factory=Level)     # agent legs ringing or talking
    trunks: Level = field(default_factory=Level)
    terminals: int = 1
    trunk_capacity: int = 1


def compute(records: Iterable[CallbackRecord], levels: Levels, end: float,
            warmup: float = 0.0) -> dict[str, float | None]:
    """Every metric of `metric_names()`; None where there is nothing to measure."""
    kept = [r for r in records if r.times.get("requested", 0.0) >= warmup]
    values: dict[str, float | None] = {name: None for name in metric_names()}
    for name, (start, stop) in STAGES.items():
        _series(values, name, [r.times[stop] - r.times[start] for r in kept
                               if start in r.times and stop in r.times])
    _series(values, "failovers", [float(r.failovers) for r in kept if r.centre is not None])
    total = len(kept)
    for outcome in Outcome:
        hits = sum(r.outcome == outcome.value for r in kept)
        values[f"outcomes.{outcome.value}"] = hits / total if total else None
    bridged = [r for r in kept if "bridged" in r.times]
    values["rooms_refused"] = (sum(r.room_refused for r in bridged) / len(bridged)
                               if bridged else None)
    values["concurrent_rooms.max"] = float(levels.rooms.peak)
    values["concurrent_rooms.mean"] = levels.rooms.mean(end)
    values["agent_occupancy.max"] = levels.agents.peak / levels.terminals
    values["agent_occupancy.mean"] = levels.agents.mean(end, levels.terminals)
    values["trunk_occupancy.max"] = levels.trunks.peak / levels.trunk_capacity
    values["trunk_occupancy.mean"] = levels.trunks.mean(end, levels.trunk_capacity)
    return values


def _series(values: dict[str, float | None], name: str, samples: list[float]) -> None:
    values[f"{name}.count"] = float(len(samples))
    if not samples:
        return
    data = np.asarray(samples)
    p50, p95, p99 = np.percentile(data, [50, 95, 99])
    values.update({f"{name}.p50": float(p50), f"{name}.p95": float(p95),
                   f"{name}.p99": float(p99), f"{name}.mean": float(data.mean()),
                   f"{name}.max": float(data.max())})


def outcome_counts(records: Iterable[CallbackRecord]) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        key = record.outcome or "live"
        counts[key] = counts.get(key, 0) + 1
    return counts
