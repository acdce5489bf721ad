"""`callback-emu load`: a load simulation, replications with confidence intervals."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import scenario as sc
from ..studies.load import default_interval, failed_expectations, run_replications, study
from . import outputs, tables
from .common import (EXPECTATION_FAILED, EXPECTATIONS_HELD, count, duration, load_one,
                     subcommand, writable)

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
                        help="time-series and --stats-csv interval: 300, 5min, 00:30 "
                             "(default: about 300 points over the run)")
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
    runs = run_replications(scenario, args.replications, workers=args.workers,
                            interval=interval, scheduler=args.scheduler)
    document = study(scenario, runs, interval)
    tables.study(document, sys.stdout)
    if args.json:
        outputs.write_json(document, args.json)
    if args.csv:
        outputs.write_metrics_csv(document, args.csv)
    if args.stats_csv:
        outputs.write_stats_csv(runs[0], interval, args.stats_csv)
    if args.report:
        from .report import write_report
        write_report(args.report, document)
    return EXPECTATION_FAILED if failed_expectations(document) else EXPECTATIONS_HELD
