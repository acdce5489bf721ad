"""Two-way audio proven on the wire: each phone's RTP reaches the other once bridged.

The PBX only swaps session descriptions; media flows phone to phone. So the
check is made on loopback itself, with tshark (Debian `tshark`, run as root),
capturing the SIP and the RTP of a call run through the real Runtime and the
sippy PBX (`run_sip`), and reading them back: from the SIP, the media
address each phone gave in its answer, the bridge (the 200 to the person's
re-INVITE) and the hang-up (the first BYE); from the RTP, when packets
arrived at each address. The phones: the harness's SIPp phones told to send
RTP (``-rtp``: SIPp's ``rtp_stream``), and Debian's baresip as the agent.

Also checked: the replay's own measurement (`AudioRecord.audio`, what
``expect[].audio`` reads) agrees with tshark, and says ``one_way`` when one
phone sends nothing (SIPp's built-in uas as the desk phone).

Skipped, with the reason, only when SIPp or tshark cannot run (tshark needs
root to capture on lo; the replay's watch needs root too).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from emulator.drivers.sip_replay import AudioRecord, run_sip
from emulator.models.pbx.sipp import SippPhones, die_with_parent, sipp_path
from emulator.scenario import loads

from .test_sip_bridge import (Baresip, Recorded, assert_clean, builtin_uas, needs_baresip,
                              scenario_text)


def _tshark_missing() -> str:
    if sipp_path() is None:
        return "SIPp not found (Debian package sip-tester)"
    if shutil.which("tshark") is None:
        return "tshark not found (Debian package tshark; scripts/system-deps.sh installs it)"
    if os.geteuid() != 0:
        return "capturing on lo (tshark, the replay's raw socket) needs root"
    return ""


pytestmark = pytest.mark.skipif(bool(_tshark_missing()), reason=_tshark_missing() or "-")

AUDIO = "\n" + "\n".join([
    "expect:",
    "  - {call: 1, outcome: connected, audio: two_way}",
])


class Capture:
    """tshark on lo writing a pcap (all UDP), started and stopped around a run."""

    def __init__(self, folder: Path) -> None:
        self.pcap = folder / "lo.pcap"
        self.log = folder / "tshark.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Capture":
        exe = shutil.which("tshark")
        assert exe is not None
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([exe, "-i", "lo", "-f", "udp", "-F", "pcap",
                                          "-w", str(self.pcap)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         preexec_fn=die_with_parent)
        deadline = time.monotonic() + 15
        while "Capturing on" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise AssertionError(f"tshark did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            time.sleep(0.3)                     # the last packets reach the file
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def packets(self) -> list[dict[str, str]]:
        """Every packet as tshark's fields (SIP decoded by its heuristic, RTP by one forced on)."""
        names = ["frame.time_epoch", "ip.dst", "udp.dstport", "udp.srcport", "sip.Call-ID",
                 "sip.Method", "sip.Status-Code", "sip.CSeq.method", "sdp.media.port",
                 "sdp.connection_info.address", "rtp.p_type", "rtp.ssrc"]
        out = subprocess.run(
            ["tshark", "-r", str(self.pcap), "--enable-heuristic", "rtp_udp", "-T", "fields",
             "-E", "separator=\t", "-E", "occurrence=f", *sum((["-e", n] for n in names), [])],
            capture_output=True, text=True, timeout=60, check=True).stdout
        return [dict(zip(names, line.split("\t"))) for line in out.splitlines() if line.strip()]


@dataclass
class Wire:
    """One call as tshark saw it."""

    media: dict[str, tuple[str, int]] = field(default_factory=dict)  # leg -> its answer's media
    answered: dict[str, float] = field(default_factory=dict)         # leg -> its first 200 INVITE
    bridged: float = 0.0            # the 200 to the person's re-INVITE
    hung_up: float = 0.0            # the first BYE of either leg
    rtp: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    payload_types: set[str] = field(default_factory=set)
    ssrcs: dict[tuple[str, int], set[str]] = field(default_factory=lambda: defaultdict(set))

    def to(self, leg: str) -> list[float]:
        """When RTP arrived at `leg`'s media address."""
        return self.rtp.get(self.media[leg], [])


def read_wire(capture: Capture, recorded: Recorded) -> Wire:
    call_ids = {m.call_id: leg for _, leg, m in recorded.messages}
    wire = Wire()
    invite_oks: dict[str, list[float]] = defaultdict(list)
    for packet in capture.packets():
        at = float(packet["frame.time_epoch"])
        leg = call_ids.get(packet["sip.Call-ID"])
        if leg is not None:
            if packet["sip.Status-Code"] == "200" and packet["sip.CSeq.method"] == "INVITE":
                if not invite_oks[leg] and packet["sdp.media.port"]:
                    wire.media[leg] = (packet["sdp.connection_info.address"],
                                       int(packet["sdp.media.port"]))
                    wire.answered[leg] = at
                invite_oks[leg].append(at)
            if packet["sip.Method"] == "BYE" and not wire.hung_up:
                wire.hung_up = at
        elif packet["rtp.p_type"]:
            where = (packet["ip.dst"], int(packet["udp.dstport"]))
            wire.rtp[where].append(at)
            wire.payload_types.add(packet["rtp.p_type"])
            wire.ssrcs[where].add(packet["rtp.ssrc"])
    person_oks = sorted(set(invite_oks["person"]))
    assert len(person_oks) >= 2, f"no 200 to the person's re-INVITE on the wire: {person_oks}"
    wire.bridged = person_oks[1]
    return wire


def check_two_way(wire: Wire, agent: str, talk: float) -> None:
    """Each phone's RTP reaches the other after the bridge, for the talk, and stops at the
    hang-up."""
    assert wire.hung_up > wire.bridged > 0
    to_agent, to_person = wire.to(agent), wire.to("person")
    after = [t for t in to_agent if wire.bridged - 0.05 <= t <= wire.hung_up]
    back = [t for t in to_person if wire.bridged <= t <= wire.hung_up]
    expected = talk * 50                      # 20 ms packets
    assert len(after) >= 0.8 * expected, (len(after), expected)
    assert len(back) >= 0.8 * expected, (len(back), expected)
    # the person's phone sends only once bridged (it was on hold before)
    assert min(to_agent) >= wire.bridged - 0.05, (min(to_agent), wire.bridged)
    # the agent's phone sends once it has answered (the INVITE offered the person's media)
    assert min(to_person) >= wire.answered[agent] - 0.05
    # and both stop at the hang-up (the second BYE, its 200 and the call's end: well
    # within half a second)
    assert max(to_agent) <= wire.hung_up + 0.5 and max(to_person) <= wire.hung_up + 0.5, \
        (max(to_agent) - wire.hung_up, max(to_person) - wire.hung_up)
    assert wire.media[agent] != wire.media["person"]
    assert all(len(ssrcs) == 1 for ssrcs in wire.ssrcs.values())   # one stream each way


def test_sipp_phones_hear_each_other_from_bridge_to_hang_up(tmp_path: Path) -> None:
    scenario = loads(scenario_text(person_talk="3s") + AUDIO).scenario
    recorded = Recorded()
    with Capture(tmp_path) as capture:
        result = run_sip(scenario, on_message=recorded)
        time.sleep(0.7)                          # nothing more comes after the hang-up
    wire = read_wire(capture, recorded)
    check_two_way(wire, "agent-1", talk=3.0)
    assert wire.payload_types == {"0"}           # PCMU, as offered
    record = result.records[0]
    assert isinstance(record, AudioRecord) and record.audio == "two_way", record
    # The replay's own count (what expect[].audio reads) sees what tshark saw (its window
    # is the flow's bridge to end, a few ms off the wire's: a packet or two).
    found = re.match(r"person->agent (\d+) .* agent->person (\d+) ", record.audio_detail)
    assert found, record.audio_detail
    for leg, counted in (("agent-1", int(found.group(1))), ("person", int(found.group(2)))):
        seen = sum(wire.bridged <= t <= wire.hung_up for t in wire.to(leg))
        assert abs(counted - seen) <= 3, (leg, counted, seen, record.audio_detail)
    assert_clean(result)


@needs_baresip
def test_baresip_and_a_sipp_phone_hear_each_other(tmp_path: Path) -> None:
    recorded = Recorded()
    with Baresip(tmp_path / "baresip") as softphone:
        scenario = loads(scenario_text(terminal=softphone.uri, person_talk="3s") + AUDIO).scenario
        with Capture(tmp_path) as capture:
            result = run_sip(scenario, on_message=recorded)
            time.sleep(0.7)
    wire = read_wire(capture, recorded)
    check_two_way(wire, "agent-1", talk=3.0)
    assert result.records[0].audio == "two_way", result.records[0]
    assert_clean(result)


def test_a_desk_phone_that_sends_nothing_is_one_way_audio(tmp_path: Path) -> None:
    """The replay's measurement is not a formality: SIPp's built-in uas sends no RTP."""
    with SippPhones(scenario=builtin_uas(tmp_path)) as desk:
        uri = f"sip:service@{desk.host}:{desk.port}"
        text = scenario_text(terminal=uri, person_talk="2s") + AUDIO.replace("two_way", "one_way")
        result = run_sip(loads(text).scenario)
    record = result.records[0]
    assert record.outcome == "connected"
    assert record.audio == "one_way", record.audio_detail
    assert record.audio_detail.startswith("person->agent ") and " agent->person 0 " in record.audio_detail


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    for child in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = child.read_text().split()
        except OSError:
            continue
        if fields[3] == str(os.getpid()) and fields[1] in ("(sipp)", "(baresip)", "(tshark)"):
            pytest.fail(f"a {fields[1]} child was left running: pid {fields[0]}")
