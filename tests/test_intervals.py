"""Results per interval (`--interval`), split by centre; `load --precision`; the warm-up hint.

Two centres, each the first centre of its own service, with shifts and a day
profile: per interval the arrivals follow the profile and the service mix,
the agents on duty are the staffing, busy agents never outnumber the agents
on duty and the calls still in hand, and everything shows in the table,
the JSON, the CSV and the report.
"""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest

from emulator.cli import main

DAY = textwrap.dedent("""\
    name: two centres over four hours
    seed: 8
    services:
      mortgages: {centres: [madrid, valencia]}
      cards: {centres: [valencia]}
    centres:
      madrid:
        terminals: 8
        queue: {max_wait: 2min}
        staffing: [{from: 0h, agents: 3}, {from: 2h, agents: 6}]
        agent: {pickup_delay: 2s, talk_time: {exponential: {mean: 3min}}, code_entry_delay: 0s}
      valencia:
        terminals: 4
        agent: {pickup_delay: 2s, talk_time: {exponential: {mean: 3min}}, code_entry_delay: 0s}
    profiles:
      people:
        caller: {answer_delay: 1s, patience: {exponential: {mean: 3min}}}
    arrivals:
      profile: [{from: 0h, rate: 40/h}, {from: 2h, rate: 120/h}]
      services: {mortgages: 0.75, cards: 0.25}
      person: caller
      duration: 4h
    expect:
      - {metric: service_level, at_least: 0.5}
    """)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("intervals")
    source = folder / "day.yaml"
    source.write_text(DAY)
    paths = {k: folder / k for k in ("day.json", "day.csv", "day.html")}
    import contextlib
    import io
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        main(["load", str(source), "--replications", "4", "--interval", "1h",
              "--json", str(paths["day.json"]), "--csv", str(paths["day.csv"]),
              "--report", str(paths["day.html"])])
    return {"folder": folder, "printed": printed.getvalue(), **paths,
            "document": json.loads(paths["day.json"].read_text())}


def test_each_centre_per_interval(study: dict) -> None:
    found = study["document"]["intervals"]
    assert found["interval"] == 3600
    assert set(found["centres"]) == {"madrid", "valencia", "all"}
    madrid, valencia, every = (found["centres"][c] for c in ("madrid", "valencia", "all"))
    assert [r["from"] for r in madrid] == [0, 3600, 7200, 10800]
    assert found["profile"] == [40, 40, 120, 120]           # the configured arrivals per hour
    for i, rate in enumerate((40, 40, 120, 120)):
        total = every[i]["arrivals"]["mean"]
        assert total == pytest.approx(rate, rel=0.25)       # 4 replications of ~40-120
        assert every[i]["arrivals"]["mean"] == pytest.approx(
            madrid[i]["arrivals"]["mean"] + valencia[i]["arrivals"]["mean"])
        # mortgages (3/4 of the requests) are Madrid's callers, cards Valencia's
        assert madrid[i]["arrivals"]["mean"] / total == pytest.approx(0.75, abs=0.15)
    # the agents on duty are the shifts (Valencia has none: every desk phone)
    assert [r["on_duty"]["mean"] for r in madrid] == [3, 3, 6, 6]
    assert [r["on_duty"]["mean"] for r in valencia] == [4, 4, 4, 4]
    for row in madrid + valencia:
        assert 0 <= row["busy"]["mean"] <= row["on_duty"]["mean"] + 1e-9
        assert 0 <= row["service_level"]["mean"] <= 1
        assert row["occupancy"]["mean"] == pytest.approx(row["busy"]["mean"]
                                                         / row["on_duty"]["mean"], rel=0.05)
    # the busy second half is worse served at Madrid's 6 agents than the first at 3
    assert madrid[3]["wait_mean"]["mean"] > madrid[0]["wait_mean"]["mean"]


def test_the_table_csv_and_report_show_them(study: dict) -> None:
    printed = study["printed"]
    assert "per 60 min, each centre's callers" in printed
    assert "\nmadrid\n" in printed and "\nvalencia\n" in printed and "\nall centres\n" in printed
    assert "02:00-03:00" in printed
    with (study["folder"] / "day.intervals.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and {r["centre"] for r in rows} == {"madrid", "valencia", "all"}
    assert {"service_level", "service_level_ci95_low", "on_duty", "busy"} <= set(rows[0])
    page = study["day.html"].read_text()
    for title in ("Service level and occupancy by interval", "Agents on duty and busy",
                  "Arrivals against the configured profile"):
        assert title in page


def test_run_has_them_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "day.yaml"
    source.write_text(DAY)
    assert main(["run", str(source), "--interval", "2h", "--json", str(tmp_path / "r.json"),
                 "--csv", str(tmp_path / "r.csv")]) == 0
    assert "per 120 min" in capsys.readouterr().out
    found = json.loads((tmp_path / "r.json").read_text())["intervals"]
    assert len(found["centres"]["madrid"]) == 2
    assert found["centres"]["madrid"][0]["service_level"]["ci95"] is None   # one run
    with (tmp_path / "r.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    madrid = [r for r in rows if r["centre"] == "madrid"]
    assert [float(r["from"]) for r in madrid] == [0.0, 7200.0]
    assert rows[0]["scenario"] and float(madrid[0]["service_level"]) == pytest.approx(
        found["centres"]["madrid"][0]["service_level"]["mean"])
    assert main(["run", str(source), "--csv", str(tmp_path / "x.csv")]) == 2   # needs --interval
    assert "--interval" in capsys.readouterr().err


def test_precision_runs_replications_until_the_half_width_is_small(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "day.yaml"
    source.write_text(DAY.replace("duration: 4h", "duration: 2h"))
    out = tmp_path / "p.json"
    main(["load", str(source), "--precision", "3%", "--max-replications", "40",
          "--precision-of", "service_level,outcomes.connected", "--json", str(out)])
    document = json.loads(out.read_text())
    found = document["precision"]
    assert found["met"] and found["metrics"]["service_level"] <= 0.03
    value = document["metrics"]["service_level"]
    assert (value["ci95"][1] - value["ci95"][0]) / 2 <= 0.03 * value["mean"]
    assert 2 < document["replications"] <= 40               # it took more than the first two
    assert f"after {document['replications']} replications" in capsys.readouterr().out


def test_a_warm_up_hint_when_the_first_interval_starts_empty(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A busy queue at a constant rate: the first interval starts with nobody waiting."""
    text = textwrap.dedent("""\
        name: a busy queue from empty
        seed: 2
        services: {s: {centres: [desk]}}
        centres:
          desk: {terminals: 10, queue: {max_wait: 1h},
                 agent: {pickup_delay: 0s, talk_time: {exponential: {mean: 3min}},
                         code_entry_delay: 0s}}
        profiles:
          people:
            at_once: {answer_delay: 0s}
        arrivals: {rate: 190/h, person: at_once, duration: 6h}
        """)
    source = tmp_path / "busy.yaml"
    source.write_text(text)
    main(["load", str(source), "--replications", "4", "--interval", "20min"])
    assert "warm-up hint: the first interval's mean wait" in capsys.readouterr().out
    source.write_text(text.replace("duration: 6h", "duration: 6h, warmup: 2h"))
    main(["load", str(source), "--replications", "4", "--interval", "20min"])
    assert "warm-up hint" not in capsys.readouterr().out
