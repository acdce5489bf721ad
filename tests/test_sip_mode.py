"""Scenarios over real SIP: the sippy PBX dials SIPp phones on loopback.

These run in real time (seconds to minutes); `make test` installs SIPp.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from emulator.cli import main
from emulator.models.pbx.sipp import SippPhones, phone_user, sipp_path
from emulator.scenario import load

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    sipp_path() is None,
    reason="SIPp not found: install Debian's sip-tester (make test does it as root)")


GROUPS = 8      # SIP runs wait on real timers, mostly idle: eight at once on two cores


def groups_by_length(files: list[Path], count: int) -> list[list[Path]]:
    """Scenarios split into `count` groups of about equal length, each file's length
    estimated by its run in simulated time (the SIP replay follows the same timeline)."""
    from emulator.drivers.simulation import simulate

    lengths = sorted(((simulate(load(f).scenario).end, f) for f in files), reverse=True)
    groups: list[tuple[float, list[Path]]] = [(0.0, []) for _ in range(count)]
    for length, file in lengths:                    # longest first, into the shortest group
        total, members = min(groups, key=lambda g: g[0])
        groups[groups.index((total, members))] = (total + length, members + [file])
    return [members for _, members in groups if members]


def test_the_qa_suite_passes_over_real_sip(tmp_path: Path) -> None:
    files = [f for f in sorted((ROOT / "scenarios/qa").glob("*.yaml"))
             if "sip" in load(f).scenario.mode]
    assert len(files) >= 10
    runs = []
    for index, group in enumerate(groups_by_length(files, GROUPS)):
        out = tmp_path / f"sip{index}.json"
        runs.append((out, subprocess.Popen(
            [sys.executable, "-m", "emulator.cli", "run", *map(str, group), "--mode", "sip",
             "--time-scale", "10", "--json", str(out)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    results = []
    for out, process in runs:
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stdout + stderr[-3000:]
        document = json.loads(out.read_text())
        results += document.get("scenarios", [document])
    assert sorted(r["file"] for r in results) == sorted(map(str, files))
    assert all(r["mode"] == "sip" and r["status"] == "pass" for r in results), \
        [r["file"] for r in results if r["status"] != "pass"]


def test_diff_agrees_on_a_qa_scenario_and_calibrates(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "calibrated.yaml"
    code = main(["diff", "scenarios/qa/failover_second_centre.yaml", "--time-scale", "10",
                 "--calibrate", str(target)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2/2 calls with the same outcome: outcomes agree" in out
    assert "callback_latency" in out
    fitted = yaml.safe_load(target.read_text())["pbx"]["post_dial_delay"]["lognormal"]
    # Over loopback the PBX sees the 180 within milliseconds, not the 300 ms assumed.
    assert fitted["median"].endswith("ms") and float(fitted["median"][:-2]) < 100
    assert load(target).scenario.pbx.post_dial_delay.mean < 0.1


def test_diff_exits_1_when_outcomes_disagree(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from emulator.drivers import sip_replay as sipmode

    real = sipmode.PhoneDialplan.__call__

    def always_busy(self, callback_id, leg, number):  # type: ignore[no-untyped-def]
        target = real(self, callback_id, leg, number)
        return type(target)(phone_user("busy", 0, 0, 0), target.host, target.port)

    monkeypatch.setattr(sipmode.PhoneDialplan, "__call__", always_busy)
    code = main(["diff", "scenarios/qa/outcome_person_rejected.yaml"])
    out = capsys.readouterr().out
    assert code == 1
    assert "person_rejected" in out and "person_busy" in out and "OUTCOMES DISAGREE" in out


def test_trace_over_sip_shows_the_sip_messages(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["trace", "scenarios/qa/agent_hangs_up_first.yaml", "--mode", "sip",
                 "--call", "1", "--time-scale", "10"]) == 0
    out = capsys.readouterr().out
    assert "(over real SIP)" in out
    for needle in ("person   <-- SIP INVITE", "person   --> SIP 180 Ringing",
                   "person   --> SIP 200 OK", "person   <-- SIP ACK", "agent-1  <-- SIP INVITE",
                   "--> LegAnswered leg=agent-1", "<-- Bridge person_leg=person agent_leg=agent-1",
                   "agent-1  --> SIP BYE", "<-- CloseRecord outcome=connected"):
        assert needle in out, needle
    # The agent's desk phone shows the connection code: From user of its INVITE.
    assert any("agent-1  <-- SIP INVITE from=1000" in line for line in out.splitlines())


def test_a_sip_uri_terminal_reaches_a_peer_the_harness_did_not_start(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # This test starts the peer itself; the scenario names it by URI and the
    # harness dials it as written, starting no phone for it.
    with SippPhones() as peer:
        uri = peer.uri(phone_user("answer", 0.5, 0, 2.0))
        path = tmp_path / "peer.yaml"
        path.write_text(textwrap.dedent(f"""\
            name: a desk phone outside the harness
            mode: [sip]
            services:
              loans: {{centres: [outside]}}
            centres:
              outside: {{terminals: ["{uri}"], ring_timeout: 10s,
                         agent: {{pickup_delay: {{fixed: 500ms}}, talk_time: {{fixed: 2s}},
                                  code_entry_delay: {{fixed: 1s}}}}}}
            callbacks:
              - {{at: 0s, service: loans, person: {{answer_delay: {{fixed: 500ms}}}}}}
            expect:
              - {{call: 1, outcome: connected, terminal: "{uri}", ended_by: agent, room: true}}
            """))
        assert main(["run", "--mode", "sip", str(path)]) == 0, capsys.readouterr().out
    counts = peer.counts()          # final once the peer has stopped
    assert counts.successful == 1 and counts.failed == 0
