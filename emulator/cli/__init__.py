"""The `callback-emu` command: one module per subcommand, each with its parser and handler.

Exit codes: 0 every expectation held; 1 an expectation failed; 2 the input
was refused (bad file, bad option, an output that cannot be written), with a
message that names file, line and key, before anything runs.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Sequence

from .. import scenario as sc
from . import (agents, compare, diff, directory, load, metrics, run, schema, serve, staff, sweep,
               trace)
from .common import EXPECTATIONS_HELD, INPUT_REFUSED, Help, InputRefused

SUBCOMMANDS = (run, load, sweep, compare, staff, trace, diff, serve, agents, directory, schema,
               metrics)


def _version() -> str:
    try:
        return version("callback-emulator")
    except PackageNotFoundError:          # run from a checkout that was never installed
        return "unknown"


def parser() -> argparse.ArgumentParser:
    """The command's parser, every subcommand added."""
    top = argparse.ArgumentParser(
        prog="callback-emu", formatter_class=Help,
        description="Emulate and test the web-callback system: scenario suites, load "
                    "studies, sweeps, traces, the system itself on one machine.",
        epilog="examples:\n  callback-emu run scenarios/qa\n"
               "  callback-emu load scenarios/capacity/weekday_three_centres.yaml "
               "--replications 10 --report out/weekday.html\n"
               "  callback-emu metrics        # every metric, suffix, outcome and profile\n"
               "\n`callback-emu COMMAND -h` shows a command's options and examples.")
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit code."""
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except sc.ScenarioError as error:
        print(f"callback-emu: {error}", file=sys.stderr)
        return INPUT_REFUSED
    except InputRefused as error:
        print(f"callback-emu: {error}", file=sys.stderr)
        return INPUT_REFUSED
    except BrokenPipeError:               # `callback-emu ... | head`: the reader has gone
        sys.stderr.close()
        return EXPECTATIONS_HELD
    except KeyboardInterrupt:
        print("callback-emu: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
