"""The `callback-emu` command.

Exit codes (SCENARIOS.md): 0 every expectation held; 1 an expectation
failed; 2 the input was refused (bad file, bad option), with a message that
names file, line and key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from .. import scenario as sc
from ..studies.suite import print_table, run_scenario, write_json, write_junit
from .ladder import Ladder

EXPECTATIONS_HELD, EXPECTATION_FAILED, INPUT_REFUSED = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callback-emu",
        description="Emulate and test the web-callback system: scenario suites, traces.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run scenario files or folders and check their expectations")
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    run.add_argument("--mode", choices=["sim", "sip"], default="sim",
                     help="sim: simulated time (default); sip: over real SIP")
    run.add_argument("--seed", type=int, help="override every scenario's seed")
    run.add_argument("--time-scale", type=_positive, default=1.0, metavar="K",
                     help="sip mode: talk times run K times faster (outcomes do not change)")
    run.add_argument("--junit", type=Path, metavar="PATH", help="write JUnit XML here")
    run.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON here")

    trace = commands.add_parser("trace", help="print the ladder of one callback")
    trace.add_argument("file", type=Path, metavar="FILE")
    trace.add_argument("--call", type=int, default=1, metavar="N",
                       help="which callback (1 = the first in the file; default 1)")
    trace.add_argument("--seed", type=int, help="override the scenario's seed")
    trace.add_argument("--mode", choices=["sim", "sip"], default="sim",
                       help="sip: over real SIP, with the SIP messages in the ladder")
    trace.add_argument("--time-scale", type=_positive, default=1.0, metavar="K",
                       help="sip mode: talk times run K times faster")

    load = commands.add_parser("load", help="a load simulation: replications, confidence intervals")
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument("--replications", type=_count, default=1, metavar="N",
                      help="independent runs, each with its own seed (default 1)")
    load.add_argument("--seed", type=int, help="override the scenario's seed")
    load.add_argument("--workers", type=_count, metavar="W",
                      help="local processes (default: one per core, at most N)")
    load.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                      help="run the replications on this Dask cluster")
    load.add_argument("--interval", type=_positive, metavar="SECONDS",
                      help="time-series and --stats-csv interval (default: ~300 points)")
    load.add_argument("--json", type=Path, metavar="PATH", help="write the study as JSON")
    load.add_argument("--csv", type=Path, metavar="PATH", help="write every metric as CSV")
    load.add_argument("--report", type=Path, metavar="PATH", help="write an HTML report")
    load.add_argument("--stats-csv", type=Path, metavar="PATH",
                      help="a periodic statistics file like SIPp's -trace_stat")

    sweep = commands.add_parser("sweep", help="vary keys of a scenario; find the smallest "
                                "configuration that meets a target")
    sweep.add_argument("file", type=Path, metavar="FILE")
    sweep.add_argument("--vary", action="append", required=True, metavar="KEY=LO..HI",
                       help="a dotted key of the file and its values (LO..HI, LO..HI:STEP, A,B,C)")
    sweep.add_argument("--target", metavar="METRIC<VALUE,...",
                       help="what must hold, e.g. 'outcomes.no_agent<0.02,callback_latency.p95<25s'")
    sweep.add_argument("--replications", type=_count, default=3, metavar="N")
    sweep.add_argument("--seed", type=int, help="override the scenario's seed")
    sweep.add_argument("--workers", type=_count, metavar="W")
    sweep.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run the points' replications on this Dask cluster")
    sweep.add_argument("--json", type=Path, metavar="PATH")
    sweep.add_argument("--report", type=Path, metavar="PATH")

    diff = commands.add_parser("diff", help="run a scenario in sim and over real SIP and compare")
    diff.add_argument("file", type=Path, metavar="FILE")
    diff.add_argument("--seed", type=int, help="override the scenario's seed")
    diff.add_argument("--time-scale", type=_positive, default=1.0, metavar="K",
                      help="talk times run K times faster over SIP")
    diff.add_argument("--calibrate", type=Path, metavar="OUT",
                      help="write the scenario with the PBX timings fitted from the SIP run")

    serve = commands.add_parser("serve", help="the reference web app on one machine, "
                                "with the emulated PBX in real time")
    serve.add_argument("--scenario", type=Path, metavar="FILE",
                       help="services, centres and phone behaviour (default: scenarios/serve/default.yaml)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--db", default="callbacks.sqlite3", metavar="PATH",
                       help="records: a SQLite file (default callbacks.sqlite3) or postgresql://...")
    serve.add_argument("--agent-key", metavar="KEY",
                       help="the agents' credential (default: a random one, printed)")
    serve.add_argument("--no-request-limits", action="store_true",
                       help="take callback requests without the limits per number (3 in 10 "
                            "minutes) and per address (30 a minute): for load tests")
    serve.add_argument("--pbx", choices=("sim", "sip"), default="sim",
                       help="sim: the emulated PBX in real time (default); sip: the real SIP "
                            "PBX (sippy) calling SIPp phones that behave as the scenario says")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:               # `callback-emu ... | head`: the reader has gone
        sys.stderr.close()
        return EXPECTATIONS_HELD


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "diff":
            return _diff(args)
        if args.command == "load":
            return _load(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "serve":
            from ..drivers.serve import run as serve
            if args.pbx == "sip" and not _sip_ready():
                return 2
            return serve(args.scenario, args.host, args.port, args.db, args.agent_key, args.pbx,
                         not args.no_request_limits)
        return _trace(args)
    except sc.ScenarioError as error:
        print(f"callback-emu: {error}", file=sys.stderr)
        return INPUT_REFUSED


def _load_all(paths: list[str], seed: int | None) -> list[sc.LoadedScenario]:
    files = sc.scenario_files(paths)
    if not files:
        raise sc.ScenarioError(", ".join(paths), None, "", "no scenario files found",
                               "name .yaml files or folders that hold them")
    errors, loaded = [], []
    for file in files:
        try:
            item = sc.load(file)
        except sc.ScenarioError as error:
            errors.append(error)
            continue
        if seed is not None:
            item = sc.LoadedScenario(item.scenario.model_copy(update={"seed": seed}), item.path)
        loaded.append(item)
    for refused in errors[:-1]:
        print(f"callback-emu: {refused}", file=sys.stderr)
    if errors:
        raise errors[-1]           # every bad file is named, nothing runs
    return loaded


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def _sip_ready() -> bool:
    from ..models.pbx.sipp import sipp_path

    if sipp_path() is None:
        print("callback-emu: --mode sip needs SIPp (Debian package sip-tester): "
              "apt-get install sip-tester", file=sys.stderr)
        return False
    return True


def _run(args: argparse.Namespace) -> int:
    loaded = _load_all(args.paths, args.seed)
    if args.mode == "sip" and not _sip_ready():
        return INPUT_REFUSED
    runs = [run_scenario(item, args.mode, args.time_scale) for item in loaded]
    print_table(runs, sys.stdout)
    if args.junit:
        write_junit(runs, args.junit)
    if args.json:
        write_json(runs, args.json)
    failed = any(not r.passed and not r.skipped for r in runs)
    return EXPECTATION_FAILED if failed else EXPECTATIONS_HELD


def _trace(args: argparse.Namespace) -> int:
    from ..drivers.simulation import simulate

    (loaded,) = _load_all([str(args.file)], args.seed)
    scenario = loaded.scenario
    ladder = Ladder(str(args.call))
    if args.mode == "sip":
        if not _sip_ready():
            return INPUT_REFUSED
        from ..drivers.sip_replay import run_sip
        result = run_sip(scenario, time_scale=args.time_scale, observers=[ladder],
                         on_message=ladder.sip)
    else:
        result = simulate(scenario, observers=[ladder])
    record = next((r for r in result.records if r.id == str(args.call)), None)
    if record is None:
        raise sc.ScenarioError(str(args.file), None, "--call",
                               f"there is no call {args.call} in this run",
                               f"the run made {len(result.records)} callbacks")
    print(f"# {scenario.name}" + (" (over real SIP)" if args.mode == "sip" else ""))
    print(f"# call {args.call}, seed {result.seed}: {record.outcome}"
          f" (centre {record.centre or '-'}, code {record.code or '-'}, "
          f"failovers {record.failovers})")
    print("#        time  --> event to the flow / <-- command from the flow")
    for line in ladder.lines:
        print(line)
    return EXPECTATIONS_HELD


_KEY_METRICS = ("callback_latency.p50", "callback_latency.p95", "time_to_agent.p95",
                "outcomes.connected", "outcomes.no_agent", "outcomes.person_abandoned",
                "failovers.mean", "agent_occupancy.mean", "trunk_occupancy.max",
                "concurrent_rooms.max")


def _load(args: argparse.Namespace) -> int:
    from ..studies.load import default_interval, failed_expectations, run_replications, study
    from .outputs import write_json, write_metrics_csv, write_stats_csv

    (loaded,) = _load_all([str(args.file)], args.seed)
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
    _print_study(document)
    if args.json:
        write_json(document, args.json)
    if args.csv:
        write_metrics_csv(document, args.csv)
    if args.stats_csv:
        write_stats_csv(runs[0], interval, args.stats_csv)
    if args.report:
        from .report import write_report
        write_report(args.report, document)
    return EXPECTATION_FAILED if failed_expectations(document) else EXPECTATIONS_HELD


def _print_study(document: dict[str, Any]) -> None:
    print(f"# {document['scenario']}: {document['replications']} replication(s), "
          f"{document['callbacks']} callbacks after the warm-up")
    print(f"{'metric':<28} {'mean':>10}  95% confidence interval")
    for name in _KEY_METRICS:
        value = document["metrics"][name]
        mean, ci = value["mean"], value["ci95"]
        shown = "-" if mean is None else f"{mean:.4g}"
        band = "" if ci is None else f"[{ci[0]:.4g}, {ci[1]:.4g}]"
        print(f"{name:<28} {shown:>10}  {band}")
    for verdict in document["expectations"]:
        state = "held" if verdict["passed"] else "FAILED"
        print(f"expect {verdict['expect']}: {state} ({verdict['value']})")


def _sweep(args: argparse.Namespace) -> int:
    from .outputs import write_json
    from ..studies.sweep import Point, Sweep, parse_target, parse_vary

    (loaded,) = _load_all([str(args.file)], args.seed)
    try:
        varies = [parse_vary(text) for text in args.vary]
        target = parse_target(args.target) if args.target else None
    except ValueError as error:
        raise sc.ScenarioError(str(args.file), None, "", str(error), "see callback-emu sweep -h")

    def show(point: Point) -> None:
        setting = ", ".join(f"{k}={v}" for k, v in point.setting.items())
        names = [c.metric for c in target] if target else list(_SWEEP_SHOWN)
        shown = ", ".join(f"{name} {_mean(point.metrics[name])}" for name in names)
        verdict = "" if point.met is None else ("  meets the target" if point.met else "  misses")
        print(f"{setting}: {shown}{verdict}", flush=True)

    sweep = Sweep(loaded.path, varies, target, args.replications, args.workers,
                  args.scheduler, on_point=show)
    answer = sweep.run()
    document = {"scenario": loaded.scenario.name, "description": loaded.scenario.description,
                "seed": loaded.scenario.seed, "replications": args.replications,
                "callbacks": 0, "metrics": answer.metrics if answer else {},
                "expectations": [], "sweep": sweep.document(answer)}
    summary = document["sweep"]
    print(f"evaluated {summary['evaluated']} of {summary['grid']} configurations")
    if not sweep.monotone:
        print("the metrics are not monotone in the varied keys here: the whole grid was run")
    if target is not None:
        if answer is None:
            print(f"no configuration meets {args.target}")
        else:
            print("smallest configuration that meets the target: "
                  + ", ".join(f"{k}={v}" for k, v in answer.setting.items()))
    if args.json:
        write_json(document, args.json)
    if args.report:
        from .report import write_report
        write_report(args.report, document)
    return EXPECTATION_FAILED if target is not None and answer is None else EXPECTATIONS_HELD


_SWEEP_SHOWN = ("callback_latency.p95", "outcomes.no_agent", "agent_occupancy.mean")


def _mean(value: dict[str, Any]) -> str:
    return "-" if value["mean"] is None else f"{value['mean']:.4g}"


def _diff(args: argparse.Namespace) -> int:
    (loaded,) = _load_all([str(args.file)], args.seed)
    if not _sip_ready():
        return INPUT_REFUSED
    from ..studies.diff import calibrate, compare, print_diff

    result = compare(loaded.scenario, time_scale=args.time_scale)
    print(f"# {loaded.scenario.name}: simulated time against real SIP (seed {result.sim.seed})")
    print_diff(result, sys.stdout)
    if args.calibrate:
        fitted = calibrate(result, loaded.path, args.calibrate)
        print(f"\ncalibrated PBX timings written to {args.calibrate}: "
              + ", ".join(f"{k} {v}" for k, v in fitted.items() if v))
    return EXPECTATIONS_HELD if result.agree else EXPECTATION_FAILED


if __name__ == "__main__":
    sys.exit(main())
