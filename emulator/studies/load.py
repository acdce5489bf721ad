"""Load simulations for capacity planners: replications, confidence intervals, outputs.

Each replication runs the scenario with its own seed, derived from the
scenario's through `SeedSequence.spawn`, in a local process of its own (or
on a Dask cluster); statistics are streamed, so a replication's memory does
not grow with its callbacks. Every metric gets the mean over replications
and a 95 % confidence interval (Student's t over the replication means).
"""

from __future__ import annotations

import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from scipy import stats as scipy_stats

from ..drivers.simulation import Sample, Simulation
from ..measure.catalogue import QUALITY, STAGES, metric_names
from ..measure.collector import Collector
from ..measure.series import Series, SignedSeries
from ..scenario import MetricExpectation, Scenario
from .expect import check_metric


@dataclass
class Replication:
    """What one replication sends back: small, whatever the number of callbacks."""

    seed: int
    metrics: dict[str, float | None]
    collector: Collector
    samples: list[Sample]
    end: float
    intervals: dict[str, list[dict[str, float | None]]] | None = None   # results per interval


def replication_seeds(seed: int, replications: int) -> list[int]:
    """One seed per replication, derived from the scenario's."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1)[0]) for child in children]


def default_interval(scenario: Scenario) -> float:
    """About 300 points over the run, in whole minutes."""
    duration = scenario.arrivals.duration if scenario.arrivals else 3600.0
    return max(60.0, round(duration / 300 / 60) * 60.0)


def replicate(scenario: Scenario, seed: int, interval: float,
              progress: Callable[[float], None] | None = None,
              metrics: tuple[str, ...] = (), per_interval: float = 0.0) -> Replication:
    """One replication (top level: it runs in worker processes); `metrics`: extra
    percentiles wanted (a target's `.p80`); `per_interval`: results per interval."""
    sim = Simulation(scenario, seed=seed, keep_records=False, interval=interval,
                     progress=progress, metrics=metrics, per_interval=per_interval)
    result = sim.run()
    assert result.collector is not None
    return Replication(seed, result.metrics, result.collector, result.samples, result.end,
                       result.intervals)


def run_replications(scenario: Scenario, replications: int, *, workers: int | None = None,
                     interval: float | None = None, scheduler: str | None = None,
                     progress: bool | None = None,
                     metrics: tuple[str, ...] = (), per_interval: float = 0.0,
                     skip: int = 0) -> list[Replication]:
    """Independent replications, each with its own seed, in this process, local
    worker processes or a Dask cluster; the same numbers whichever runs them.
    `skip`: the first so many were run already (replication i's seed never changes)."""
    seeds = replication_seeds(scenario.seed, replications)[skip:]
    step = interval or default_interval(scenario)
    if len(seeds) == 1 and not scheduler:
        return [_one_with_progress(scenario, seeds[0], step, progress, metrics, per_interval)]
    bar = _progress(len(seeds), progress)
    try:
        if scheduler:
            from .distributed import map_on_cluster
            results = map_on_cluster(scheduler, replicate,
                                     [(scenario, s, step, None, metrics, per_interval)
                                      for s in seeds],
                                     on_done=lambda: bar.update(1))
        elif len(seeds) == 1 or workers == 1:
            results = []
            for seed in seeds:
                results.append(replicate(scenario, seed, step, None, metrics, per_interval))
                bar.update(1)
        else:
            count = workers or min(len(seeds), os.cpu_count() or 1)
            with ProcessPoolExecutor(max_workers=count) as pool:
                futures = {pool.submit(replicate, scenario, s, step, None, metrics,
                                       per_interval): s
                           for s in seeds}
                done = {}
                for future in as_completed(futures):
                    done[futures[future]] = future.result()
                    bar.update(1)
            results = [done[s] for s in seeds]
    finally:
        bar.close()
    return results


def _one_with_progress(scenario: Scenario, seed: int, interval: float,
                       wanted: bool | None, metrics: tuple[str, ...],
                       per_interval: float = 0.0) -> Replication:
    """A single replication in this process: the bar follows its simulated time."""
    bar = _progress(100, wanted, unit="%")
    done = [0]

    def tick(fraction: float) -> None:
        step = int(fraction * 100) - done[0]
        done[0] += step
        bar.update(step)

    try:
        return replicate(scenario, seed, interval, tick, metrics, per_interval)
    finally:
        bar.close()


class _Silent:
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def _progress(total: int, wanted: bool | None, unit: str = "replication") -> Any:
    """A progress bar on a terminal; silent when the output is not one."""
    if wanted is False or (wanted is None and not sys.stderr.isatty()):
        return _Silent()
    from tqdm import tqdm
    return tqdm(total=total, unit=unit, file=sys.stderr, leave=False)


# -- aggregation ---------------------------------------------------------------

def confidence(values: list[float]) -> tuple[float, list[float] | None]:
    """Mean and 95 % confidence interval (Student's t); no interval for one value."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, None
    half = float(scipy_stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1)
                 / math.sqrt(len(values)))
    return mean, [mean - half, mean + half]


def half_widths(runs: Sequence[dict[str, float | None]],
                names: Iterable[str]) -> dict[str, tuple[float | None, float | None]]:
    """Each named metric's mean over the replications and its 95 % half-width."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for name in names:
        values = [float(v) for r in runs if (v := r.get(name)) is not None]
        if not values:
            out[name] = (None, None)
            continue
        mean, ci = confidence(values)
        out[name] = (mean, None if ci is None else (ci[1] - ci[0]) / 2)
    return out


def aggregate_metrics(runs: Iterable[dict[str, float | None]]) -> dict[str, dict[str, Any]]:
    """Each metric's mean over the replications and its 95 % interval (None with one)."""
    runs = list(runs)
    out: dict[str, dict[str, Any]] = {}
    names = list(metric_names())
    names += [name for name in (runs[0] if runs else {}) if name not in set(names)]
    for name in names:
        values = [r[name] for r in runs if r.get(name) is not None]
        if not values:
            out[name] = {"mean": None, "ci95": None}
            continue
        mean, ci = confidence([float(v) for v in values])  # type: ignore[arg-type]
        out[name] = {"mean": mean, "ci95": ci}
    return out


def study(scenario: Scenario, runs: list[Replication], interval: float) -> dict[str, Any]:
    """The JSON document of a load run (docs/scenario-format.md, "Outputs"), with histograms
    and time series."""
    metrics = aggregate_metrics(r.metrics for r in runs)
    pooled: dict[str, Series | SignedSeries] = {name: Series() for name in STAGES}
    errors = SignedSeries()                    # the estimated wait's, drawn when there are any
    outcomes: dict[str, float] = {}
    counts: dict[str, int] = {}
    for run in runs:
        for name in STAGES:
            pooled[name].merge(run.collector.series[name])     # type: ignore[arg-type]
        errors.merge(run.collector.series["ewt_error"])         # type: ignore[arg-type]
        total = run.collector.callbacks or 1
        for outcome, count in run.collector.outcomes.items():
            outcomes[outcome] = outcomes.get(outcome, 0.0) + count / total / len(runs)
            counts[outcome] = counts.get(outcome, 0) + count
    expectations = [check_metric(e, {k: v["mean"] for k, v in metrics.items()}).json()
                    for e in scenario.expect if isinstance(e, MetricExpectation)
                    and (e.modes is None or "sim" in e.modes)]
    arrivals = scenario.arrivals
    if errors.count:
        pooled["ewt_error"] = errors
    return {
        "scenario": scenario.name, "description": scenario.description, "seed": scenario.seed,
        "replications": len(runs), "seeds": [r.seed for r in runs],
        "callbacks": sum(r.collector.callbacks for r in runs),
        "duration": arrivals.duration if arrivals else max(r.end for r in runs),
        "warmup": arrivals.warmup if arrivals else 0.0,
        "metrics": metrics, "outcomes": outcomes, "outcome_counts": counts,
        "histograms": {name: series.histogram() for name, series in pooled.items()},
        "timeseries": timeseries(runs, interval, scenario),
        "quality": quality_histograms(runs),
        "expectations": expectations,
    } | by_interval(scenario, runs, interval)


def by_interval(scenario: Scenario, runs: list[Replication], interval: float) -> dict[str, Any]:
    """The study's `intervals` (with the configured arrivals per hour) when the runs kept
    results per interval (each `interval` long); nothing otherwise."""
    if not runs or runs[0].intervals is None:
        return {}
    from .intervals import aggregate, configured_rates

    found = aggregate([r.intervals for r in runs if r.intervals is not None], interval,
                      scenario.arrivals.warmup if scenario.arrivals else 0.0)
    if scenario.arrivals is not None:
        found["profile"] = configured_rates(scenario, interval)
    found["target"] = next((e.at_least if e.at_least is not None else e.above
                            for e in scenario.expect if isinstance(e, MetricExpectation)
                            and e.metric == "service_level"
                            and (e.at_least is not None or e.above is not None)), None)
    return {"intervals": found}


def quality_histograms(runs: list[Replication]) -> dict[str, Any]:
    """The network model's quality metrics pooled over replications (empty without `network:`)."""
    pooled: dict[str, Series] = {}
    for run in runs:
        for name in QUALITY:
            if name in run.collector.series:
                pooled.setdefault(name, Series()).merge(run.collector.series[name])
    return {name: series.histogram() for name, series in pooled.items() if series.count}


def timeseries(runs: list[Replication], interval: float, scenario: Scenario) -> dict[str, Any]:
    """Levels over the run, averaged over replications, with a 95 % band for busy agents."""
    length = min(len(r.samples) for r in runs) if runs else 0
    if length == 0:
        return {}
    columns = np.array([[s[1:] for s in r.samples[:length]] for r in runs], dtype=float)
    mean = columns.mean(axis=0)
    t = [runs[0].samples[i][0] for i in range(length)]
    arrivals = [sum(r.collector.intervals.get(i, _EMPTY).created for r in runs) / len(runs)
                * 3600.0 / interval for i in range(length)]
    out: dict[str, Any] = {"t": t, "busy_agents": mean[:, 0].tolist(),
                           "open_rooms": mean[:, 1].tolist(), "live_calls": mean[:, 2].tolist(),
                           "trunks_in_use": mean[:, 3].tolist(),
                           "room_egress": (mean[:, 4] / 1e6).tolist(),     # Mbit/s
                           "arrivals_per_hour": arrivals}
    if len(runs) > 1:
        out["busy_agents_ci"] = [confidence(list(columns[:, i, 0]))[1] for i in range(length)]
    return out


class _Empty:
    created = 0


_EMPTY = _Empty()


def failed_expectations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The expectations of a load run's document that did not hold."""
    return [e for e in document["expectations"] if not e["passed"]]

