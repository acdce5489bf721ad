"""Sweeps for capacity planners: vary keys of a scenario, find the smallest that meets a target.

`--vary centres.madrid.terminals=2..12` names a key of the scenario file by
its dotted path and the values to try. Without a target every point of the
grid runs. With one (`outcomes.no_agent<0.02,callback_latency.p95<25s`) the
search assumes that more of every varied resource never makes a metric worse
(monotonicity): one key is bisected; several are walked from the cheapest
(the smallest sum of values), skipping any point below one already known to
fail. Every evaluated pair is checked against that assumption, and where it
does not hold the sweep says so and runs the whole grid instead.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..scenario import edit
from .load import aggregate_metrics, run_replications
from .targets import Condition, parse_target

_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)(?::(\d+))?$")


@dataclass(frozen=True)
class Vary:
    """A key of the scenario file to vary (a dotted path), and the values to try, lowest first."""

    key: str
    values: tuple[int, ...]


def parse_vary(text: str) -> Vary:
    """Read `KEY=LO..HI`, `KEY=LO..HI:STEP` or `KEY=A,B,C` (whole numbers); refuse the rest."""
    key, sep, spec = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--vary {text!r}: write KEY=LO..HI, KEY=LO..HI:STEP or KEY=A,B,C")
    match = _RANGE.match(spec.strip())
    if match:
        low, high, step = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
        if high < low or step < 1:
            raise ValueError(f"--vary {text!r}: the range is empty")
        return Vary(key, tuple(range(low, high + 1, step)))
    try:
        values = tuple(sorted({int(v) for v in spec.split(",")}))
    except ValueError:
        raise ValueError(f"--vary {text!r}: values must be whole numbers") from None
    return Vary(key, values)


@dataclass
class Point:
    """One configuration: its values, its metrics over replications, whether it met the target."""

    setting: dict[str, int]
    metrics: dict[str, dict[str, Any]]
    met: bool | None = None


class Sweep:
    """A scenario file swept over the grid of its varied keys, with or without a target."""

    def __init__(self, path: Path, varies: list[Vary], target: list[Condition] | None,
                 replications: int, workers: int | None = None, scheduler: str | None = None,
                 on_point: Callable[[Point], None] | None = None) -> None:
        self.path = path
        self.raw = edit.raw(path)
        self.varies = varies
        self.target = target
        self.replications = replications
        self.workers = workers
        self.scheduler = scheduler
        self.on_point = on_point
        self.points: dict[tuple[int, ...], Point] = {}
        self.monotone = True

    def evaluate(self, values: tuple[int, ...]) -> Point:
        """Run the replications of one point of the grid (each point runs once) and judge it."""
        if values in self.points:
            return self.points[values]
        setting = {v.key: x for v, x in zip(self.varies, values)}
        scenario = edit.varied(self.raw, self.path, setting)
        runs = run_replications(scenario, self.replications, workers=self.workers,
                                scheduler=self.scheduler, progress=False,
                                metrics=tuple(c.metric for c in self.target or ()))
        point = Point(setting, aggregate_metrics(r.metrics for r in runs))
        if self.target is not None:
            point.met = all(c.holds(point.metrics) for c in self.target)
        self.points[values] = point
        if self.on_point:
            self.on_point(point)
        return point

    def grid(self) -> list[tuple[int, ...]]:
        """Every combination of the varied keys' values."""
        return list(itertools.product(*(v.values for v in self.varies)))

    def run(self) -> Point | None:
        """Evaluate the grid (no target) or search it; the answer with a target."""
        if self.target is None:
            for values in self.grid():
                self.evaluate(values)
            return None
        moving = [v for v in self.varies if len(v.values) > 1]
        answer = self._bisect() if len(moving) == 1 else self._walk()
        # Under monotonicity the largest configuration meets the target whenever
        # any does: one more point that can show the assumption wrong.
        self.evaluate(tuple(max(v.values) for v in self.varies))
        self.monotone = self._consistent()
        if not self.monotone:
            for values in self.grid():          # the shortcut cannot be trusted: brute force
                self.evaluate(values)
            answer = self._cheapest_met()
        return answer

    def _bisect(self) -> Point | None:
        """One key moves (the others have one value each): bisect it."""
        axis = next(i for i, v in enumerate(self.varies) if len(v.values) > 1)
        fixed = [v.values[0] for v in self.varies]
        values = self.varies[axis].values
        low, high, found = 0, len(values) - 1, None
        while low <= high:
            middle = (low + high) // 2
            point = self.evaluate(tuple(values[middle] if i == axis else x
                                        for i, x in enumerate(fixed)))
            if point.met:
                found, high = point, middle - 1
            else:
                low = middle + 1
        return found

    def _walk(self) -> Point | None:
        failed: list[tuple[int, ...]] = []
        for values in sorted(self.grid(), key=lambda v: (sum(v), v)):
            if any(all(a <= b for a, b in zip(values, bad)) for bad in failed):
                continue                        # below a failing point: fails too
            point = self.evaluate(values)
            if point.met:
                return point
            failed.append(values)
        return None

    def _consistent(self) -> bool:
        """No evaluated point meets the target while one at or above it does not."""
        seen = list(self.points.items())
        for (a, pa), (b, pb) in itertools.permutations(seen, 2):
            if all(x <= y for x, y in zip(a, b)) and pa.met and not pb.met:
                return False
        return True

    def _cheapest_met(self) -> Point | None:
        met = [(sum(v), v) for v, p in self.points.items() if p.met]
        return self.points[min(met)[1]] if met else None

    def document(self, answer: Point | None) -> dict[str, Any]:
        """The sweep's JSON document: the points evaluated, the target, the answer, `monotone`."""
        names = ([c.metric for c in self.target] if self.target else
                 ["callback_latency.p95", "outcomes.no_agent", "agent_occupancy.mean"])
        return {
            "vary": {v.key: [min(v.values), max(v.values)] for v in self.varies},
            "metric_names": names,
            "points": [{"config": p.setting, "metrics": p.metrics, "met": p.met}
                       for _, p in sorted(self.points.items())],
            "target": ",".join(str(c) for c in self.target) if self.target else None,
            "answer": {"config": answer.setting, "met": True} if answer else None,
            "monotone": self.monotone,
            "evaluated": len(self.points), "grid": len(self.grid()),
        }
