"""Variants of one scenario side by side: each a few keys changed, run with the same
replication seeds, so their differences are paired (common random numbers).

What a planner asks of a policy before switching it on: with retries, or with
opening hours, how many more callbacks connect, how busy are the agents, how
many calls does each connected callback take, how many more lines are in use.
Each figure is a mean over replications with its 95 % interval; the difference
from the first variant is taken replication by replication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..scenario import Scenario, ScenarioError
from ..scenario.edit import raw, value_of, varied
from .load import Replication, aggregate_metrics, confidence, run_replications

# What the comparison shows first: the planner's questions about a policy.
SHOWN = ("outcomes.connected", "agent_occupancy.mean", "attempts_per_connected",
         "lines_in_use.mean", "extra_lines")


@dataclass(frozen=True)
class Variant:
    """A named variant: the dotted keys it sets (none: the file as it is)."""

    name: str
    setting: Mapping[str, Any] = field(default_factory=dict)


def parse_variant(words: list[str]) -> Variant:
    """`["retries", "policy.retry.person_busy.attempts=3", ...]`: a name, then KEY=VALUE
    words whose values are read as YAML (`{mon-fri: "08:00-20:00"}`, `3`, `2min`)."""
    if not words or "=" in words[0]:
        raise ValueError("a variant starts with its name: --variant NAME [KEY=VALUE ...]")
    setting: dict[str, Any] = {}
    for word in words[1:]:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise ValueError(f"{word!r}: write each change as KEY=VALUE "
                             "(policy.retry.person_busy.attempts=3)")
        try:
            setting[key] = value_of(text)
        except ValueError as error:
            raise ValueError(f"{word!r}: {error}") from None
    return Variant(words[0], setting)


def scenario_of(path: Path, variant: Variant) -> Scenario:
    """The scenario of one variant; a key that does not fit is refused like a bad file."""
    try:
        return varied(raw(path), path, variant.setting)
    except ScenarioError as error:
        raise ScenarioError(error.file, error.line, error.key,
                            f"variant {variant.name!r}: {error.message}", error.hint) from None


def derived(metrics: Mapping[str, float | None], trunks: int) -> dict[str, float | None]:
    """Per-replication figures a comparison needs that no run reports by itself."""
    connected, attempts = metrics.get("outcomes.connected"), metrics.get("attempts.mean")
    occupancy = metrics.get("trunk_occupancy.mean")
    return {"attempts_per_connected": attempts / connected if connected and attempts is not None
            else None,
            "lines_in_use.mean": occupancy * trunks if occupancy is not None else None}


@dataclass
class Comparison:
    """Variants of one file run on the same replication seeds."""

    path: Path
    variants: list[Variant]
    replications: int = 5
    workers: int | None = None
    on_variant: Callable[[str, dict[str, Any]], None] | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self) -> dict[str, dict[str, Any]]:
        """Each variant's metrics (mean and 95 % interval), the derived ones included."""
        scenarios = [(v, scenario_of(self.path, v)) for v in self.variants]   # all checked first
        baseline: list[dict[str, float | None]] | None = None
        for variant, scenario in scenarios:
            runs = run_replications(scenario, self.replications, workers=self.workers)
            per_run = self._per_run(runs, scenario.pbx.trunks)
            metrics = aggregate_metrics(per_run)
            if baseline is None:
                baseline = per_run
            metrics["extra_lines"] = _paired(per_run, baseline, "lines_in_use.mean")
            self.results[variant.name] = metrics
            if self.on_variant is not None:
                self.on_variant(variant.name, metrics)
        return self.results

    @staticmethod
    def _per_run(runs: list[Replication], trunks: int) -> list[dict[str, float | None]]:
        return [{**r.metrics, **derived(r.metrics, trunks)} for r in runs]

    def document(self, scenario: Scenario) -> dict[str, Any]:
        """The comparison's JSON document (docs/scenario-format.md, "Outputs")."""
        return {"scenario": scenario.name, "description": scenario.description,
                "seed": scenario.seed, "replications": self.replications,
                "compare": {"metric_names": list(SHOWN),
                            "variants": [{"name": v.name, "setting": dict(v.setting),
                                          "metrics": self.results.get(v.name, {})}
                                         for v in self.variants]}}


def _paired(runs: list[dict[str, float | None]], baseline: list[dict[str, float | None]],
            name: str) -> dict[str, Any]:
    """The difference from the first variant, replication by replication (same seeds)."""
    differences = [float(a[name]) - float(b[name])                     # type: ignore[arg-type]
                   for a, b in zip(runs, baseline)
                   if a.get(name) is not None and b.get(name) is not None]
    if not differences:
        return {"mean": None, "ci95": None}
    mean, ci = confidence(differences)
    return {"mean": mean, "ci95": ci}
