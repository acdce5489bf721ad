"""`callback-emu load`: replications, seeds, confidence intervals and its output files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.studies.load import confidence, replication_seeds, run_replications, study
from emulator.measure.catalogue import metric_names
from emulator.scenario import loads

DAY = """\
name: a short day
seed: 9
services:
  loans: {centres: [north, south]}
centres:
  north: {terminals: 3, ring_timeout: 15s, agent: typical}
  south: {terminals: 2, ring_timeout: 15s, agent: typical}
arrivals:
  profile: [{from: 0h, rate: 30/h}, {from: 1h, rate: 90/h}]
  person: typical
  duration: 3h
  warmup: 20min
expect:
  - {metric: outcomes.connected, above: 0.5}
"""


def test_replications_have_their_own_seeds_derived_from_the_scenario() -> None:
    seeds = replication_seeds(9, 4)
    assert len(set(seeds)) == 4 and seeds == replication_seeds(9, 4)
    assert seeds != replication_seeds(10, 4)


def test_parallel_and_serial_runs_give_the_same_numbers() -> None:
    scenario = loads(DAY).scenario
    serial = run_replications(scenario, 3, workers=1, progress=False)
    parallel = run_replications(scenario, 3, workers=3, progress=False)
    assert [r.metrics for r in serial] == [r.metrics for r in parallel]
    assert len({r.metrics["callback_latency.p95"] for r in serial}) == 3   # seeds differ


def test_confidence_interval() -> None:
    mean, ci = confidence([1.0, 2.0, 3.0])
    assert mean == 2.0 and ci is not None
    assert ci[0] == pytest.approx(2 - 4.303 / 3 ** 0.5, rel=1e-3)   # t(0.975, 2) = 4.303
    assert confidence([5.0]) == (5.0, None)


def test_the_warm_up_is_left_out() -> None:
    scenario = loads(DAY).scenario
    (run,) = run_replications(scenario, 1, progress=False)
    cold = loads(DAY.replace("warmup: 20min", "warmup: 0s")).scenario
    (all_of_it,) = run_replications(cold, 1, progress=False)
    assert run.collector.callbacks < all_of_it.collector.callbacks


def test_study_has_every_metric_with_its_interval() -> None:
    scenario = loads(DAY).scenario
    document = study(scenario, run_replications(scenario, 3, progress=False), 600.0)
    assert set(metric_names()) <= set(document["metrics"])
    latency = document["metrics"]["callback_latency.p95"]
    assert latency["ci95"][0] <= latency["mean"] <= latency["ci95"][1]
    assert document["replications"] == 3 and document["callbacks"] > 300
    assert document["histograms"]["callback_latency"]["counts"]
    assert len(document["timeseries"]["t"]) >= 18      # 3 h in 10 min steps
    assert document["expectations"][0]["passed"]


def test_load_command_writes_json_csv_and_sipp_style_stats(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "day.yaml"
    path.write_text(DAY)
    out = {name: tmp_path / name for name in ("s.json", "s.csv", "s.stat.csv")}
    assert main(["load", str(path), "--replications", "2", "--interval", "600",
                 "--json", str(out["s.json"]), "--csv", str(out["s.csv"]),
                 "--stats-csv", str(out["s.stat.csv"])]) == 0
    printed = capsys.readouterr().out
    assert "2 replication(s)" in printed and "callback_latency.p95" in printed
    assert json.loads(out["s.json"].read_text())["replications"] == 2
    rows = list(csv.DictReader(out["s.csv"].open()))
    assert {row["metric"] for row in rows} >= set(metric_names())
    stat = [line.rstrip(";\n").split(";") for line in out["s.stat.csv"].open()]
    header, first = stat[0], stat[1]
    for column in ("CallRate(P)", "CurrentCall", "SuccessfulCall(C)", "FailedCall(P)",
                   "FailedNoAgent(C)", "ResponseTime1(C)"):
        assert column in header
    assert len(first) == len(header) and len(stat) - 1 >= 18   # 3 h, then the last calls end
    created = [int(row[header.index("OutgoingCall(P)")]) for row in stat[1:]]
    assert int(stat[-1][header.index("TotalCallCreated")]) == sum(created) > 0


def test_load_needs_arrivals(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import BASE
    path = tmp_path / "qa.yaml"
    path.write_text(BASE)
    assert main(["load", str(path)]) == 2
    assert "needs an arrival process" in capsys.readouterr().err


def test_a_failed_expectation_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "day.yaml"
    path.write_text(DAY.replace("above: 0.5", "above: 0.99"))
    assert main(["load", str(path)]) == 1


def test_a_single_run_reports_its_progress_in_simulated_time() -> None:
    from emulator.drivers.simulation import Simulation

    seen: list[float] = []
    Simulation(loads(DAY).scenario, keep_records=False, progress=seen.append).run()
    assert len(seen) == 100 and seen[0] == 0.01 and seen[-1] == 1.0
    assert seen == sorted(seen)


def test_progress_is_silent_when_not_on_a_terminal(capsys) -> None:  # type: ignore[no-untyped-def]
    run_replications(loads(DAY).scenario, 2, progress=None)   # stderr is captured: no tty
    assert capsys.readouterr().err == ""
