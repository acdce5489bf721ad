"""A malformed scenario file is refused with file, line, key and a hint; never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.scenario import ScenarioError, load
from tests.conftest import BASE

# (what to replace in BASE, by what, the line and key the message must name, words of the hint)
BREAKAGES = [
    ("ring_timeout: 15s, agent: never", "ring_timout: 15s, agent: never", 6,
     "centres.madrid.ring_timout", "did you mean 'ring_timeout'"),
    ("person: busy", "person: bussy", 13, "callbacks[1].person", "did you mean 'busy'"),
    ("terminals: 2,", "terminals: two,", 6, "centres.madrid.terminals", "whole number"),
    ("median: 4s", "median: 4 parsecs", 10, "centres.barcelona.agent.pickup_delay", "units"),
    ("outcome: connected", "outcome: conected", 15, "expect[0].outcome", "values listed"),
    ("callback_latency.p95", "callback_latncy.p95", 17, "expect[2].metric",
     "did you mean 'callback_latency.p95'"),
    ("[madrid, barcelona]", "[madrid, barcelon]", 4, "services.mortgages.centres[1]",
     "did you mean 'barcelona'"),
    ("agent: never_answers", "agent: nobody", 6, "centres.madrid.agent", "known:"),
    ("{fixed: 2min}", "{normal: 2min}", 10, "centres.barcelona.agent.talk_time",
     ""),
    ("{at: 1s,", "{at: -1s,", 13, "callbacks[1].at", ""),
    ("seed: 3", "seed: three", 2, "seed", "whole number"),
    ("{call: 1, outcome", "{call: 9, outcome", 15, "expect[0].call", "numbered 1..2"),
]


@pytest.mark.parametrize("old,new,line,key,hint", BREAKAGES)
def test_a_bad_file_names_its_line_and_key(write_scenario, old, new, line, key, hint) -> None:  # type: ignore[no-untyped-def]
    assert old in BASE
    path = write_scenario(BASE.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        load(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:{line}: {key}:"), text
    assert hint in text


def test_the_base_file_is_fine(write_scenario) -> None:  # type: ignore[no-untyped-def]
    assert load(write_scenario()).scenario.name == "one call, one centre"


@pytest.mark.parametrize("text,message", [
    ("name: x\n  bad: [\n", "not valid YAML"),
    ("- just\n- a list\n", "a scenario is a YAML mapping"),
    ("name: x\nservices: {}\ncentres: {}\n", "needs 'callbacks' or 'arrivals'"),
])
def test_shapeless_files_are_refused(write_scenario, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError, match=message):
        load(write_scenario(text))


def test_misspelt_key_exits_2_without_traceback(write_scenario) -> None:  # type: ignore[no-untyped-def]
    path = write_scenario(BASE.replace("room_template", "room_templte"))
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "run", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert f"{path}:4: services.mortgages.room_templte: unknown key" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_every_bad_file_is_named_and_nothing_runs(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    good = write_scenario(name="good.yaml")
    bad1 = write_scenario(BASE.replace("seed: 3", "sed: 3"), name="bad1.yaml")
    bad2 = write_scenario(BASE.replace("trunks", "x").replace("name:", "nam:"), name="bad2.yaml")
    assert main(["run", str(good), str(bad1), str(bad2)]) == 2
    out = capsys.readouterr()
    assert "bad1.yaml:2: sed: unknown key" in out.err
    assert "bad2.yaml:1: nam: unknown key" in out.err
    assert "passed" not in out.out


def test_missing_file_and_bad_option_exit_2(tmp_path: Path) -> None:
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    with pytest.raises(SystemExit) as caught:
        main(["run", "--mode", "carrier-pigeon", "x.yaml"])
    assert caught.value.code == 2
