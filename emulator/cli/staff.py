"""`callback-emu staff`: the fewest agents on duty per interval and centre that meet a target."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .. import scenario as sc
from ..scenario import edit
from ..studies.staff import Row, StaffSearch, check_target, steps
from ..studies.targets import parse_target
from . import figures, outputs
from .common import (EXPECTATION_FAILED, EXPECTATIONS_HELD, InputRefused, count, duration,
                     load_one, subcommand, writable)

OUTPUTS = ("--json", "--csv", "--report", "--write-scenario")


def add(commands: Any) -> None:
    """The `staff` subcommand and its options."""
    parser = subcommand(
        commands, "staff", "the fewest agents on duty per interval and centre that meet a "
        "target, beside Erlang C (and Erlang A)",
        "callback-emu staff scenarios/capacity/weekday_three_centres.yaml --interval 30min "
        "--target \"service_level>=0.8\"",
        "callback-emu staff FILE --target \"service_level>=0.8\" --centre madrid --shrinkage 30% "
        "--report out/plan.html --write-scenario out/planned.yaml",
        handler=handle)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--interval", type=duration, default=1800.0, metavar="DURATION",
                        help="the planning interval (default: 30min)")
    parser.add_argument("--target", required=True, metavar="METRIC>=VALUE,...",
                        help="what each interval must meet with 95 %% confidence: service_level, "
                             "time_to_agent.mean or time_to_agent.p95, e.g. 'service_level>=0.8'")
    parser.add_argument("--centre", action="append", metavar="NAME",
                        help="plan only this centre (may be given more than once; default: all)")
    parser.add_argument("--replications", type=count, default=10, metavar="N",
                        help="replications of every configuration tried")
    parser.add_argument("--shrinkage", type=_share, default=0.0, metavar="SHARE",
                        help="share of scheduled time agents are not on duty (30%% or 0.3): "
                             "agents to schedule = on duty / (1 - shrinkage) (default: 0)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed (default: the file's)")
    parser.add_argument("--workers", type=count, metavar="W",
                        help="local processes (default: one per core, at most N)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the plan as JSON")
    parser.add_argument("--csv", type=Path, metavar="PATH", help="write the plan as CSV")
    parser.add_argument("--report", type=Path, metavar="PATH",
                        help="write an HTML report with the staffing chart")
    parser.add_argument("--write-scenario", type=Path, metavar="PATH",
                        help="write the scenario with the plan as its centres' staffing")


def _share(text: str) -> float:
    """30%, 0.3: a share from 0 to below 1."""
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share (write 30% or 0.3)") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be from 0 to below 100 %")
    return value


def handle(args: argparse.Namespace) -> int:
    """Search the plan, print it, write the files asked for; exit 1 if an interval misses."""
    writable(args, *OUTPUTS)
    loaded = load_one(args.file, args.seed)
    scenario = loaded.scenario
    if scenario.arrivals is None:
        raise sc.ScenarioError(str(args.file), None, "arrivals", "a staffing plan needs an "
                               "arrival process", "add 'arrivals: {profile: [...], duration: 24h}'")
    try:
        target = parse_target(args.target)
    except ValueError as error:
        raise InputRefused(str(error)) from None
    problem = check_target(target)
    if problem:
        raise InputRefused(f"--target {args.target!r}: {problem}")
    for name in args.centre or ():
        if name not in scenario.centres:
            raise InputRefused(f"--centre {name!r}: no such centre (the file has "
                               f"{', '.join(scenario.centres)})")
    started = time.perf_counter()
    search = StaffSearch(scenario, args.interval, target, replications=args.replications,
                         centres=args.centre, workers=args.workers, on_row=_progress)
    rows = search.run()
    document = plan_document(scenario, search, rows, args, time.perf_counter() - started)
    table(document, sys.stdout)
    if args.json:
        outputs.write_json(document, args.json)
    if args.csv:
        write_csv(document, args.csv)
    if args.write_scenario:
        write_scenario(loaded.path, search, args.write_scenario, document)
    if args.report:
        from .report import write_report
        write_report(args.report, document)
    missed = any(row["status"] == "missed" for row in document["plan"])
    return EXPECTATION_FAILED if missed else EXPECTATIONS_HELD


def _progress(row: Row) -> None:
    # A plan takes minutes: a terminal sees one line rewritten, a log one line per row.
    found = f"{row.centre} {figures.clock(row.start)}: {row.agents} agent(s)"
    if sys.stderr.isatty():
        print(f"\r{found}  ", end="", file=sys.stderr, flush=True)
    else:
        print(f"staff: {found} ({row.status})", file=sys.stderr, flush=True)


def plan_document(scenario: sc.Scenario, search: StaffSearch, rows: dict[str, list[Row]],
                  args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    """The plan's JSON document (SCENARIOS.md: scenario, interval, target, plan)."""
    plan = [row.json(args.shrinkage) for index in range(search.count)
            for centre in search.centres for row in [rows[centre][index]]]
    arrivals = scenario.arrivals
    assert arrivals is not None
    return {"scenario": scenario.name, "description": scenario.description,
            "seed": scenario.seed, "interval": args.interval, "target": args.target,
            "replications": args.replications, "shrinkage": args.shrinkage,
            "centres": search.centres, "duration": arrivals.duration,
            "warmup": arrivals.warmup, "sla_within": scenario.sla.within,
            "evaluations": search.evaluations, "seconds": round(seconds, 1),
            "plan": plan, "staff": True, "callbacks": 0, "metrics": {}, "expectations": []}


def table(document: dict[str, Any], out: TextIO) -> None:
    """One table per centre: each interval's load, Erlang figures, plan and service level."""
    shrinking = document["shrinkage"] > 0
    print(f"# {document['scenario']}: a plan per {document['interval'] / 60:g} min for "
          f"{document['target']} (95 % confidence), {document['replications']} replications",
          file=out)
    for centre in document["centres"]:
        rows = [r for r in document["plan"] if r["centre"] == centre]
        print(f"\n{centre}", file=out)
        head = (f"{'interval':<13} {'load E':>6} {'Erlang C':>8} {'Erlang A':>8} {'agents':>6}"
                + (f" {'schedule':>8}" if shrinking else "")
                + f"  {'service level [95% CI]':<28} result")
        print(head, file=out)
        for row in rows:
            print(_line(row, shrinking), file=out)
        hours = sum(r["agents"] for r in rows) * document["interval"] / 3600
        print(f"{'agent-hours':<13} {'':>6} {'':>8} {'':>8} {hours:>6.1f}", file=out)
    print(f"\n{document['evaluations']} simulations of the day so far, "
          f"{document['seconds']:.0f} s", file=out)


_SHOWN = {"met": "met", "unsure": "unsure (too few calls to tell at 95 %)",
          "missed": "MISSED", "no_calls": "no calls"}


def _line(row: dict[str, Any], shrinking: bool) -> str:
    span = f"{figures.clock(row['from'])}-{figures.clock(row['to'])}"
    level = row.get("service_level") or {"mean": None, "ci95": None}
    band = figures.ci_text(level["ci95"], "service_level")
    shown = figures.value(level["mean"], "service_level") + (f" [{band}]" if band else "")
    figure = ["-" if row[k] is None else str(row[k]) for k in ("erlang_c", "erlang_a")]
    return (f"{span:<13} {row['offered_load']:>6.2f} {figure[0]:>8} {figure[1]:>8} "
            f"{row['agents']:>6}" + (f" {row['scheduled']:>8}" if shrinking else "")
            + f"  {shown:<28} {_SHOWN[row['status']]}")


def write_csv(document: dict[str, Any], path: Path) -> None:
    """One row per centre and interval."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["centre", "from", "to", "agents", "scheduled", "erlang_c", "erlang_a",
                         "offered_load", "service_level", "ci95_low", "ci95_high", "status"])
        for row in document["plan"]:
            level = row.get("service_level") or {"mean": None, "ci95": None}
            ci = level["ci95"] or [None, None]
            writer.writerow([row["centre"], row["from"], row["to"], row["agents"],
                             row["scheduled"], _blank(row["erlang_c"]), _blank(row["erlang_a"]),
                             f"{row['offered_load']:.6g}", _blank(level["mean"]),
                             _blank(ci[0]), _blank(ci[1]), row["status"]])


def _blank(value: Any) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def write_scenario(source: Path, search: StaffSearch, target: Path,
                   document: dict[str, Any]) -> None:
    """The scenario with the plan as `staffing` (and the desk phones it needs)."""
    setting: dict[str, Any] = {}
    for centre in search.centres:
        agents = search.plan[centre]
        setting[f"centres.{centre}.staffing"] = [{"from": figures.clock(start), "agents": n}
                                                 for start, n in steps(agents, search.interval)]
        phones = search.scenario.centres[centre].terminals
        if isinstance(phones, int) and max(agents) > phones:
            setting[f"centres.{centre}.terminals"] = max(agents)
    header = (f"# The plan of `callback-emu staff` for {document['target']} per "
              f"{document['interval'] / 60:g} min ({document['replications']} replications);\n"
              f"# `callback-emu load` this file with --replications {document['replications']} "
              f"--interval {document['interval'] / 60:g}min to see the day.\n")
    edit.write_with(source, setting, target, header)
