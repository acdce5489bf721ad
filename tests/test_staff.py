"""`callback-emu staff`: the plan per interval against Erlang C, loaded back, and its outputs.

A centre that is an M/M/N queue (Poisson arrivals, people who answer at once
and never give up, agents who pick up at once, exponential talk) with two
stationary hours: there the simulated plan must agree with Erlang C (by
pyworkforce, an independent implementation) within one agent. The plan
written back as the scenario's `staffing` and run by `load` with the same
replications gives the very numbers the plan reports, and no interval misses
the target.
"""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.scenario import load, loads

pyworkforce = pytest.importorskip("pyworkforce.queuing")

QUEUE = textwrap.dedent("""\
    name: an M/M/N centre, two stationary hours
    seed: 11
    services: {s: {centres: [only]}}
    centres:
      only:
        terminals: 40
        queue: {max_wait: 100h}
        agent: {pickup_delay: 0s, talk_time: {exponential: {mean: 180s}}, code_entry_delay: 0s}
    profiles:
      people:
        instant: {answer_delay: 0s}
    pbx: {trunks: 100000, post_dial_delay: 0s, bridge_delay: 0s}
    rooms: {rooms_per_server: 100000, create_delay: 0s, join_delay: 0s, delete_delay: 0s}
    codes: {digits: 6}
    arrivals:
      profile: [{from: 0h, rate: 100/h}, {from: 1h, rate: 200/h}]
      person: instant
      duration: 2h
    """)
REPLICATIONS = 10


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("staff")
    source = folder / "queue.yaml"
    source.write_text(QUEUE)
    out = {name: folder / name for name in ("plan.json", "plan.csv", "plan.html", "planned.yaml")}
    code = main(["staff", str(source), "--interval", "30min", "--target", "service_level>=0.8",
                 "--replications", str(REPLICATIONS), "--shrinkage", "25%",
                 "--json", str(out["plan.json"]), "--csv", str(out["plan.csv"]),
                 "--report", str(out["plan.html"]), "--write-scenario", str(out["planned.yaml"])])
    return {"code": code, "folder": folder, **out,
            "document": json.loads(out["plan.json"].read_text())}


def erlang_c_agents(rate_per_hour: float) -> int:
    model = pyworkforce.ErlangC(transactions=rate_per_hour / 2, aht=3, asa=20 / 60, interval=30)
    return int(model.required_positions(0.8)["raw_positions"])


def test_the_plan_agrees_with_erlang_c_within_one_agent(planned: dict) -> None:
    plan = planned["document"]["plan"]
    assert [row["from"] for row in plan] == [0, 1800, 3600, 5400]
    for row, rate in zip(plan, (100, 100, 200, 200)):
        expected = erlang_c_agents(rate)
        assert row["erlang_c"] == expected                  # the figure printed beside it
        assert abs(row["agents"] - expected) <= 1, row
        assert row["erlang_a"] is None                      # nobody gives up here
    # the second hour's load is twice the first's: it needs more agents
    assert plan[2]["agents"] > plan[1]["agents"]


def test_the_json_is_the_format_of_the_scenarios_page(planned: dict) -> None:
    document = planned["document"]
    assert planned["code"] == 0
    assert document["interval"] == 1800 and document["target"] == "service_level>=0.8"
    row = document["plan"][0]
    assert {"centre", "from", "to", "agents", "erlang_c", "erlang_a", "service_level"} <= set(row)
    assert set(row["service_level"]) == {"mean", "ci95"}
    assert row["to"] - row["from"] == 1800
    for row in document["plan"]:                            # shrinkage 25 %: on duty / 0.75
        assert row["scheduled"] == -(-row["agents"] * 4 // 3)
        assert row["status"] in ("met", "unsure")


def test_the_plan_loaded_back_meets_the_target_in_every_interval(planned: dict,
                                                                tmp_path: Path) -> None:
    written = planned["planned.yaml"]
    scenario = load(written).scenario                        # a valid scenario file
    agents = [row["agents"] for row in planned["document"]["plan"]]
    steps = scenario.centres["only"].staffing
    assert steps is not None and steps[0].start == 0
    on_duty = [max(s.agents for s in steps if s.start <= t) for t in (0, 1800, 3600, 5400)]
    assert on_duty == agents
    out = tmp_path / "day.json"
    assert main(["load", str(written), "--replications", str(REPLICATIONS), "--interval", "30min",
                 "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["intervals"]["centres"]["only"]
    for row, entry in zip(rows, planned["document"]["plan"]):
        level = row["service_level"]
        # the same seeds: `load` measures what the plan reports, to the last digit
        assert level["mean"] == pytest.approx(entry["service_level"]["mean"], rel=1e-12)
        assert level["ci95"][1] >= 0.8                       # no interval shows a miss
        assert row["on_duty"]["mean"] == entry["agents"]


def test_csv_and_report(planned: dict) -> None:
    with planned["plan.csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and rows[0]["centre"] == "only"
    assert {"agents", "erlang_c", "service_level", "ci95_low", "status"} <= set(rows[0])
    page = planned["plan.html"].read_text()
    assert "Staffing plan" in page and "Agents on duty per interval" in page
    assert page.count("data:image/png;base64,") >= 2         # the chart and the service level


def test_bad_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "queue.yaml"
    source.write_text(QUEUE)
    assert main(["staff", str(source), "--target", "service_level>=0.8", "--centre", "nowhere"]) == 2
    assert "--centre 'nowhere': no such centre" in capsys.readouterr().err
    assert main(["staff", str(source), "--target", "outcomes.no_agent<0.01"]) == 2
    assert "staff judges service_level" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["staff", str(source), "--target", "service_level>=0.8", "--shrinkage", "120%"])


IMPATIENT = QUEUE.replace("instant: {answer_delay: 0s}",
                          "instant: {answer_delay: 0s, patience: {exponential: {mean: 90s}}}")


def test_with_finite_patience_the_plan_agrees_with_erlang_a_within_one_agent(
        tmp_path: Path) -> None:
    # The same M/M/N centre whose people give up after an exponential patience
    # (M/M/N+M): Erlang A's figure is printed beside Erlang C's, the search starts from
    # it and ends within one agent of it. (Erlang A itself is checked against a
    # textbook chain in tests/test_erlang.py: pyworkforce has none.)
    from emulator.studies import erlang

    source = tmp_path / "impatient.yaml"
    source.write_text(IMPATIENT)
    out = tmp_path / "plan.json"
    main(["staff", str(source), "--interval", "30min", "--target", "service_level>=0.8",
          "--replications", str(REPLICATIONS), "--json", str(out)])
    plan = json.loads(out.read_text())["plan"]
    for row, rate in zip(plan, (100, 100, 200, 200)):
        expected = erlang.agents_a(rate * 180 / 3600, 180.0, 20.0, 0.8, patience=90.0)
        assert row["erlang_a"] == expected and row["erlang_c"] == erlang_c_agents(rate)
        assert row["erlang_a"] <= row["erlang_c"]          # who gives up shortens the queue
        assert abs(row["agents"] - expected) <= 1, row
        assert row["abandoned"]["mean"] > 0                 # people did give up


def test_a_trial_starts_its_arrivals_a_carry_over_before_its_interval() -> None:
    from emulator.studies.staff import from_time

    scenario = loads(QUEUE).scenario
    assert scenario.arrivals is not None
    cut = from_time(scenario.arrivals, 4000.0)
    assert [(s.start, round(s.rate * 3600)) for s in cut.profile or ()] == [
        (0.0, 0), (4000.0, 200)]
    assert from_time(scenario.arrivals, 0.0) is scenario.arrivals
    flat = scenario.arrivals.model_copy(update={"profile": None, "rate": 100 / 3600})
    assert [(s.start, round(s.rate * 3600)) for s in from_time(flat, 60.0).profile or ()] == [
        (0.0, 0), (60.0, 100)]
