"""Retries over real SIP: the person's line is busy twice, the third call connects.

The SIP replay (emulator/drivers/sip_replay.py) applies the scenario's policy
as the simulation does: each call to the person is a leg of its own
("person", "person-2", "person-3"), dialled by the sippy PBX to the SIPp
phones, and the waits between calls (two minutes here) are skipped, since
nothing is on the phones meanwhile. A cancel on the status page (`cancel_at`)
reaches the flow at its time too.

What shows that the PBX finds the person's leg by its role, not its name:
the agent's INVITE of the third attempt offers the person's media (RFC 3725),
so the agent's phone gets no re-INVITE and the person's one re-INVITE. Had
the PBX looked for the leg named "person" (long over), it would have offered
the agent a held stream and re-INVITEd both phones.
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from emulator.drivers.sip_replay import run_sip
from emulator.models.pbx.sipp import sipp_path
from emulator.scenario import load
from reference_impl.telephony import SipMessage

pytestmark = pytest.mark.skipif(
    sipp_path() is None,
    reason="SIPp not found: install Debian's sip-tester (make test does it as root)")

SCENARIO = """\
name: a busy line is called again over SIP, and the third call connects
seed: 5
mode: [sim, sip]
services:
  mortgages: {centres: [madrid]}
centres:
  madrid: {terminals: 2, ring_timeout: 15s, agent: {pickup_delay: {fixed: 500ms}, talk_time: {fixed: 3s}}}
policy:
  retry:
    person_busy: {after: 2min, attempts: 3}
callbacks:
  - {at: 0s, service: mortgages, person: [busy, busy, prompt]}
  - {at: 1s, service: mortgages, person: never_answers, cancel_at: 4s}
"""


def test_a_retried_callback_connects_over_sip_and_its_bridge_finds_the_person_by_role(
        tmp_path: Path) -> None:
    path = tmp_path / "retry.yaml"
    path.write_text(textwrap.dedent(SCENARIO))
    scenario = load(path).scenario
    invites: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def on_message(callback_id: str, leg: str, message: SipMessage) -> None:
        if message.direction == "out" and message.what == "INVITE":
            with lock:
                invites[(callback_id, leg)] += 1

    began = time.monotonic()
    result = run_sip(scenario, on_message=on_message)
    took = time.monotonic() - began
    records = {r.id: r for r in result.records}

    first = records["1"]
    assert first.outcome == "connected"
    assert [a.leg for a in first.attempts] == ["person", "person-2", "person-3"]
    assert [a.outcome for a in first.attempts] == ["person_busy", "person_busy", "connected"]
    waits = [b.dialled - a.ended for a, b in zip(first.attempts, first.attempts[1:])
             if a.ended is not None]
    assert len(waits) == 2 and all(119.9 < w < 120.5 for w in waits), waits
    assert records["2"].outcome == "cancelled"
    assert 3.9 < records["2"].times["ended"] < 4.5
    assert invites[("1", "person")] == invites[("1", "person-2")] == 1    # busy: no dialog
    assert invites[("1", "person-3")] == 2, "the person's phone: its INVITE, one re-INVITE"
    assert invites[("1", "agent-1")] == 1, "the agent's INVITE offered the person's media"
    assert result.open_at_end == {"live": 0, "rooms": 0, "codes": 0, "legs": 0, "timers": 0}
    assert took < 60, f"the two-minute waits were not skipped ({took:.0f} s)"
