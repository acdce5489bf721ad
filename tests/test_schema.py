"""`callback-emu schema`: a JSON Schema every shipped scenario validates against, that
refuses what the loader refuses (unknown keys, durations without a unit it knows)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from emulator.cli import main
from emulator.scenario import ScenarioError, loads
from emulator.scenario.files import scenario_files
from emulator.scenario.loading import _Loader

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = scenario_files([str(ROOT / "scenarios")])


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> jsonschema.Draft202012Validator:
    out = tmp_path_factory.mktemp("schema") / "scenario.schema.json"
    assert main(["schema", "--output", str(out)]) == 0
    schema = json.loads(out.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def data(path: Path) -> dict:  # type: ignore[type-arg]
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - the project's safe loader


def test_the_project_ships_its_scenarios() -> None:
    assert len(SHIPPED) >= 40


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_scenario_validates(path: Path,
                                          validator: jsonschema.Draft202012Validator) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data(path))]
    assert not errors, errors[:3]


@pytest.mark.parametrize("change", [
    lambda d: d["centres"][next(iter(d["centres"]))].update(ring_timout="15s"),
    lambda d: d.update(colour="blue"),
    lambda d: d["pbx"].update(trunks="sixty"),
    lambda d: d["pbx"].update(person_ring_timeout="30 seconds"),
    lambda d: d["pbx"].update(post_dial_delay={"poisson": {"mean": "1s"}}),
    lambda d: d["pbx"].update(post_dial_delay={"lognormal": {"median": "1s"}}),
], ids=["misspelt key", "unknown top key", "not a number", "unknown unit",
        "unknown distribution", "missing parameter"])
def test_it_refuses_what_the_loader_refuses(change,  # type: ignore[no-untyped-def]
                                            validator: jsonschema.Draft202012Validator) -> None:
    document = data(ROOT / "scenarios/qa/outcome_connected.yaml")
    document.setdefault("pbx", {})
    change(document)
    assert list(validator.iter_errors(document)), "the schema took it"
    with pytest.raises(ScenarioError):
        loads(yaml.safe_dump(document, sort_keys=False))


def test_durations_in_every_form_validate(validator: jsonschema.Draft202012Validator) -> None:
    document = data(ROOT / "scenarios/qa/outcome_connected.yaml")
    for value in ("30s", "1min30s", "8h30min", "00:30", 12.5, "300ms"):
        document["pbx"] = {"person_ring_timeout": value}
        assert not list(validator.iter_errors(document)), value


def test_the_shipped_schema_file_is_current(validator: jsonschema.Draft202012Validator) -> None:
    """docs/scenario.schema.json (what `# yaml-language-server: $schema=` points at) is the
    command's output of today."""
    assert json.loads((ROOT / "docs/scenario.schema.json").read_text()) == validator.schema
