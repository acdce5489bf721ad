"""Targets a study must meet: `METRIC<VALUE`, `<=`, `>`, `>=`, held with 95 % confidence.

`--target` of `sweep` (and of the commands that search for a configuration)
takes a comma-separated list of them; values take units (`25s`, `0.02`).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..measure.catalogue import check_metric_name
from ..units import parse_duration

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")


@dataclass(frozen=True)
class Condition:
    """One bound on one metric."""

    metric: str
    op: str             # "<", "<=", ">" or ">="
    value: float

    @property
    def below(self) -> bool:
        """Whether the bound is an upper one (the metric must stay below it)."""
        return self.op.startswith("<")

    def holds(self, metrics: Mapping[str, Mapping[str, Any]]) -> bool:
        """Held with 95 % confidence: the whole interval is on the right side (the
        mean alone with one replication), so a planner's answer can be defended."""
        value = metrics.get(self.metric) or {}
        if value.get("mean") is None:
            return False
        ci = value.get("ci95") or [value["mean"], value["mean"]]
        return _OPS[self.op](ci[1] if self.below else ci[0], self.value)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_target(text: str, option: str = "--target") -> list[Condition]:
    """The conditions of a `--target` text; `ValueError` naming the part at fault."""
    conditions = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _CONDITION.match(part)
        if not match:
            raise ValueError(f"{option} {part!r}: write METRIC<VALUE, <=, > or >= "
                             "(e.g. outcomes.no_agent<0.02, callback_latency.p95<=25s)")
        metric, op, value = match.groups()
        problem = check_metric_name(metric)
        if problem:
            raise ValueError(f"{option} {part!r}: {problem[0]} ({problem[1]})")
        try:
            bound = parse_duration(float(value) if _number(value) else value)
        except ValueError as error:
            raise ValueError(f"{option} {part!r}: {error}") from None
        conditions.append(Condition(metric, op, bound))
    if not conditions:
        raise ValueError(f"{option} is empty")
    return conditions


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
