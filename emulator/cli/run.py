"""`callback-emu run`: scenario files or folders, each run and its expectations checked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..studies.suite import run_scenario
from . import outputs, tables
from .common import (EXPECTATION_FAILED, EXPECTATIONS_HELD, INPUT_REFUSED, InputRefused, duration,
                     load_all, positive, sip_ready, subcommand, writable)


def add(commands: Any) -> None:
    """The `run` subcommand and its options."""
    parser = subcommand(
        commands, "run", "run scenario files or folders and check their expectations",
        "callback-emu run scenarios/qa",
        "callback-emu run scenarios/qa --junit out/junit.xml --json out/results.json",
        "callback-emu run scenarios/qa/failover_second_centre.yaml --mode sip --time-scale 10",
        handler=handle)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    parser.add_argument("--mode", choices=["sim", "sip"], default="sim",
                        help="sim: simulated time; sip: over real SIP")
    parser.add_argument("--seed", type=int, help="override every scenario's seed (default: each file's)")
    parser.add_argument("--time-scale", type=positive, default=1.0, metavar="K",
                        help="sip mode: talk times run K times faster (outcomes do not change)")
    parser.add_argument("--junit", type=Path, metavar="PATH", help="write JUnit XML here")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="write the results, every call of every scenario, as JSON here")
    parser.add_argument("--interval", type=duration, metavar="DURATION",
                        help="sim: each centre's results per interval this long (30min), "
                             "printed and in --json and --csv")
    parser.add_argument("--csv", type=Path, metavar="PATH",
                        help="with --interval: every scenario's results per interval and "
                             "centre as CSV here")


def handle(args: argparse.Namespace) -> int:
    """Run every scenario named; exit 1 if an expectation failed."""
    writable(args, "--junit", "--json", "--csv")
    if args.csv and not args.interval:
        raise InputRefused("--csv writes the results per interval: give --interval too "
                           "(e.g. --interval 30min)")
    loaded = load_all(args.paths, args.seed)
    if args.mode == "sip" and not sip_ready():
        return INPUT_REFUSED
    runs = [run_scenario(item, args.mode, args.time_scale, args.interval or 0.0)
            for item in loaded]
    tables.suite(runs, sys.stdout)
    for run in runs:
        if run.result is not None and run.result.intervals is not None:
            print(f"\n# {run.short}", file=sys.stdout)
            tables.intervals(outputs.suite_intervals(run), sys.stdout)
    if args.junit:
        outputs.write_junit(runs, args.junit)
    if args.json:
        outputs.write_suite_json(runs, args.json)
    if args.csv:
        outputs.write_suite_intervals_csv(runs, args.csv)
    failed = any(not r.passed and not r.skipped for r in runs)
    return EXPECTATION_FAILED if failed else EXPECTATIONS_HELD
