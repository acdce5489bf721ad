"""`callback-emu metrics`: every metric with its unit, the suffixes, the outcomes, the profiles."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from typing import Any, TextIO

from ..measure.catalogue import (COUNTED, FRACTIONS, LEVEL_SUFFIXES, LEVELS, OUTCOMES, QUALITY,
                                 SERIES_SUFFIXES, STAGES)
from ..models import distributions as d
from ..models.people import AGENTS, PEOPLE
from .common import EXPECTATIONS_HELD, subcommand

def add(commands: Any) -> None:
    """The `metrics` subcommand."""
    subcommand(commands, "metrics", "list the metrics, their suffixes and units, the outcomes "
               "and the built-in profiles",
               "callback-emu metrics",
               "callback-emu metrics | grep occupancy",
               handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the topic."""
    write(sys.stdout)
    return EXPECTATIONS_HELD


def write(out: TextIO) -> None:
    """The whole topic, as text."""
    print("Metrics (expect: {metric: NAME.SUFFIX, below|above|at_most|at_least|between}; "
          "--target NAME.SUFFIX<VALUE)\n", file=out)
    print(f"Per callback, suffixes .{', .'.join(SERIES_SUFFIXES)} and any percentile "
          "(.p80, .p99.9):", file=out)
    for stage in STAGES.values():
        print(f"  {stage.name:<22} s         {stage.span}", file=out)
    for metric in (*COUNTED.values(), *QUALITY.values()):
        print(f"  {metric.name:<22} {_unit(metric.unit):<9} {metric.what}", file=out)
    print(f"\nLevels over time, suffixes .{', .'.join(LEVEL_SUFFIXES)} (time-weighted mean):",
          file=out)
    for metric in LEVELS.values():
        print(f"  {metric.name:<22} {_unit(metric.unit):<9} {metric.what}", file=out)
    print("\nFractions of all callbacks (no suffix):", file=out)
    for metric in FRACTIONS.values():
        if not metric.name.startswith("outcomes."):
            print(f"  {metric.name:<22} fraction  {metric.what}", file=out)
    print("  outcomes.<outcome>     fraction  callbacks that ended so", file=out)
    print("\nOutcomes:", file=out)
    for outcome, meaning in OUTCOMES.items():
        print(f"  {outcome:<22} {meaning}", file=out)
    _profiles(out)


def _unit(unit: str) -> str:
    return {"count": "count"}.get(unit, unit)


def _profiles(out: TextIO) -> None:
    print("\nBuilt-in people (a file's own `profiles.people` take precedence):", file=out)
    for name, person in PEOPLE.items():
        print(f"  {name:<14} {_fields(person)}", file=out)
    print("\nBuilt-in agents (`profiles.agents`):", file=out)
    for name, agent in AGENTS.items():
        print(f"  {name:<14} {_fields(agent)}", file=out)


def _fields(profile: Any) -> str:
    parts = []
    for field in dataclasses.fields(profile):
        name, value = field.name, getattr(profile, field.name)
        if value is None or (isinstance(value, float) and math.isinf(value)):
            continue
        unit = "s" if name == "patience" else ""
        parts.append(f"{name} {_shown(value)}{unit}")
    return ", ".join(parts)


def _shown(value: Any) -> str:
    if isinstance(value, d.Fixed):
        return f"{value.value:g}s"
    if isinstance(value, d.Uniform):
        return f"uniform {value.low:g}-{value.high:g}s"
    if isinstance(value, d.LogNormal):
        return f"lognormal median {value.median:g}s sigma {value.sigma:g}"
    if isinstance(value, d.Exponential):
        return f"exponential mean {value.mean_value:g}s"
    if isinstance(value, d.Gamma):
        return f"gamma mean {value.mean_value:g}s cv {value.cv:g}"
    return f"{value:g}" if isinstance(value, float) else str(value)
