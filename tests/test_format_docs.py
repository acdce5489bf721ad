"""docs/scenario-format.md against the schema it documents.

The page is the only reference users get, so it is held to the code: every
key the schema takes has an entry, every example loads, every distribution
kind, unit, choice, built-in profile and metric is named, and no key path
the page writes is unknown to the schema.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel

from emulator.measure import catalogue
from emulator.models import people
from emulator.models.network.profiles import PROFILES
from emulator.scenario import loads
from emulator.scenario.fields import _DISTRIBUTIONS, _SIZE_DISTRIBUTIONS
from emulator.scenario.loading import _Loader
from emulator.scenario.schema import Scenario
from emulator.units import _BITS, _SECONDS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "scenario-format.md"
TEXT = DOC.read_text(encoding="utf-8")
# Examples are loaded as if they were a file beside the shipped capacity studies, so
# that `arrivals.file: recorded_day_with_a_mailing.csv` names a real file.
EXAMPLE_PATH = ROOT / "scenarios" / "capacity" / "scenario-format-example.yaml"

NAME, ITEM = ".<name>", "[]"          # how the page writes a mapping key and a list item
_FENCE = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.MULTILINE | re.DOTALL)
_YAML = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"^[a-z_][a-z0-9_]*(?:\.<name>|\.[a-z_][a-z0-9_]*|\[\])+$")
TOP_KEYS = [info.alias or name for name, info in Scenario.model_fields.items()]


# -- what the schema holds -------------------------------------------------------

class Schema:
    """Every key of the schema by the dotted paths that reach it, every node, every choice."""

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {}     # "Model.key" -> the paths that reach it
        self.nodes: set[str] = set()            # every path a value can sit at
        self.choices: set[str] = set()          # Literal and enum values
        self._walk(Scenario, "")

    def _walk(self, annotation: Any, prefix: str) -> None:
        if prefix.count(".") + prefix.count("[") > 32:   # no model of the schema nests itself
            return
        origin, args = get_origin(annotation), get_args(annotation)
        if origin is Annotated:
            self._walk(args[0], prefix)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, info in annotation.model_fields.items():
                key = info.alias or name
                path = f"{prefix}.{key}" if prefix else key
                self.keys.setdefault(f"{annotation.__name__}.{key}", set()).add(path)
                self.nodes.add(path)
                self._walk(info.annotation, path)
        elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            self.choices.update(str(member.value) for member in annotation)
        elif origin is Literal:
            self.choices.update(str(arg) for arg in args)
        elif origin is dict:
            self.nodes.add(prefix + NAME)
            self._walk(args[1], prefix + NAME)
        elif origin is list:
            self.nodes.add(prefix + ITEM)
            self._walk(args[0], prefix + ITEM)
        else:                                   # unions, optionals, tuples: what they hold
            for arg in args:
                self._walk(arg, prefix)


SCHEMA = Schema()


# -- what the page holds ---------------------------------------------------------

def prose(text: str) -> str:
    """The page without its fenced blocks (examples are not entries)."""
    return _FENCE.sub("", text)


def inline_code(text: str) -> set[str]:
    """Every `span` outside the fenced blocks."""
    return set(_CODE.findall(prose(text)))


def sections(text: str) -> dict[str, str]:
    """Top-level key -> the page's text under its heading "## `key`" (to the next "## ")."""
    found: dict[str, str] = {}
    parts = re.split(r"^(## .*)$", prose(text), flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2]):
        match = re.fullmatch(r"## `([a-z_]+)`\s*", heading)
        if match:
            found[match[1]] = body
    return found


def has_entry(section: str, path: str) -> bool:
    """A line of `section` starts, as a table's first cell or a list item, with `path`."""
    return re.search(rf"^[ \t]*(?:\|[ \t]*|[-*][ \t]+|\d+\.[ \t]+)`{re.escape(path)}`",
                     section, re.MULTILINE) is not None


def yaml_blocks(text: str) -> list[tuple[int, str]]:
    """(line in the page, text) of every ```yaml block."""
    return [(text.count("\n", 0, m.start()) + 2, m[1]) for m in _YAML.finditer(text)]


def read_yaml(block: str) -> Any:
    return yaml.load(block, Loader=_Loader)   # noqa: S506 - the project's safe loader


def repeated_keys(block: str) -> list[str]:
    """Keys given twice in one mapping of the block (the loader refuses them; plain
    YAML keeps the last one without a word)."""
    found: list[str] = []
    stack = [yaml.compose(block, Loader=_Loader)]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            keys = [key.value for key, _ in node.value if key.value != "<<"]
            found += sorted({key for key in keys if keys.count(key) > 1})
            stack += [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return found


def is_whole(data: Any) -> bool:
    return isinstance(data, dict) and {"services", "centres"} <= set(data)


def merged(base: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """`base` with `part` laid over it: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in part.items():
        old = out.get(key)
        out[key] = merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


# -- the tests -------------------------------------------------------------------

def test_every_key_is_documented() -> None:
    """Every key the schema accepts has an entry in docs/scenario-format.md.

    The rule: walk the models from `Scenario` and write each field's full dotted path
    as the page does (its alias when it has one, `from`; `.<name>` for a key of a
    mapping the user names, `[]` for a list item): `centres.<name>.terminals`,
    `profiles.people.<name>.answer_delay`, `arrivals.profile[].from`,
    `expect[].metric`. The key is documented when a line of the section for the
    path's top-level key (the text under the heading "## `centres`", up to the next
    "## " heading) starts with that path in backticks, as the first cell of a table
    row or as a list item. A mention in passing elsewhere does not count, nor does
    the key's bare name: an entry is a row where the key is defined. A model reached
    by several paths (an agent profile under `profiles.agents.<name>`,
    `centres.<name>.agent` and `centres.<name>.terminals[].agent`; a line under
    `network.links.<name>` and the three `network.*_link` keys) has each key checked
    by any one of those paths; call and metric expectations share `expect[].modes`.
    """
    by_section = sections(TEXT)
    missing_sections = sorted(set(TOP_KEYS) - set(by_section))
    assert not missing_sections, (
        f"{DOC.name} has no section headed '## `KEY`' for: {', '.join(missing_sections)}")
    missing = []
    for key, paths in sorted(SCHEMA.keys.items()):
        if not any(has_entry(by_section[re.split(r"[.\[]", path)[0]], path) for path in paths):
            missing.append(f"{' or '.join(sorted(paths))}  ({key})")
    assert not missing, (f"{DOC.name} has no entry for {len(missing)} key(s) of the schema "
                         "(a table row or list item starting with the key's dotted path in "
                         "backticks, in its top-level key's section):\n  " + "\n  ".join(missing))


def test_every_whole_scenario_example_loads() -> None:
    """Every ```yaml block with top-level `services` and `centres` loads as it is. The
    other blocks are YAML mappings with no key given twice; those whose keys are all
    top-level keys of a scenario (a section's example) also load once laid over the
    page's first whole scenario, the minimal file: mappings merge key by key, lists
    and values are replaced."""
    blocks = [(line, block, read_yaml(block)) for line, block in yaml_blocks(TEXT)]
    whole = [(line, block) for line, block, data in blocks if is_whole(data)]
    assert whole, f"{DOC.name} shows no whole scenario"
    base = read_yaml(whole[0][1])
    failures = []
    for line, block, data in blocks:
        try:
            twice = repeated_keys(block)
            assert not twice, f"keys given twice: {', '.join(twice)}"
            if is_whole(data):
                loads(block, EXAMPLE_PATH)
            elif isinstance(data, dict) and set(data) <= set(TOP_KEYS):
                loads(yaml.safe_dump(merged(base, data), sort_keys=False), EXAMPLE_PATH)
            else:
                assert isinstance(data, dict), "not a YAML mapping"
        except Exception as error:  # noqa: BLE001 - every failing block is reported
            failures.append(f"{DOC.name}:{line}: {error}")
    assert not failures, "examples that do not load:\n" + "\n".join(failures)


def test_every_whole_scenario_example_runs() -> None:
    """Every whole scenario of the page (and every section's example laid over the minimal
    file) runs as written in simulated time and leaves nothing open: the page's
    examples are files a reader can copy, not sketches."""
    from emulator.drivers.simulation import simulate

    blocks = [(line, block, read_yaml(block)) for line, block in yaml_blocks(TEXT)]
    base = read_yaml(next(block for _, block, data in blocks if is_whole(data)))
    failures = []
    ran = 0
    for line, block, data in blocks:
        if is_whole(data):
            text = block
        elif isinstance(data, dict) and set(data) <= set(TOP_KEYS):
            text = yaml.safe_dump(merged(base, data), sort_keys=False)
        else:
            continue
        scenario = loads(text, EXAMPLE_PATH).scenario
        try:
            result = simulate(scenario)
            left = {k: v for k, v in result.open_at_end.items() if v}
            assert not left, f"left open at the end: {left}"
            ran += 1
        except Exception as error:  # noqa: BLE001 - every failing block is reported
            failures.append(f"{DOC.name}:{line}: {error!r}")
    assert not failures, "examples that do not run:\n" + "\n".join(failures)
    assert ran >= 10


def test_every_distribution_and_unit_is_named() -> None:
    """Every distribution kind (`_DISTRIBUTIONS`, and those of sizes), every unit of a
    duration (`_SECONDS`) and every bit-rate unit appears in backticks in the page."""
    code = inline_code(TEXT)
    lowered = {span.lower() for span in code}
    missing = [f"distribution {kind}" for kind in {*_DISTRIBUTIONS, *_SIZE_DISTRIBUTIONS}
               if kind not in code]
    missing += [f"unit {unit}" for unit in _SECONDS if unit not in code]
    missing += [f"bit rate unit {unit}" for unit in _BITS if unit not in lowered]
    assert not missing, f"{DOC.name} does not name: {', '.join(sorted(missing))}"


def test_every_choice_profile_and_metric_is_named() -> None:
    """Every value a choice key takes (outcomes, notices, `when_full`, `placement`, ...),
    every built-in person, agent and link profile, and every metric base and suffix
    appears in backticks in the page."""
    code = inline_code(TEXT)
    wanted = {f"choice {c}": c for c in SCHEMA.choices}
    wanted |= {f"person {n}": n for n in people.PEOPLE}
    wanted |= {f"agent {n}": n for n in people.AGENTS}
    wanted |= {f"link profile {n}": n for n in PROFILES}
    bases = [*catalogue.SERIES, *catalogue.LEVELS, *catalogue.FRACTIONS]
    wanted |= {f"metric {n}": n for n in bases if not n.startswith("outcomes.")}
    wanted |= {f"suffix .{s}": f".{s}" for s in
               (*catalogue.SERIES_SUFFIXES, *catalogue.LEVEL_SUFFIXES)}
    missing = sorted(label for label, span in wanted.items() if span not in code)
    assert not missing, f"{DOC.name} does not name: {', '.join(missing)}"


def test_no_key_path_in_the_page_is_unknown() -> None:
    """Every `span` that reads as a key path from a top-level key (`pbx.trunks`,
    `centres.<name>.queue.max_wait`, `expect[]`) is one the schema has; a real name may
    stand for `<name>`. A renamed or removed key cannot linger in the page."""
    patterns = [re.compile(re.escape(node).replace(re.escape("<name>"), r"(?:<name>|[^.\[\]]+)")
                           + "$") for node in SCHEMA.nodes]
    unknown = []
    for span in sorted(inline_code(TEXT)):
        if not _PATH.match(span) or re.split(r"[.\[]", span)[0] not in TOP_KEYS:
            continue
        if span not in SCHEMA.nodes and not any(p.match(span) for p in patterns):
            unknown.append(span)
    assert not unknown, f"{DOC.name} names keys the schema does not have: {', '.join(unknown)}"
