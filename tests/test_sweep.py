"""`callback-emu sweep`: grids, targets, the monotone search and its check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.studies.sweep import Condition, Sweep, parse_target, parse_vary

STUDY = """\
name: how many desk phones at one centre
seed: 3
services:
  loans: {centres: [only]}
centres:
  only: {terminals: 4, ring_timeout: 15s,
         agent: {pickup_delay: {fixed: 3s}, talk_time: {exponential: {mean: 3min}}}}
arrivals: {rate: 120/h, person: prompt, duration: 6h, warmup: 30min}
"""


@pytest.fixture
def study(tmp_path: Path) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(STUDY)
    return path


def test_parsing() -> None:
    assert parse_vary("a.b=2..6:2").values == (2, 4, 6)
    assert parse_vary("a.b=8,2,4").values == (2, 4, 8)
    assert parse_target("outcomes.no_agent<0.02, callback_latency.p95<25s") == [
        Condition("outcomes.no_agent", "<", 0.02), Condition("callback_latency.p95", "<", 25.0)]
    for bad in ("a.b", "a.b=6..2", "a.b=x"):
        with pytest.raises(ValueError):
            parse_vary(bad)
    with pytest.raises(ValueError, match="unknown metric"):
        parse_target("no_agent<0.02")


def test_bisection_finds_the_smallest_and_runs_few_points(study: Path) -> None:
    sweep = Sweep(study, [parse_vary("centres.only.terminals=2..16")],
                  parse_target("outcomes.no_agent<0.02"), replications=4, workers=1)
    answer = sweep.run()
    assert answer is not None and sweep.monotone
    n = answer.setting["centres.only.terminals"]
    assert sweep.points[(n,)].met and not sweep.points[(n - 1,)].met
    assert len(sweep.points) <= 6 < 15                      # bisection, not the grid
    # The same answer by brute force over the grid.
    full = Sweep(study, [parse_vary("centres.only.terminals=2..16")], None, 4, workers=1)
    full.run()
    target = parse_target("outcomes.no_agent<0.02")[0]
    smallest = min(v[0] for v, p in full.points.items() if target.holds(p.metrics))
    assert smallest == n


def test_a_non_monotone_case_is_said_and_searched_in_full(study: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A target that only a middle value meets breaks the assumption.
    sweep = Sweep(study, [parse_vary("centres.only.terminals=2..16")],
                  parse_target("outcomes.no_agent>0.01,outcomes.no_agent<0.5"), 5, workers=1)
    answer = sweep.run()
    assert not sweep.monotone                    # 16 desk phones block nobody: fails the target
    assert len(sweep.points) == 15               # so the whole grid ran
    assert answer is not None and 0.01 < answer.metrics["outcomes.no_agent"]["mean"] < 0.5


def test_sweep_command_names_the_answer_and_writes_json(study: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "sweep.json"
    code = main(["sweep", str(study), "--vary", "centres.only.terminals=6..14:2",
                 "--vary", "pbx.trunks=40,80", "--target", "outcomes.no_agent<0.05",
                 "--replications", "3", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "smallest configuration that meets the target: centres.only.terminals=" in printed
    document = json.loads(out.read_text())["sweep"]
    assert document["answer"]["config"]["pbx.trunks"] == 40
    assert document["evaluated"] < document["grid"] == 10


def test_a_misspelt_key_exits_2(study: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["sweep", str(study), "--vary", "centres.only.terminal=2..4"]) == 2
    assert "did you mean 'terminals'" in capsys.readouterr().err


def test_no_configuration_meeting_the_target_exits_1(study: Path) -> None:
    assert main(["sweep", str(study), "--vary", "centres.only.terminals=1..3",
                 "--target", "outcomes.no_agent<0.001", "--replications", "2"]) == 1
