"""Seeded results are a contract: the shipped scenarios give the same bytes as before.

The golden outputs in tests/golden/ were written by `tests/golden/regenerate.py`
(the JSON of every shipped scenario's run, a seeded two-replication load run
as JSON and as CSV, three traces). A change that moves any of them fails here;
a change that means to move them regenerates the files and says why.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))

import regenerate  # noqa: E402


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    mp = pytest.MonkeyPatch()
    mp.chdir(regenerate.ROOT)
    try:
        return regenerate.produce(tmp_path_factory.mktemp("golden"))
    finally:
        mp.undo()


NAMES = [name for name, _ in regenerate.RUNS + regenerate.TRACES]


@pytest.mark.parametrize("name", NAMES)
def test_output_is_byte_for_byte_the_golden_one(name: str, produced: dict[str, bytes]) -> None:
    if name in regenerate.HASHED:
        expected_digest = (GOLDEN / f"{name}.sha256").read_text().strip()
        assert regenerate.digest(produced[name]) == expected_digest, (
            f"{name} moved (its SHA-256 differs; run_qa.json and the traces show where)")
        return
    expected = (GOLDEN / name).read_bytes()
    if produced[name] != expected:
        diff = difflib.unified_diff(expected.decode().splitlines(), produced[name].decode().splitlines(),
                                    "golden", "now", lineterm="", n=1)
        pytest.fail(f"{name} moved:\n" + "\n".join(list(diff)[:40]))


def test_every_shipped_scenario_passes_in_simulation(produced: dict[str, bytes]) -> None:
    """The QA suite, the capacity studies, the bug replays and serve's default all hold."""
    import json

    runs = json.loads(produced["run_scenarios.json"])["scenarios"]
    folders = {Path(run["file"]).parent.name for run in runs}
    assert {"qa", "capacity", "repro", "serve"} <= folders
    assert len([run for run in runs if "capacity" in run["file"]]) >= 8
    assert all(run["status"] == "pass" for run in runs), [r["file"] for r in runs if r["status"] != "pass"]
