"""The command's face, as a new user meets it: paths, durations, bounds, help, tables, traces.

Each test is one rough edge found by trying the command, now smooth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.cli import main, parser
from emulator.cli.ladder import clock_time
from emulator.cli.tables import wrap
from emulator.scenario import ScenarioError, loads
from tests.conftest import BASE

ROOT = Path(__file__).resolve().parents[1]
LOAD = """\
name: a load
seed: 5
services: {loans: {centres: [only]}}
centres: {only: {terminals: 3, ring_timeout: 15s, agent: typical}}
arrivals: {rate: 60/h, person: typical, duration: 30min}
"""


# -- output paths ---------------------------------------------------------------------------


def test_missing_output_folders_are_made(write_scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    junit, results = tmp_path / "out" / "deep" / "junit.xml", tmp_path / "out" / "r.json"
    assert main(["run", str(write_scenario()), "--junit", str(junit), "--json", str(results)]) == 0
    assert junit.is_file() and json.loads(results.read_text())["callbacks"] == 2


def test_an_output_that_cannot_be_written_is_refused_before_the_run(write_scenario, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    load = write_scenario(LOAD)
    assert main(["load", str(load), "--report", str(blocker / "x.html")]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "--report" in err[0] and "x.html" in err[0]
    assert "replication" not in captured.out            # refused before anything ran
    assert main(["run", str(write_scenario()), "--json", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_the_readme_commands_with_out_folders_run_from_a_fresh_folder(tmp_path: Path) -> None:
    """`run scenarios/qa --junit out/junit.xml` from a clone without out/: no traceback."""
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "run",
                           str(ROOT / "scenarios/qa/outcome_connected.yaml"),
                           "--junit", "out/junit.xml", "--json", "out/results.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and (tmp_path / "out/junit.xml").is_file()


# -- durations, bounds, metrics ---------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [("8h30min", 30600.0), ("08:30", 30600.0),
                                           ("1h 15min", 4500.0), ("90", 90.0),
                                           ("00:00:02.5", 2.5), ("2min30s", 150.0)])
def test_durations_take_compound_and_clock_forms_in_files(text: str, seconds: float) -> None:
    scenario = loads(BASE.replace("ring_timeout: 15s, agent: never", f"ring_timeout: {text}, "
                                  "agent: never")).scenario
    assert scenario.centres["madrid"].ring_timeout == seconds


def test_a_clock_time_without_quotes_is_not_read_as_a_base_60_number() -> None:
    scenario = loads(BASE.replace("- {at: 1s, service: mortgages", "- {at: 8:30, service: mortgages"))
    assert scenario.scenario.callbacks[1].at == 8.5 * 3600          # YAML 1.1 would say 510


def test_duration_flags_take_the_same_forms(write_scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "stats.csv"
    assert main(["load", str(write_scenario(LOAD)), "--interval", "0:05", "--stats-csv", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert rows[1].split(";")[3] == "00:05:00:000000"            # ElapsedTime(P): 5 minutes


def test_a_unit_error_lists_every_unit() -> None:
    with pytest.raises(ScenarioError) as refused:
        loads(BASE.replace("ring_timeout: 15s, agent: never", "ring_timeout: 15 secs, agent: never"))
    assert all(unit in str(refused.value) for unit in ("ms", "sec", "min", "h", "d"))


@pytest.mark.parametrize("bound, holds", [("at_most: 1", True), ("at_least: 1", True),
                                          ("below: 1", False), ("above: 1", False),
                                          ("at_least: 1.01", False)])
def test_inclusive_bounds_in_expect(write_scenario, bound: str, holds: bool) -> None:  # type: ignore[no-untyped-def]
    text = BASE + f"  - {{metric: failovers.max, {bound}}}\n"
    assert main(["run", str(write_scenario(text))]) == (0 if holds else 1)


def test_any_percentile_suffix_in_expect_and_target(write_scenario, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    text = LOAD + "expect:\n  - {metric: time_to_person.p80, below: 1min}\n" \
                  "  - {metric: time_to_person.p99.9, at_least: 0s}\n"
    out = tmp_path / "r.json"
    assert main(["run", str(write_scenario(text)), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert 0 < metrics["time_to_person.p80"]["mean"] <= metrics["time_to_person.p99.9"]["mean"]
    path = write_scenario(LOAD, name="s.yaml")
    code = main(["sweep", str(path), "--vary", "centres.only.terminals=2,3",
                 "--target", "time_to_agent.p90<=30s,outcomes.no_agent>=0", "--replications", "2"])
    printed = capsys.readouterr().out
    assert code in (0, 1) and "time_to_agent.p90" in printed


def test_a_duplicated_key_is_refused_with_both_lines() -> None:
    text = BASE.replace("seed: 3\n", "seed: 3\nseed: 4\n")
    with pytest.raises(ScenarioError) as refused:
        loads(text)
    assert refused.value.line == 3 and "given twice" in str(refused.value) and "line 2" in str(refused.value)


def test_an_absurd_ring_timeout_is_warned_about_with_its_line(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_scenario(BASE.replace("ring_timeout: 15s, agent: never", "ring_timeout: 15ms, agent: never"))
    main(["run", str(path)])
    err = capsys.readouterr().err
    assert f"warning: {path}:6: centres.madrid.ring_timeout" in err and "15s" in err


def test_a_zero_talk_time_is_warned_about() -> None:
    text = BASE + "profiles:\n  agents:\n    instant: {talk_time: 0s}\n"
    warnings = loads(text).warnings
    assert len(warnings) == 1 and "talk time of 0" in warnings[0] and ":20:" in warnings[0]


# -- help, version, topics --------------------------------------------------------------------


def test_version(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("callback-emu ")


def test_every_flag_has_help_and_every_subcommand_ends_with_examples() -> None:
    top = parser()
    commands = next(a for a in top._actions if a.dest == "command").choices  # noqa: SLF001
    for name, sub in commands.items():
        text = sub.format_help()
        assert "examples:\n" in text, name
        assert text.rstrip().splitlines()[-1].startswith("  "), name
        for action in sub._actions:                                          # noqa: SLF001
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help"
    assert "(default: 1)" in commands["load"].format_help()           # defaults are shown


def test_the_metrics_topic_lists_metrics_suffixes_outcomes_and_profiles(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    for word in ("callback_latency", ".p99.9", "agent_occupancy", "person_abandoned",
                 "no_code", "impatient", "never_answers", "patience 20s"):
        assert word in out, word


# -- tables -----------------------------------------------------------------------------------


def test_the_run_table_wraps_outcomes_between_items() -> None:
    items = ["connected 120", "person_no_answer 12", "person_busy 5", "person_rejected 2",
             "person_invalid_number 1", "no_agent 9"]
    lines = wrap(items, 48)
    assert all(len(line) <= 48 for line in lines) and len(lines) > 1
    assert " ".join(lines).replace(", ", ",").split(",") == [i for i in items]


def test_load_with_one_replication_says_an_interval_needs_two(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["load", str(write_scenario(LOAD))]) == 0
    out = capsys.readouterr().out
    assert "needs at least 2" in out
    assert " s " in out or out.count(" s\n") or " %" in out          # figures carry units


def test_a_sweep_miss_names_the_bound_and_the_interval(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_scenario(LOAD)
    main(["sweep", str(path), "--vary", "centres.only.terminals=1", "--target",
          "outcomes.no_agent<0.0001", "--replications", "2"])
    out = capsys.readouterr().out
    assert "misses outcomes.no_agent<0.0001 (95 % interval)" in out and " – " in out


# -- traces -----------------------------------------------------------------------------------


def test_trace_by_outcome_finds_the_first_such_call(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["trace", str(write_scenario()), "--outcome", "person_busy"]) == 0
    assert "# call 2, seed 3: person_busy" in capsys.readouterr().out
    assert main(["trace", str(write_scenario()), "--outcome", "no_code"]) == 2
    assert "no callback ended no_code" in capsys.readouterr().err


def test_trace_shows_clock_times_when_the_scenario_has_a_day(write_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    day = LOAD.replace("arrivals: {rate: 60/h,", "arrivals: {profile: [{from: 8h, rate: 60/h}],") \
              .replace("duration: 30min", "duration: 8h30min")
    assert main(["trace", str(write_scenario(day))]) == 0
    lines = capsys.readouterr().out.splitlines()[3:]
    assert lines and all(line[:13].strip()[:3] == "08:" for line in lines)
    assert clock_time(8 * 3600 + 15 * 60 + 30.25) == "08:15:30.250"
    assert clock_time(86400 + 61) == "+1d 00:01:01.000"


# -- the pytest plugin, serve's database, what runs leave ------------------------------------


def test_the_plugin_collects_scenarios_outside_a_scenarios_folder(tmp_path: Path) -> None:
    suite = tmp_path / "my_suite"
    suite.mkdir()
    (suite / "one.yaml").write_text(BASE)
    (suite / "not_a_scenario.yaml").write_text("colour: blue\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(suite)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "1 passed" in done.stdout, done.stdout + done.stderr


def test_serve_keeps_its_default_database_out_of_the_working_tree(monkeypatch,  # type: ignore[no-untyped-def]
                                                                  tmp_path: Path) -> None:
    from emulator.cli.serve import default_db
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db() == tmp_path / "data" / "callback-emulator" / "callbacks.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert ROOT not in default_db().parents


def test_gitignore_covers_what_runs_leave_behind() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for pattern in ("/out/", "*.sqlite3", "/tests/artifacts/", ".venv/"):
        assert pattern in ignored, pattern
    assert os.path.exists(ROOT / ".gitignore")


# -- what the format's reviews found --------------------------------------------------------


@pytest.mark.parametrize("change, words", [
    (lambda t: t.replace("seed: 3", "seed: -1"), "greater than or equal to 0"),
    (lambda t: t + "codes: {digits: 2, first: 95, count: 10}\n", "do not fit in 2 digits"),
    (lambda t: t.replace("seed: 3", "seed: 3\nmode: []"), "at least 1"),
    (lambda t: t + "  - {call: 1, below: 3}\n", "'below' bounds a metric"),
    (lambda t: t.replace('"+34930000002"]', '"+34930000001"]'), "listed twice in this centre"),
    (lambda t: t + "  - {metric: callback_latency, below: 3}\n", "needs a suffix"),
    (lambda t: t + "  - {metric: failovers.max, between: [3, 1]}\n", "low bound is above"),
    (lambda t: t.replace("callbacks:", "arrivals: {rate: 1/h, duration: 1h, warmup: 2h}\n"
                         "callbacks:"), "nothing would be counted"),
    (lambda t: t + "pbx: {post_dial_delay: 4000000000}\n", "more than 100 years"),
    (lambda t: t.replace("callbacks:", "arrivals: {profile: [{from: 0h, rate: 1/h}, {from: 0h, "
                         "rate: 2/h}], duration: 1h}\ncallbacks:"), "start at the same time"),
], ids=["negative seed", "codes that do not fit", "no mode", "a bound on a call",
        "a phone twice", "no suffix", "between reversed", "warm-up too long",
        "a century in a distribution", "two steps at once"])
def test_what_could_not_run_is_refused_at_load(change, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError) as refused:
        loads(change(BASE))
    assert words in str(refused.value)


def test_a_bound_is_a_number_in_the_metric_s_unit() -> None:
    scenario = loads(BASE + "  - {metric: callback_latency.count, at_least: 5e9}\n").scenario
    assert scenario.expect[-1].at_least == 5e9          # a count, not a century of seconds


def test_a_terminal_written_as_a_mapping_may_keep_the_centre_s_agent() -> None:
    scenario = loads(BASE.replace('["+34930000001", "+34930000002"]',
                                  '[{number: "+34930000001"}, "+34930000002"]')).scenario
    assert scenario.centres["barcelona"].agents() == {}


def test_an_arrivals_file_with_a_bom_is_read(tmp_path: Path) -> None:
    (tmp_path / "day.csv").write_bytes("\ufeffat,service\n08:00,mortgages\n".encode())
    text = BASE.replace("callbacks:", "arrivals: {file: day.csv, duration: 9h}\ncallbacks:")
    (tmp_path / "s.yaml").write_text(text)
    from emulator.scenario import load
    assert load(tmp_path / "s.yaml").scenario.arrivals.file.rows[0].at == 8 * 3600  # type: ignore[union-attr]


def test_a_sweep_keeps_clock_times_as_the_loader_reads_them(tmp_path: Path) -> None:
    from emulator.scenario import edit
    path = tmp_path / "s.yaml"
    path.write_text(BASE.replace("- {at: 1s,", "- {at: 8:30,"))
    assert edit.varied(edit.raw(path), path, {"pbx.trunks": 7}).callbacks[1].at == 8.5 * 3600
