"""Reading a scenario file: bytes, then YAML with the line of every key, then the
schema, then the checks.

The file is read as bytes and must be UTF-8 text. YAML is read with limits a
scenario never reaches (nesting, size once aliases are expanded), so a hostile
or broken file is refused with a message, never with a traceback or all the
memory. Keys may not repeat within a mapping (YAML would silently keep the last),
and `8:30` stays the text it looks like (YAML 1.1 would read it as 510).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .checks import check_references, sanity
from .errors import ScenarioError, _explain
from .schema import Scenario

MAX_BYTES = 10_000_000          # a scenario file is a few kB; recorded traffic goes in a CSV
MAX_DEPTH = 64                  # nesting of mappings and lists
MAX_NODES = 200_000             # values once aliases are expanded (an "alias bomb" has billions)

Lines = dict[tuple[Any, ...], int]


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario, the file it came from, and what looked wrong but was taken."""

    scenario: Scenario
    path: Path
    warnings: tuple[str, ...] = field(default=())


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without YAML 1.1's base-60 numbers (`8:30` is 510 there)."""


_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_INT, re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


def load(path: str | Path) -> LoadedScenario:
    """Load and validate one scenario file, or raise `ScenarioError`."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise ScenarioError(str(path), None, "", f"cannot read the file: {error.strerror}")
    if len(data) > MAX_BYTES:
        raise ScenarioError(str(path), None, "", f"the file is over {MAX_BYTES // 1_000_000} MB",
                            "a scenario is a few kB; recorded traffic goes in an arrivals CSV")
    return loads(decode(data, path), path)


def read_yaml(path: Path) -> Any:
    """A YAML file's document, read within the same limits as a scenario."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScenarioError(str(path), None, "", f"cannot read the file: {error.strerror}")
    return _parse(decode(data, path), path)[0]


def decode(data: bytes, path: Path) -> str:
    """UTF-8 text (a BOM is fine), or a `ScenarioError` naming the line at fault."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:200].count(b"\x00") > 1:
        kind = "UTF-16 text" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "binary, not text"
        raise ScenarioError(str(path), 1, "", f"the file is {kind}",
                            "save the scenario as UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        raise ScenarioError(str(path), line, "", f"byte {data[error.start]:#04x} is not UTF-8 "
                            f"(column {column})",
                            "save the scenario as UTF-8 text (Latin-1 or Windows-1252 is not "
                            "read)") from None


def loads(text: str, path: Path = Path("<scenario>")) -> LoadedScenario:
    """Validate a scenario given as text (`path` names it in messages and anchors files)."""
    data, lines = _parse(text, path)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), 1, "", "a scenario is a YAML mapping (key: value lines)",
                            "start with 'name:', 'services:', 'centres:' and 'callbacks:'")
    try:
        scenario = Scenario.model_validate(data, context={"base": path.parent})
    except ValidationError as error:
        raise _explain(error, lines, path) from None
    except RecursionError:
        raise _too_deep(path) from None
    check_references(scenario, lines, path)
    return LoadedScenario(scenario, path, tuple(sanity(scenario, lines, path)))


def _parse(text: str, path: Path) -> tuple[Any, Lines]:
    """The document and the line of every key, within the limits."""
    loader = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        lines = _key_lines(root, path)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ScenarioError(str(path), mark.line + 1 if mark else None, "",
                            f"not valid YAML: {problem}",
                            "check indentation, and quote values that hold ':' or '#'") from None
    except RecursionError:
        raise _too_deep(path) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _too_deep(path: Path) -> ScenarioError:
    return ScenarioError(str(path), None, "", f"nested deeper than {MAX_DEPTH} levels",
                         "a scenario nests a few levels: check the indentation")


def _key_lines(root: yaml.Node | None, path: Path) -> Lines:
    """The 1-based line of every key and list item, by its path in the document;
    refuses repeated keys, deep nesting and documents that aliases blow up."""
    lines: Lines = {}
    if root is None:
        return lines
    if _expanded(root) > MAX_NODES:
        raise ScenarioError(str(path), None, "", f"the file holds more than {MAX_NODES:,} "
                            "values once its aliases (*name) are expanded",
                            "an alias repeats what its anchor (&name) holds: use fewer")
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, where = stack.pop()
        if len(where) > MAX_DEPTH:
            raise ScenarioError(str(path), node.start_mark.line + 1, _dotted(where),
                                f"nested deeper than {MAX_DEPTH} levels",
                                "a scenario nests a few levels: check the indentation")
        for key, child in _children(node, where, path, lines):
            stack.append((child, where + (key,)))
    return lines


def _children(node: yaml.Node, where: tuple[Any, ...], path: Path,
              lines: Lines) -> list[tuple[Any, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        out = []
        for key, value in node.value:
            line = key.start_mark.line + 1
            if key.value in seen and key.value != "<<":
                raise ScenarioError(str(path), line, _dotted(where + (key.value,)),
                                    f"the key {key.value!r} is given twice (also on line "
                                    f"{seen[key.value]})", "keep one of them")
            seen[key.value] = line
            lines.setdefault(where + (key.value,), line)
            out.append((key.value, value))
        return out
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault(where + (index,), item.start_mark.line + 1)
        return list(enumerate(node.value))
    return []


def _expanded(root: yaml.Node) -> int:
    """How many values the document holds with every alias expanded (capped)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:                      # post-order: a node's size after its children's
        node, children_done = stack.pop()
        if children_done:
            total = 1 + sum(sizes[id(child)] for child in _kids(node))
            sizes[id(node)] = min(total, MAX_NODES + 1)
        elif id(node) not in sizes:
            sizes[id(node)] = 0       # under way: a recursive alias counts nothing more
            stack.append((node, True))
            stack += [(child, False) for child in _kids(node) if id(child) not in sizes]
    return sizes[id(root)]


def _kids(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _dotted(where: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")
