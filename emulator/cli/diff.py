"""`callback-emu diff`: a scenario in simulated time and over real SIP, compared call by call."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import (EXPECTATION_FAILED, EXPECTATIONS_HELD, INPUT_REFUSED, load_one, positive,
                     sip_ready, subcommand, writable)


def add(commands: Any) -> None:
    """The `diff` subcommand and its options."""
    parser = subcommand(
        commands, "diff", "run a scenario in sim and over real SIP and compare",
        "callback-emu diff scenarios/qa/failover_second_centre.yaml",
        "callback-emu diff scenarios/qa/outcome_connected.yaml --time-scale 10",
        "callback-emu diff FILE --calibrate out/calibrated.yaml",
        handler=handle)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--seed", type=int, help="override the scenario's seed (default: the file's)")
    parser.add_argument("--time-scale", type=positive, default=1.0, metavar="K",
                        help="talk times run K times faster over SIP")
    parser.add_argument("--calibrate", type=Path, metavar="OUT",
                        help="write the scenario with the PBX timings fitted from the SIP run")


def handle(args: argparse.Namespace) -> int:
    """Run both, print the comparison; exit 1 if an outcome differs."""
    writable(args, "--calibrate")
    loaded = load_one(args.file, args.seed)
    if not sip_ready():
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
