"""Scenario errors: one `ScenarioError` that names file, line and key, with a hint.

Validation errors from pydantic are turned into one, located by the line of
the key at fault; misspelt keys get a "did you mean".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass
class ScenarioError(Exception):
    """A scenario file refused: the file, the line and key at fault, what is wrong, a hint."""

    file: str
    line: int | None
    key: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{where}:{key} {self.message}{hint}"


def _locate(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> tuple[str, int | None]:
    """The dotted key and its line; pydantic's union tags are not in the file and are skipped."""
    path: tuple[Any, ...] = ()
    for part in loc:
        if path + (part,) in lines:
            path += (part,)
    line = lines.get(path)
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in path]
    return "".join(parts).lstrip("."), line


_METRIC_BOUNDS = ("below", "above", "at_most", "at_least", "between")
_UNIT_WORDS = re.compile(r"duration|rate|size|unit|\bnot a\b")


def _explain(error: ValidationError, lines: dict[tuple[Any, ...], int], path: Path) -> ScenarioError:
    # A misspelt key also makes a key go missing: name the misspelling first,
    # then prefer the deepest error, the most precise one.
    first = max(error.errors(), key=lambda e: (e["type"] == "extra_forbidden", len(e["loc"])))
    key, line = _locate(tuple(first["loc"]), lines)
    if first["type"] == "extra_forbidden":
        unknown = str(first["loc"][-1])
        if "call-expectation" in first["loc"] and unknown in _METRIC_BOUNDS:
            return ScenarioError(str(path), line, key, f"{unknown!r} bounds a metric",
                                 "a metric expectation names it: {metric: NAME.SUFFIX, "
                                 f"{unknown}: ...}}; a call expectation names a call: "
                                 "{call: 1, outcome: connected}")
        close = difflib.get_close_matches(unknown, [k for k in _all_keys() if k != unknown], n=1)
        hint = f"did you mean {close[0]!r}?" if close else "docs/scenario-format.md lists every key"
        return ScenarioError(str(path), line, key, f"unknown key {unknown!r}", hint)
    if first["type"] == "missing":
        return ScenarioError(str(path), line, key, f"missing key {first['loc'][-1]!r}",
                             "docs/scenario-format.md shows every key and its default")
    message = first["msg"].removeprefix("Value error, ")
    hint = _hint(first["type"])
    if first["type"] == "value_error" and not _UNIT_WORDS.search(message):
        hint = ""                      # a rule of the model: its message says it all
    if key.startswith("network.") and first["type"] == "value_error":
        hint = "bit rates take kbit/s, Mbit/s or Gbit/s (256kbit/s), sizes bytes (200B, 64kB), durations units (20ms)"
    if key == "arrivals.file" and first["type"] == "value_error":
        hint = ("a header row (at, and service and person if wanted), then a row per "
                "callback; at: 3600, 1h or 08:15:00")
    return ScenarioError(str(path), line, key, message, hint)


def _hint(kind: str) -> str:
    return {
        "int_parsing": "write a whole number", "int_type": "write a whole number",
        "float_parsing": "write a number", "string_type": "write a text value",
        "list_type": "write a list: [a, b] or '- a' lines",
        "dict_type": "write a mapping: {key: value} or indented 'key: value' lines",
        "greater_than_equal": "the value is too small", "less_than_equal": "the value is too large",
        "greater_than": "the value is too small", "less_than": "the value is too large",
        "model_type": "write a mapping: {key: value} or indented 'key: value' lines",
        "bool_parsing": "write true or false", "too_short": "give at least one value",
        "literal_error": "use one of the values listed", "enum": "use one of the values listed",
    }.get(kind, "durations take units (300ms, 4s, 2min), rates a period (120/h), "
                "bit rates bits a second (1.2Mbit/s)")


def _all_keys() -> list[str]:
    from .schema import schema_models     # here: the schema's validators raise these errors

    return sorted({info.alias or name for model in schema_models()
                   for name, info in model.model_fields.items()})


def _suggest(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    listed = ", ".join(sorted(known)) or "none"
    return f"did you mean {close[0]!r}? (known: {listed})" if close else f"known: {listed}"
