"""The `callback-emu` command.

Exit codes (SCENARIOS.md): 0 every expectation held; 1 an expectation
failed; 2 the input was refused (bad file, bad option), with a message that
names file, line and key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import scenario as sc
from .runner import print_table, run_scenario, write_json, write_junit
from .trace import Ladder

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
    run.add_argument("--junit", type=Path, metavar="PATH", help="write JUnit XML here")
    run.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON here")

    trace = commands.add_parser("trace", help="print the ladder of one callback")
    trace.add_argument("file", type=Path, metavar="FILE")
    trace.add_argument("--call", type=int, default=1, metavar="N",
                       help="which callback (1 = the first in the file; default 1)")
    trace.add_argument("--seed", type=int, help="override the scenario's seed")
    trace.add_argument("--mode", choices=["sim"], default="sim")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
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


def _run(args: argparse.Namespace) -> int:
    if args.mode == "sip":
        print("callback-emu: --mode sip: the real SIP mode is not built yet; use --mode sim",
              file=sys.stderr)
        return INPUT_REFUSED
    runs = [run_scenario(item, args.mode) for item in _load_all(args.paths, args.seed)]
    print_table(runs, sys.stdout)
    if args.junit:
        write_junit(runs, args.junit)
    if args.json:
        write_json(runs, args.json)
    failed = any(not r.passed and not r.skipped for r in runs)
    return EXPECTATION_FAILED if failed else EXPECTATIONS_HELD


def _trace(args: argparse.Namespace) -> int:
    from .engine import simulate

    (loaded,) = _load_all([str(args.file)], args.seed)
    scenario = loaded.scenario
    ladder = Ladder(str(args.call))
    result = simulate(scenario, observers=[ladder])
    record = next((r for r in result.records if r.id == str(args.call)), None)
    if record is None:
        raise sc.ScenarioError(str(args.file), None, "--call",
                               f"there is no call {args.call} in this run",
                               f"the run made {len(result.records)} callbacks")
    print(f"# {scenario.name}")
    print(f"# call {args.call}, seed {result.seed}: {record.outcome}"
          f" (centre {record.centre or '-'}, code {record.code or '-'}, "
          f"failovers {record.failovers})")
    print("#        time  --> event to the flow / <-- command from the flow")
    for line in ladder.lines:
        print(line)
    return EXPECTATIONS_HELD


if __name__ == "__main__":
    sys.exit(main())
