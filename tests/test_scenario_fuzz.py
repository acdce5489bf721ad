"""Hostile and broken scenario files are refused with a ScenarioError, never a traceback.

Hypothesis writes files: random bytes, random YAML documents, and the shipped
base scenario with one key's value replaced by something random at a random
place. The loader must take each or refuse it with file, line and key; any
other exception is a bug. The number of cases tried is printed for the README's
bad-input table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.scenario import ScenarioError, load, loads
from tests.conftest import BASE

CASES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRIED: dict[str, int] = {}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from(["300ms", "8h30min", "08:30", "1e20s", "-1s", "120/h",
                                     "1Gbit/s", "64kB", "100 packets", "prompt", "madrid"]))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20)


def refused_or_taken(text: str, path: Path = Path("<fuzz>")) -> None:
    try:
        loads(text, path)
    except ScenarioError as error:
        assert str(error).startswith(str(path)), error


def count(kind: str) -> None:
    TRIED[kind] = TRIED.get(kind, 0) + 1


@CASES
@given(data=st.one_of(st.binary(max_size=400),
                     st.builds(lambda head, tail: head + tail, st.just(BASE.encode()),
                               st.binary(min_size=1, max_size=40))))
def test_random_bytes(tmp_path_factory: Any, data: bytes) -> None:
    count("scenario bytes")
    path = tmp_path_factory.mktemp("fuzz") / "bytes.yaml"
    path.write_bytes(data)
    try:
        load(path)
    except ScenarioError as error:
        assert str(error).startswith(str(path))


@CASES
@given(document=documents)
def test_random_yaml_documents(document: Any) -> None:
    count("scenario documents")
    refused_or_taken(yaml.safe_dump(document, allow_unicode=True))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, prefix + (index,))
    return found


BASE_DOC = yaml.safe_load(BASE)
BASE_PATHS = _paths(BASE_DOC)


@CASES
@given(where=st.sampled_from(BASE_PATHS), value=documents)
def test_the_base_scenario_with_one_value_replaced(where: tuple[Any, ...], value: Any) -> None:
    count("scenario values")
    document = yaml.safe_load(BASE)
    node = document
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    refused_or_taken(yaml.safe_dump(document, allow_unicode=True))


def test_the_hostile_files_an_outside_tester_sent() -> None:
    bomb = "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    deep = "name: x\nservices: " + "[" * 20000 + "]" * 20000 + "\n"
    for text, words in ((bomb, "aliases"), (deep, "nested"),
                        (BASE.replace("seed: 3", "codes: {digits: 12}\nseed: 3"), None),
                        (BASE.replace("terminals: 2,", "terminals: 100000000,"), "less than"),
                        (BASE.replace("callbacks:", "arrivals: {rate: 1000000000/h, duration: 1h}"
                                      "\ncallbacks:"), "would not end"),
                        (BASE.replace("{at: 0s,", "{at: 1e20s,"), "100 years")):
        count("hostile files")
        try:
            loads(text)
        except ScenarioError as error:
            assert words is not None and words in str(error), (words, str(error))
        else:
            assert words is None


def test_zz_report_the_cases_tried() -> None:
    """Runs last in this file: how many cases each kind tried (hypothesis may stop a
    kind early when it has seen every distinct input, as with short byte strings)."""
    print("\nscenario fuzz cases:", ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())))
    assert TRIED.get("scenario documents", 0) >= 300 and TRIED.get("hostile files") == 6
