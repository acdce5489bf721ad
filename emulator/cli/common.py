"""What every subcommand shares: exit codes, option types, help, loading, output paths."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import scenario as sc
from ..measure.catalogue import check_metric_name
from ..units import parse_duration

# SCENARIOS' exit codes: every expectation held; one failed; the input was refused.
EXPECTATIONS_HELD, EXPECTATION_FAILED, INPUT_REFUSED = 0, 1, 2


class InputRefused(Exception):
    """A bad option or path, found before anything runs: a one-line message, exit 2."""


class Help(argparse.RawDescriptionHelpFormatter):
    """Help that keeps the examples' lines and shows every default that means something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" not in text and default not in (None, False, argparse.SUPPRESS)
                and action.option_strings and not isinstance(default, list)):
            text += " (default: %(default)s)"
        return text


def examples(*lines: str) -> str:
    """The epilog of a subcommand's help: a few commands to copy."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def subcommand(commands: Any, name: str, summary: str, *example_lines: str,
               handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """Add a subcommand with its one-line summary, examples and handler."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=summary, epilog=examples(*example_lines),
        formatter_class=Help)
    parser.set_defaults(handler=handler)
    return parser


# -- option types ---------------------------------------------------------------


def positive(text: str) -> float:
    """A number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def count(text: str) -> int:
    """A whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def share(text: str) -> float:
    """A share above 0 and below 1, as a percentage (2%) or a fraction (0.02)."""
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share (write 2% or 0.02)") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 and below 100 %")
    return value


def duration(text: str) -> float:
    """A duration above 0, in any form a scenario file takes (300, 30min, 8h30min, 00:30)."""
    try:
        value = parse_duration(text if not _is_number(text) else float(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- scenario files -------------------------------------------------------------


def load_all(paths: Sequence[str], seed: int | None) -> list[sc.LoadedScenario]:
    """Every scenario named or under the folders named; every bad file is told, nothing runs."""
    files = sc.scenario_files(list(paths))
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
        for warning in item.warnings:
            print(f"callback-emu: warning: {warning}", file=sys.stderr)
        if seed is not None:
            item = sc.LoadedScenario(item.scenario.model_copy(update={"seed": seed}), item.path,
                                     item.warnings)
        loaded.append(item)
    for refused in errors[:-1]:
        print(f"callback-emu: {refused}", file=sys.stderr)
    if errors:
        raise errors[-1]
    return loaded


def load_one(path: Path, seed: int | None) -> sc.LoadedScenario:
    """One scenario file (a folder is refused: these commands take one file)."""
    if path.is_dir():
        raise InputRefused(f"{path} is a folder: this command takes one scenario file")
    (loaded,) = load_all([str(path)], seed)
    return loaded


def check_metrics(option: str, names: Sequence[str]) -> None:
    """Refuse an unknown metric name in an option, before anything runs."""
    for name in names:
        problem = check_metric_name(name)
        if problem:
            raise InputRefused(f"{option}: {problem[0]} ({problem[1]})")


def add_show(parser: argparse.ArgumentParser, default: Sequence[str]) -> None:
    """The `--show` option: the metrics a study prints (default: `default`)."""
    parser.add_argument("--show", metavar="METRIC,...",
                        help="the metrics to print, e.g. service_level,queued "
                             f"(default: {','.join(default)})")


def shown(args: argparse.Namespace, default: Sequence[str]) -> list[str]:
    """The metrics of `--show` (refused if one is unknown), or `default`."""
    if not args.show:
        return list(default)
    names = [n.strip() for n in args.show.split(",") if n.strip()]
    check_metrics("--show", names)
    return names


# -- outputs --------------------------------------------------------------------


def writable(args: argparse.Namespace, *options: str) -> None:
    """Make the folders of the output paths given and check each can be written.

    Done before the run starts, so a long run never ends in a file it cannot write.
    """
    for option in options:
        path = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if path is None:
            continue
        path = Path(path)
        if path.is_dir():
            raise InputRefused(f"{option} {path}: is a folder, not a file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputRefused(f"{option} {path}: cannot make its folder "
                               f"({error.strerror or error})") from None
        existed = path.exists()
        try:                                  # the one sure test: open it for writing
            with path.open("a"):
                pass
        except OSError as error:
            raise InputRefused(f"{option} {path}: cannot be written "
                               f"({error.strerror or error})") from None
        if not existed:
            path.unlink()


def sip_ready() -> bool:
    """Whether SIPp is installed; if not, say how to get it."""
    from ..models.pbx.sipp import sipp_path

    if sipp_path() is None:
        print("callback-emu: --mode sip needs SIPp (Debian package sip-tester): "
              "apt-get install sip-tester", file=sys.stderr)
        return False
    return True
