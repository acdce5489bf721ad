"""`callback-emu trace`: the ladder of one callback, every event and command with its time."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reference_impl.flow import Outcome

from .. import scenario as sc
from ..drivers.simulation import SimResult
from .common import (EXPECTATIONS_HELD, INPUT_REFUSED, load_one, positive, sip_ready,
                     subcommand)
from .ladder import Ladder


def add(commands: Any) -> None:
    """The `trace` subcommand and its options."""
    parser = subcommand(
        commands, "trace", "print the ladder of one callback",
        "callback-emu trace scenarios/qa/failover_second_centre.yaml --call 1",
        "callback-emu trace scenarios/capacity/weekday_three_centres.yaml --outcome no_agent",
        "callback-emu trace scenarios/qa/outcome_connected.yaml --mode sip",
        handler=handle)
    parser.add_argument("file", type=Path, metavar="FILE")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--call", type=int, metavar="N",
                       help="which callback (1 = the first in the file; default 1)")
    which.add_argument("--outcome", choices=[o.value for o in Outcome], metavar="OUTCOME",
                       help="the first callback that ended so (e.g. no_agent)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--mode", choices=["sim", "sip"], default="sim",
                        help="sip: over real SIP, with the SIP messages in the ladder")
    parser.add_argument("--time-scale", type=positive, default=1.0, metavar="K",
                        help="sip mode: talk times run K times faster")
    parser.add_argument("--clock", choices=["auto", "yes", "no"], default="auto",
                        help="times as clock times (08:15:30.250); auto: when the scenario "
                             "has a day (arrivals by profile or from a file)")


def handle(args: argparse.Namespace) -> int:
    """Run the scenario, then print the ladder of the callback asked for."""
    loaded = load_one(args.file, args.seed)
    scenario = loaded.scenario
    if args.mode == "sip" and not sip_ready():
        return INPUT_REFUSED
    if args.outcome is not None:
        # Which call ended so is known only after a run: find it, then trace it.
        found = _first_with(_run(scenario, args, None), args.outcome)
        if found is None:
            raise sc.ScenarioError(str(args.file), None, "--outcome",
                                   f"no callback ended {args.outcome} in this run",
                                   "callback-emu run FILE --json out.json lists every call")
        call = found
    else:
        call = str(args.call or 1)
    ladder = Ladder(call, clock=_clock(args.clock, scenario))
    result = _run(scenario, args, ladder)
    record = next((r for r in result.records if r.id == call), None)
    if record is None:
        raise sc.ScenarioError(str(args.file), None, "--call", f"there is no call {call} in this run",
                               f"the run made {len(result.records)} callbacks")
    print(f"# {scenario.name}" + (" (over real SIP)" if args.mode == "sip" else ""))
    print(f"# call {call}, seed {result.seed}: {record.outcome}"
          f" (centre {record.centre or '-'}, code {record.code or '-'}, "
          f"failovers {record.failovers})")
    print("#        time  --> event to the flow / <-- command from the flow")
    for line in ladder.lines:
        print(line)
    return EXPECTATIONS_HELD


def _run(scenario: sc.Scenario, args: argparse.Namespace, ladder: Ladder | None) -> SimResult:
    observers = [ladder] if ladder is not None else []
    if args.mode == "sip":
        from ..drivers.sip_replay import run_sip
        return run_sip(scenario, time_scale=args.time_scale, observers=observers,
                       on_message=ladder.sip if ladder is not None else None)
    from ..drivers.simulation import simulate
    return simulate(scenario, observers=observers)


def _first_with(result: SimResult, outcome: str) -> str | None:
    ended = [r for r in result.records if r.outcome == outcome]
    return min(ended, key=lambda r: (r.times.get("requested", 0.0), int(r.id))).id if ended else None


def _clock(choice: str, scenario: sc.Scenario) -> bool:
    if choice != "auto":
        return choice == "yes"
    arrivals = scenario.arrivals
    return arrivals is not None and (arrivals.profile is not None or arrivals.file is not None)
