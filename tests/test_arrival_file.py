"""Arrivals replayed from a CSV file of recorded times."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.scenario.arrival_file import read_arrivals
from emulator.drivers.simulation import simulate
from emulator.scenario import ScenarioError, load

SCENARIO = """\
name: a recorded morning
seed: 3
services:
  loans: {{centres: [north]}}
  cards: {{centres: [north]}}
centres:
  north: {{terminals: 4, ring_timeout: 15s, agent: prompt}}
arrivals: {{file: {file}, services: {{cards: 1}}, person: prompt, duration: {duration}}}
"""


def scenario(tmp_path: Path, rows: str, duration: str = "10h", file: str = "calls.csv") -> Path:
    (tmp_path / "calls.csv").write_text(rows)
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(file=file, duration=duration))
    return path


def test_times_in_every_form_are_read_and_sorted(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("at,service,person\n08:15,loans,slow\n90,,\n1h,cards,\n00:00:02.5,,\n")
    rows = read_arrivals(path).rows
    assert [row.at for row in rows] == [2.5, 90.0, 3600.0, 8 * 3600 + 15 * 60]
    assert [(row.service, row.person, row.line) for row in rows] == [
        (None, None, 5), (None, None, 3), ("cards", None, 4), ("loans", "slow", 2)]


@pytest.mark.parametrize("text, says", [
    ("", "the file is empty"),
    ("at\n", "no arrivals in the file"),
    ("when,service\n1,loans\n", ":1: no 'at' column"),
    ("at,service,who\n1,loans,x\n", ":1: unknown column 'who'"),
    ("at,service\n1,loans,extra\n", ":2: more cells than columns"),
    ("at\n1\nsoon\n", ":3: at: 'soon' is not a duration"),
    ("at\n1\n\n-5\n", ":4: at: -5.0: a duration is a finite number"),
    ("at\nnan\n", ":2: at: nan: a duration is a finite number"),
    ("at,service\n,loans\n", ":2: at: empty"),
])
def test_a_bad_file_is_refused_with_its_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"calls.csv{says}" if says.startswith(":") else says):
        read_arrivals(path)


@pytest.mark.parametrize("rows, duration, file, says", [
    ("at,service\n1,loans\n2,laons\n", "10h", "calls.csv", "calls.csv:3: unknown service 'laons'"),
    ("at,person\n1,slwo\n", "10h", "calls.csv", "calls.csv:2: unknown person profile 'slwo'"),
    ("at\n1\n10h\n", "10h", "calls.csv", "calls.csv:3: an arrival at 36000 s, past the duration"),
    ("at\n1\n", "10h", "missing.csv", "cannot read arrivals file"),
])
def test_a_scenario_names_the_file_line_at_fault(tmp_path: Path, rows: str, duration: str,
                                                  file: str, says: str) -> None:
    with pytest.raises(ScenarioError) as error:
        load(scenario(tmp_path, rows, duration, file))
    assert error.value.key.startswith("arrivals") and error.value.line == 8   # the arrivals line
    assert says in str(error.value)


def test_a_file_and_a_rate_are_one_too_many(tmp_path: Path) -> None:
    path = scenario(tmp_path, "at\n1\n")
    path.write_text(path.read_text().replace("person: prompt,", "rate: 10/h, person: prompt,"))
    with pytest.raises(ScenarioError, match="give one of 'rate', 'profile' or 'file'"):
        load(path)


def test_each_row_is_requested_at_its_time_with_its_service_and_person(tmp_path: Path) -> None:
    result = simulate(load(scenario(
        tmp_path, "at,service,person\n600,loans,slow\n00:00:05,,\n1h,loans,\n")).scenario)
    records = sorted(result.records, key=lambda r: r.times["requested"])
    assert [r.times["requested"] for r in records] == [5.0, 600.0, 3600.0]
    # An empty service cell is drawn by the weights (cards only here).
    assert [r.service_code for r in records] == ["cards", "loans", "loans"]
    answered = [r.times["person_answered"] - r.times["person_ringing"] for r in records]
    assert answered[1] >= 8.0 and answered[0] < 4.0 and answered[2] < 4.0   # slow: 8-20 s; prompt: 1-4 s
    assert {r.outcome for r in records} == {"connected"}
