"""`callback-emu compare`: variants of one file on the same seeds, paired differences,
bad variants refused before anything runs, a table, JSON and a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.studies.compare import Comparison, Variant, parse_variant

DAY = """\
name: a small day to compare policies on
seed: 4
services:
  s: {centres: [c]}
centres:
  c: {terminals: 2, ring_timeout: 15s, agent: {talk_time: {exponential: {mean: 2min}}}}
policy:
  retry:
    person_busy: {after: 2min, attempts: 1}
arrivals: {rate: 40/h, duration: 2h, services: {s: 1.0}, person: typical}
"""


@pytest.fixture
def day(tmp_path: Path) -> Path:
    path = tmp_path / "day.yaml"
    path.write_text(DAY)
    return path


def test_variants_are_named_then_keys_read_as_yaml() -> None:
    variant = parse_variant(["hours", "services.s.hours={mon-fri: \"08:00-20:00\"}",
                             "policy.retry.person_busy.attempts=3"])
    assert variant == Variant("hours", {"services.s.hours": {"mon-fri": "08:00-20:00"},
                                        "policy.retry.person_busy.attempts": 3})
    for words in (["a=1"], [], ["x", "novalue"]):
        with pytest.raises(ValueError):
            parse_variant(words)


def test_the_same_variant_twice_differs_by_nothing_and_retries_call_more(day: Path) -> None:
    comparison = Comparison(day, [Variant("as is"), Variant("again"),
                                  Variant("retries", {"policy.retry.person_busy.attempts": 3})],
                            replications=3, workers=1)
    results = comparison.run()
    assert results["again"]["extra_lines"]["mean"] == 0.0
    assert results["again"]["outcomes.connected"] == results["as is"]["outcomes.connected"]
    assert results["retries"]["attempts.mean"]["mean"] > results["as is"]["attempts.mean"]["mean"]
    assert results["retries"]["outcomes.person_busy"]["mean"] \
        < results["as is"]["outcomes.person_busy"]["mean"]
    connected = results["as is"]["outcomes.connected"]["mean"]
    assert results["as is"]["attempts_per_connected"]["mean"] == pytest.approx(
        results["as is"]["attempts.mean"]["mean"] / connected, rel=0.05)


def test_the_command_prints_writes_and_refuses_bad_variants(day: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["compare", str(day), "--variant", "now", "--variant", "more phones",
                 "centres.c.terminals=4", "--replications", "2", "--workers", "1",
                 "--json", str(out / "c.json"), "--report", str(out / "c.html")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "outcomes.connected" in printed and "more phones" in printed
    document = json.loads((out / "c.json").read_text())
    assert [v["name"] for v in document["compare"]["variants"]] == ["now", "more phones"]
    assert "Variants compared" in (out / "c.html").read_text()
    assert main(["compare", str(day), "--variant", "x", "centres.c.terminal=4"]) == 2
    assert "variant 'x'" in capsys.readouterr().err
    assert main(["compare", str(day), "--variant", "x", "--variant", "x"]) == 2


def test_show_picks_the_metrics_compare_and_sweep_print(day: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(day), "--variant", "now", "--replications", "2", "--workers", "1",
                 "--show", "queued,outcomes.no_agent"]) == 0
    printed = capsys.readouterr().out.splitlines()
    rule = next(i for i, line in enumerate(printed) if line.startswith("---"))
    rows = [line.split()[0] for line in printed[rule + 1:rule + 3]]
    assert rows == ["queued", "outcomes.no_agent"]
    assert main(["sweep", str(day), "--vary", "centres.c.terminals=3..4", "--replications", "2",
                 "--workers", "1", "--show", "queued"]) == 0
    points = [line for line in capsys.readouterr().out.splitlines() if line.startswith("centres")]
    assert len(points) == 2 and all(": queued " in line and "no_agent" not in line
                                    for line in points)
    assert main(["compare", str(day), "--variant", "now", "--show", "queud"]) == 2
    assert "--show" in capsys.readouterr().err
