"""The `callback-emu` command: table, exit codes, JSON, JUnit XML, trace."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from emulator.cli import main
from emulator.measure.catalogue import metric_names
from tests.conftest import BASE


def test_run_prints_the_table_and_exits_0(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["run", str(write_scenario())]) == 0
    out = capsys.readouterr().out
    assert "scenario" in out and "PASS" in out
    assert "connected 1" in out and "person_busy 1" in out
    assert "1 passed, 0 failed" in out


def test_a_failed_expectation_exits_1_and_says_why(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_scenario(BASE.replace("failovers: 1, centre: barcelona", "failovers: 0"))
    assert main(["run", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "failovers was 1, expected 0" in out


def test_json_has_every_metric_and_the_expectations(write_scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out.json"
    assert main(["run", str(write_scenario()), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["scenario"] == "one call, one centre"
    assert doc["seed"] == 3 and doc["replications"] == 1 and doc["callbacks"] == 2
    assert set(metric_names()) <= set(doc["metrics"])
    assert doc["metrics"]["outcomes.connected"] == {"mean": 0.5, "ci95": None}
    assert 15 < doc["metrics"]["callback_latency.p95"]["mean"] < 25
    assert [e["passed"] for e in doc["expectations"]] == [True] * 4
    assert doc["expectations"][0]["expect"].startswith("call 1: outcome connected")


def test_json_of_several_files_lists_them(write_scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out.json"
    a, b = write_scenario(name="a.yaml"), write_scenario(name="b.yaml")
    assert main(["run", str(a), str(b), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [s["file"] for s in doc["scenarios"]] == [str(a), str(b)]
    assert doc["passed"] == 2 and doc["failed"] == 0


def test_junit_marks_failures_and_skips(write_scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_scenario(name="good.yaml")
    write_scenario(BASE.replace("failovers: 1", "failovers: 2"), name="failing.yaml")
    write_scenario(BASE.replace("seed: 3", "seed: 3\nmode: [sip]"), name="sip_only.yaml")
    out = tmp_path / "junit.xml"
    assert main(["run", str(tmp_path), "--junit", str(out)]) == 1
    suite = ET.parse(out).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {case.get("name").split("/")[-1]: case for case in suite.iter("testcase")}
    assert cases["failing"].find("failure") is not None
    assert cases["sip_only"].find("skipped") is not None
    assert cases["good"].find("failure") is None


def _trace(path: Path, call: int) -> str:
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "trace", str(path),
                           "--call", str(call)], capture_output=True, text=True, check=True)
    return done.stdout


def test_trace_is_byte_identical_across_runs(write_scenario) -> None:  # type: ignore[no-untyped-def]
    path = write_scenario()
    first, second = _trace(path, 1), _trace(path, 1)   # two separate processes
    assert first == second
    lines = first.splitlines()
    assert "connected (centre barcelona, code 1000, failovers 1)" in lines[1]
    assert any("--> CallbackRequested service_code=mortgages" in line for line in lines)
    assert any("<-- Dial leg=agent-2" in line and "caller_id=1000" in line for line in lines)
    assert lines[-1].endswith("<-- CloseRecord outcome=connected")


def test_trace_follows_the_seed(write_scenario) -> None:  # type: ignore[no-untyped-def]
    path = write_scenario()
    other = write_scenario(BASE.replace("seed: 3", "seed: 4"), name="other.yaml")
    assert _trace(path, 1).splitlines()[2:] != _trace(other, 1).splitlines()[2:]


def test_trace_of_a_call_that_does_not_exist_exits_2(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["trace", str(write_scenario()), "--call", "7"]) == 2
    assert "there is no call 7" in capsys.readouterr().err


def test_a_sim_only_scenario_is_skipped_in_sip_mode(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["run", "--mode", "sip", str(write_scenario())]) == 0
    out = capsys.readouterr().out
    assert "SKIP" in out and "0 passed, 0 failed, 1 skipped" in out


def test_time_scale_must_be_positive(write_scenario) -> None:  # type: ignore[no-untyped-def]
    try:
        main(["run", "--time-scale", "0", str(write_scenario())])
    except SystemExit as exit:
        assert exit.code == 2
    else:
        raise AssertionError("--time-scale 0 was accepted")
