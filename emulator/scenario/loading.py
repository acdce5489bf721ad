"""Reading a scenario file: YAML with the line of every key, then the schema, then the checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .checks import check_references
from .errors import ScenarioError, _explain
from .schema import Scenario


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and the file it came from."""

    scenario: Scenario
    path: Path


def load(path: str | Path) -> LoadedScenario:
    """Load and validate one scenario file, or raise `ScenarioError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ScenarioError(str(path), None, "", f"cannot read the file: {error.strerror}")
    return loads(text, path)


def loads(text: str, path: Path = Path("<scenario>")) -> LoadedScenario:
    try:
        data = yaml.safe_load(text)
        lines = _key_lines(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError(str(path), mark.line + 1 if mark else None, "",
                            f"not valid YAML: {problem}",
                            "check indentation, and quote values that hold ':' or '#'")
    if not isinstance(data, dict):
        raise ScenarioError(str(path), 1, "", "a scenario is a YAML mapping (key: value lines)",
                            "start with 'name:', 'services:', 'centres:' and 'callbacks:'")
    try:
        scenario = Scenario.model_validate(data, context={"base": path.parent})
    except ValidationError as error:
        raise _explain(error, lines, path) from None
    check_references(scenario, lines, path)
    return LoadedScenario(scenario, path)


def _key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """The 1-based line of every key and list item, by its path in the document."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[path + (index,)] = item.start_mark.line + 1
                walk(item, path + (index,))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines
