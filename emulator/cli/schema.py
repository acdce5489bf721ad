"""`callback-emu schema`: the JSON Schema of scenario files, for editors and CI checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..scenario.json_schema import scenario_schema
from .common import EXPECTATIONS_HELD, subcommand, writable


def add(commands: Any) -> None:
    """The `schema` subcommand and its options."""
    parser = subcommand(
        commands, "schema", "print the JSON Schema of scenario files (for editors' completion "
        "and checks)",
        "callback-emu schema > scenario.schema.json",
        "callback-emu schema --output docs/scenario.schema.json",
        "# then, first line of a scenario: # yaml-language-server: $schema=scenario.schema.json",
        handler=handle)
    parser.add_argument("--output", type=Path, metavar="PATH",
                        help="write it to this file instead of printing it")


def handle(args: argparse.Namespace) -> int:
    """Print (or write) the schema."""
    writable(args, "--output")
    text = json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return EXPECTATIONS_HELD
