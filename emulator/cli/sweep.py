"""`callback-emu sweep`: vary keys of a scenario; find the smallest configuration that meets a target."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from .. import scenario as sc
from ..studies.sweep import Point, Sweep, parse_vary
from ..studies.targets import Condition, parse_target
from . import figures, outputs
from .common import (EXPECTATION_FAILED, EXPECTATIONS_HELD, add_show, count, load_one, shown,
                     subcommand, writable)

SHOWN = ("callback_latency.p95", "outcomes.no_agent", "agent_occupancy.mean")


def add(commands: Any) -> None:
    """The `sweep` subcommand and its options."""
    parser = subcommand(
        commands, "sweep", "vary keys of a scenario; find the smallest configuration that "
        "meets a target",
        "callback-emu sweep scenarios/capacity/trunk_sizing.yaml --vary pbx.trunks=10..80 "
        "--target \"outcomes.no_trunk<0.01,callback_latency.p95<30s\" --replications 5",
        "callback-emu sweep FILE --vary centres.madrid.terminals=2..20:2 --vary pbx.trunks=40,80",
        "callback-emu sweep FILE --vary rooms.servers=1..6 --target \"rooms_refused<=0.001\" "
        "--report out/rooms.html",
        handler=handle)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--vary", action="append", required=True, metavar="KEY=LO..HI",
                        help="a dotted key of the file and its values (LO..HI, LO..HI:STEP, "
                             "A,B,C); may be given more than once")
    parser.add_argument("--target", metavar="METRIC<VALUE,...",
                        help="what must hold with 95 %% confidence: <, <=, > or >=, e.g. "
                             "'outcomes.no_agent<0.02,callback_latency.p95<=25s'")
    parser.add_argument("--replications", type=count, default=3, metavar="N",
                        help="replications per configuration")
    parser.add_argument("--seed", type=int, help="override the scenario's seed (default: the file's)")
    parser.add_argument("--workers", type=count, metavar="W",
                        help="local processes (default: one per core)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run the points' replications on this Dask cluster")
    add_show(parser, SHOWN)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the sweep as JSON")
    parser.add_argument("--report", type=Path, metavar="PATH", help="write an HTML report")


def handle(args: argparse.Namespace) -> int:
    """Run the sweep; exit 1 if a target was given and no configuration meets it."""
    writable(args, "--json", "--report")
    names = shown(args, SHOWN) if args.show else None
    loaded = load_one(args.file, args.seed)
    try:
        varies = [parse_vary(text) for text in args.vary]
        target = parse_target(args.target) if args.target else None
    except ValueError as error:
        raise sc.ScenarioError(str(args.file), None, "", str(error), "see callback-emu sweep -h")
    sweep = Sweep(loaded.path, varies, target, args.replications, args.workers,
                  args.scheduler, on_point=lambda point: print(point_line(point, target, names),
                                                               flush=True))
    answer = sweep.run()
    document = {"scenario": loaded.scenario.name, "description": loaded.scenario.description,
                "seed": loaded.scenario.seed, "replications": args.replications,
                "callbacks": 0, "metrics": answer.metrics if answer else {},
                "expectations": [], "sweep": sweep.document(answer)}
    _summary(sweep, document, args.target, answer)
    if args.json:
        outputs.write_json(document, args.json)
    if args.report:
        from .report import write_report
        write_report(args.report, document)
    return EXPECTATION_FAILED if target is not None and answer is None else EXPECTATIONS_HELD


def point_line(point: Point, target: list[Condition] | None,
               names: Sequence[str] | None = None) -> str:
    """One configuration: the metrics of `--show` (else each target metric, or the usual
    three) with their intervals, and which bound a miss missed."""
    setting = ", ".join(f"{k}={v}" for k, v in point.setting.items())
    if names is None:
        names = [c.metric for c in target] if target else list(SHOWN)
    shown = ", ".join(_figure(name, point.metrics.get(name)) for name in names)
    if point.met is None or target is None:
        return f"{setting}: {shown}"
    if point.met:
        return f"{setting}: {shown}  meets the target"
    missed = [str(c) for c in target if not c.holds(point.metrics)]
    return f"{setting}: {shown}  misses {', '.join(missed)} (95 % interval)"


def _figure(name: str, value: dict[str, Any] | None) -> str:
    value = value or {"mean": None, "ci95": None}
    band = figures.ci_text(value.get("ci95"), name)
    return f"{name} {figures.value(value.get('mean'), name)}" + (f" [{band}]" if band else "")


def _summary(sweep: Sweep, document: dict[str, Any], target: str | None,
             answer: Point | None) -> None:
    summary = document["sweep"]
    print(f"evaluated {summary['evaluated']} of {summary['grid']} configurations")
    if not sweep.monotone:
        print("the metrics are not monotone in the varied keys here: the whole grid was run")
    if target is not None:
        if answer is None:
            print(f"no configuration meets {target}")
        else:
            print("smallest configuration that meets the target: "
                  + ", ".join(f"{k}={v}" for k, v in answer.setting.items()))
