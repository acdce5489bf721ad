"""`callback-emu compare`: variants of one scenario side by side, on the same seeds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from .. import scenario as sc
from ..studies.compare import SHOWN, Comparison, parse_variant
from . import figures, outputs
from .common import EXPECTATIONS_HELD, add_show, count, load_one, shown, subcommand, writable


def add(commands: Any) -> None:
    """The `compare` subcommand and its options."""
    parser = subcommand(
        commands, "compare", "run variants of a scenario (a few keys changed) on the same "
        "seeds and compare them",
        "callback-emu compare scenarios/capacity/callback_policy_day.yaml --variant 'no retries' "
        "--variant retries policy.retry.person_busy.attempts=3 "
        "policy.retry.person_no_answer.attempts=2 --replications 5 --report out/policy.html",
        "callback-emu compare FILE --variant now --variant 'two more agents' "
        "centres.madrid.terminals=12",
        handler=handle)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--variant", action="append", nargs="+", required=True,
                        metavar="NAME [KEY=VALUE ...]",
                        help="a name, then the dotted keys it changes, values read as YAML "
                             "(services.loans.hours='{mon-fri: \"08:00-20:00\"}'); the first "
                             "variant is the baseline; give it once per variant")
    parser.add_argument("--replications", type=count, default=5, metavar="N",
                        help="replications per variant, the same seeds for each")
    parser.add_argument("--seed", type=int, help="override the scenario's seed (default: the file's)")
    parser.add_argument("--workers", type=count, metavar="W",
                        help="local processes (default: one per core)")
    add_show(parser, SHOWN)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the comparison as JSON")
    parser.add_argument("--report", type=Path, metavar="PATH", help="write an HTML report")


def handle(args: argparse.Namespace) -> int:
    """Run every variant and print their figures side by side."""
    writable(args, "--json", "--report")
    names_shown = shown(args, SHOWN)
    loaded = load_one(args.file, args.seed)
    try:
        variants = [parse_variant(words) for words in args.variant]
    except ValueError as error:
        raise sc.ScenarioError(str(args.file), None, "", str(error),
                               "see callback-emu compare -h") from None
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise sc.ScenarioError(str(args.file), None, "", "two variants have the same name",
                               "give each --variant a name of its own")
    path = loaded.path
    if args.seed is not None:
        variants = [type(v)(v.name, {"seed": args.seed, **v.setting}) for v in variants]
    comparison = Comparison(path, variants, args.replications, args.workers,
                            on_variant=lambda name, _: print(f"ran {name}", flush=True))
    comparison.run()
    document = comparison.document(loaded.scenario)
    print(table(document, names_shown))
    if args.json:
        outputs.write_json(document, args.json)
    if args.report:
        from .report import write_report
        write_report(args.report, document)
    return EXPECTATIONS_HELD


def table(document: dict[str, Any], names: Sequence[str] = SHOWN) -> str:
    """The metrics down, the variants across: mean [95 % interval]."""
    variants = document["compare"]["variants"]
    rows = [["metric", *[v["name"] for v in variants]]]
    for name in names:
        cells = [name]
        for variant in variants:
            entry = variant["metrics"].get(name) or {}
            ci = figures.ci_text(entry.get("ci95"), name)
            cells.append(figures.value(entry.get("mean"), name) + (f" [{ci}]" if ci else ""))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    replications = document["replications"]
    lines.append(f"({replications} replications per variant, the same seeds for each; "
                 "extra_lines: paired difference from the first variant)")
    return "\n".join(lines)
