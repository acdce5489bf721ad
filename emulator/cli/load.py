"""`callback-emu load`: a load simulation, replications with confidence intervals."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import scenario as sc
from ..studies.intervals import warmup_hint
from ..studies.load import (Replication, default_interval, failed_expectations, half_widths,
                            run_replications, study)
from . import outputs, tables
from .common import (EXPECTATION_FAILED, EXPECTATIONS_HELD, check_metrics, count, duration,
                     load_one, share, subcommand, writable)

OUTPUTS = ("--json", "--csv", "--report", "--stats-csv")


def add(commands: Any) -> None:
    """The `load` subcommand and its options."""
    parser = subcommand(
        commands, "load", "a load simulation: replications, confidence intervals",
        "callback-emu load scenarios/capacity/weekday_three_centres.yaml --replications 10",
        "callback-emu load scenarios/capacity/weekday_three_centres.yaml --replications 10 "
        "--report out/weekday.html --json out/weekday.json",
        "callback-emu load scenarios/qa/load_typical_hour.yaml --interval 5min --stats-csv out/stat.csv",
        handler=handle)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--replications", type=count, default=1, metavar="N",
                        help="independent runs, each with its own seed; 2 or more give 95 %% "
                             "confidence intervals")
    parser.add_argument("--seed", type=int, help="override the scenario's seed (default: the file's)")
    parser.add_argument("--workers", type=count, metavar="W",
                        help="local processes (default: one per core, at most N)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run the replications on this Dask cluster (default: local processes)")
    parser.add_argument("--interval", type=duration, metavar="DURATION",
                        help="results per interval this long, for each centre (table, --json, "
                             "--csv, --report), and the time series' and --stats-csv's step: "
                             "30min, 300, 00:30 (default: none; the series about 300 points)")
    parser.add_argument("--precision", type=share, metavar="SHARE",
                        help="run replications until every target metric's 95 %% half-width "
                             "is within this share of its mean (2%% or 0.02)")
    parser.add_argument("--max-replications", type=count, default=100, metavar="N",
                        help="with --precision: stop at this many")
    parser.add_argument("--precision-of", metavar="METRIC,...",
                        help="the target metrics of --precision (default: those the "
                             "scenario's expectations name, else service_level and "
                             "callback_latency.p95)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the study as JSON")
    parser.add_argument("--csv", type=Path, metavar="PATH", help="write every metric as CSV")
    parser.add_argument("--report", type=Path, metavar="PATH", help="write an HTML report")
    parser.add_argument("--stats-csv", type=Path, metavar="PATH",
                        help="a periodic statistics file like SIPp's -trace_stat")


def handle(args: argparse.Namespace) -> int:
    """Run the replications, print the key figures, write the files asked for."""
    writable(args, *OUTPUTS)
    loaded = load_one(args.file, args.seed)
    scenario = loaded.scenario
    if scenario.arrivals is None:
        raise sc.ScenarioError(str(args.file), None, "arrivals",
                               "a load simulation needs an arrival process",
                               "add 'arrivals: {rate: 120/h, duration: 8h}'; "
                               "explicit callbacks are for 'callback-emu run'")
    interval = args.interval or default_interval(scenario)
    names = precision_metrics(args, scenario)
    runs = replications(scenario, args, interval, names)
    document = study(scenario, runs, interval)
    if args.precision is not None:
        document["precision"] = precision_report(document, args, names)
    tables.study(document, sys.stdout)
    if "precision" in document:
        tables.precision(document, sys.stdout)
    if "intervals" in document:
        tables.intervals(document, sys.stdout)
        hint = warmup_hint(document)
        if hint:
            print(hint, file=sys.stdout)
    if args.json:
        outputs.write_json(document, args.json)
    if args.csv:
        outputs.write_metrics_csv(document, args.csv)
        if "intervals" in document:
            outputs.write_intervals_csv(document, outputs.intervals_path(args.csv))
    if args.stats_csv:
        outputs.write_stats_csv(runs[0], interval, args.stats_csv)
    if args.report:
        from .report import write_report
        write_report(args.report, document)
    return EXPECTATION_FAILED if failed_expectations(document) else EXPECTATIONS_HELD


def precision_metrics(args: argparse.Namespace, scenario: sc.Scenario) -> list[str]:
    """The metrics `--precision` holds to its share: named, the expectations', or the usual two."""
    if args.precision is None:
        return []
    if args.precision_of:
        names = [n.strip() for n in args.precision_of.split(",") if n.strip()]
        check_metrics("--precision-of", names)
        return names
    named = [e.metric for e in scenario.expect if isinstance(e, sc.MetricExpectation)]
    return list(dict.fromkeys(named)) or ["service_level", "callback_latency.p95"]


def replications(scenario: sc.Scenario, args: argparse.Namespace, interval: float,
                 names: list[str]) -> list[Replication]:
    """The replications asked for; with --precision, more until the target metrics' 95 %
    half-widths are within the share of their means (or --max-replications)."""
    per_interval = args.interval or 0.0
    count_ = max(args.replications, 2) if args.precision is not None else args.replications
    runs = run_replications(scenario, count_, workers=args.workers, interval=interval,
                            scheduler=args.scheduler, metrics=tuple(names),
                            per_interval=per_interval)
    while args.precision is not None and len(runs) < args.max_replications:
        wanted = _needed(runs, names, args.precision)
        if wanted <= len(runs):
            break
        more = min(args.max_replications, max(wanted, len(runs) + 1), 2 * len(runs))
        runs += run_replications(scenario, more, workers=args.workers, interval=interval,
                                 scheduler=args.scheduler, metrics=tuple(names),
                                 per_interval=per_interval, skip=len(runs))
    return runs


def _needed(runs: list[Replication], names: list[str], share_: float) -> int:
    """Replications the widest relative half-width asks for (it shrinks as 1/sqrt(n))."""
    needed = len(runs)
    for name, (mean, half) in half_widths([r.metrics for r in runs], names).items():
        if mean and half is not None and half > share_ * abs(mean):
            needed = max(needed, int(len(runs) * (half / (share_ * abs(mean))) ** 2) + 1)
    return needed


def precision_report(document: dict[str, Any], args: argparse.Namespace,
                     names: list[str]) -> dict[str, Any]:
    """What --precision reached: each target metric's relative half-width, and whether all are in."""
    reached = {}
    for name in names:
        value = document["metrics"].get(name) or {}
        mean, ci = value.get("mean"), value.get("ci95")
        reached[name] = (None if not mean or ci is None else (ci[1] - ci[0]) / 2 / abs(mean))
    return {"share": args.precision, "metrics": reached,
            "met": all(r is not None and r <= args.precision for r in reached.values()),
            "replications": document["replications"], "max_replications": args.max_replications}
