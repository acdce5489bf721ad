"""Scenario files changed by key: a sweep's points, a calibrated or planned copy.

Keys are dotted paths of the file (`centres.madrid.terminals`); the result is
validated like any file, so a misspelt key is refused the same way.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ScenarioError
from .loading import loads, read_yaml
from .schema import Scenario


def raw(path: Path) -> dict[str, Any]:
    """The file's mapping as the loader reads it (`8:30` stays a clock time), to change
    keys of (see `varied`)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), 1, "", "a scenario is a YAML mapping (key: value lines)")
    return data


def with_keys(data: Mapping[str, Any], path: Path, setting: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `data` with each dotted key of `setting` set (missing sections made)."""
    out = copy.deepcopy(dict(data))
    for key, value in setting.items():
        node: Any = out
        parts = key.split(".")
        for part in parts[:-1]:
            # A missing section is made (pbx.trunks in a file with no 'pbx:'); a
            # misspelt key is then refused by the schema like any other.
            node = node.setdefault(part, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise ScenarioError(str(path), None, key, f"{key!r} is not a key to vary",
                                "name a key of the file by its dotted path, "
                                "e.g. centres.madrid.terminals")
        node[parts[-1]] = value
    return out


def varied(data: Mapping[str, Any], path: Path, setting: Mapping[str, Any]) -> Scenario:
    """The scenario with the keys of `setting` set; a bad key is refused like a bad file."""
    changed = with_keys(data, path, setting)
    try:
        # Keys keep their order: services and centres are drawn in file order.
        return loads(yaml.safe_dump(changed, sort_keys=False), path).scenario
    except ScenarioError as error:
        key = ", ".join(setting)
        raise ScenarioError(str(path), None, key, f"--vary {key}: {error.message}",
                            error.hint) from None


def write_with(source: Path, setting: Mapping[str, Any], target: Path, header: str = "") -> None:
    """Write `source` with the keys of `setting` set into `target` (comments lost, keys kept)."""
    changed = with_keys(raw(source), source, setting)
    target.write_text(header + yaml.safe_dump(changed, sort_keys=False, allow_unicode=True),
                      encoding="utf-8")


def value_of(text: str) -> Any:
    """A KEY=VALUE word's value read as YAML (`3`, `2min`, `{mon-fri: "08:00-20:00"}`)."""
    try:
        return yaml.safe_load(text) if text else None
    except yaml.YAMLError as error:
        raise ValueError(f"the value is not YAML: {error}") from None
