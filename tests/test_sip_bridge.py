"""Bridging any RFC 3261 phone (reference_impl/telephony/pbx.py), through the real Runtime.

The PBX bridges with one re-INVITE: the agent's INVITE offers the person's
session description, so the agent's phone is bridged by its answer, and only
the person's phone is re-INVITEd (with the agent's). Each test runs a
scenario over real SIP (`run_sip`: the sippy PBX, the Runtime, the SIPp
phones of the harness) with one phone written as a `sip:` URI, dialled as
written: a phone this file starts itself.

- SIPp's built-in ``uas`` scenario (``sipp -sd uas``, as ``-sn uas`` runs it)
  answers an INVITE but never a re-INVITE. As the agent's desk phone it needs
  none: the call connects. As the person's phone it never takes the bridge:
  `BridgeFailed` after the PBX's bound, both legs get a BYE, nothing is left.
- Debian's baresip, headless (a config folder written here: auto-answer, a
  sine tone as its microphone, no sound card, SIP on a loopback port, no
  registration), as the agent's softphone: it answers and the call connects.

Skipped, with the reason, only when SIPp or baresip is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import pytest

from emulator.drivers.sip_replay import run_sip
from emulator.drivers.simulation import SimResult
from emulator.models.pbx.sipp import SippPhones, die_with_parent, free_udp_port, sipp_path
from emulator.scenario import loads
from reference_impl.telephony import SipMessage

needs_sipp = pytest.mark.skipif(
    sipp_path() is None,
    reason="SIPp not found (Debian package sip-tester; `make` installs it, or set $SIPP)")

BARESIP_MODULES = ("g711.so", "ausine.so", "aubridge.so", "account.so", "menu.so")
MODULE_DIRS = ("/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules",
               "/usr/lib/aarch64-linux-gnu/baresip/modules", "/usr/local/lib/baresip/modules")


def baresip_modules() -> Path | None:
    """The folder of baresip's modules that has every module the tests load."""
    for folder in map(Path, MODULE_DIRS):
        if all((folder / name).exists() for name in BARESIP_MODULES):
            return folder
    return None


def baresip_missing() -> str:
    """Why baresip cannot run here ('' when it can)."""
    if shutil.which("baresip") is None:
        return "baresip not found (Debian package baresip; scripts/system-deps.sh installs it)"
    if baresip_modules() is None:
        return f"baresip's modules {', '.join(BARESIP_MODULES)} not found in {', '.join(MODULE_DIRS)}"
    return ""


needs_baresip = pytest.mark.skipif(bool(baresip_missing()), reason=baresip_missing() or "-")


def builtin_uas(folder: Path) -> Path:
    """SIPp's built-in ``uas`` scenario as a file (``sipp -sd uas``): what ``-sn uas`` plays."""
    exe = sipp_path()
    assert exe is not None
    # SIPp exits 99 after dumping; the scenario is on stdout.
    dumped = subprocess.run([exe, "-sd", "uas"], capture_output=True, text=True, timeout=10).stdout
    assert "<scenario" in dumped and "</scenario>" in dumped, dumped[-500:]
    start = dumped.index("<?xml")
    path = folder / "uas.xml"
    path.write_text(dumped[start:])
    return path


def options_answered(address: tuple[str, int], timeout: float = 0.2) -> bool:
    """Whether a SIP OPTIONS to `address` gets a response within `timeout`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        call_id = uuid.uuid4().hex
        sock.sendto((f"OPTIONS sip:probe@{address[0]}:{address[1]} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id[:16]};rport\r\n"
                     f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1:{port}>;tag=probe\r\n"
                     f"To: <sip:probe@{address[0]}:{address[1]}>\r\nCall-ID: {call_id}\r\n"
                     f"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(), address)
        sock.settimeout(timeout)
        try:
            data, _ = sock.recvfrom(65535)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 ")


class Baresip:
    """baresip as a headless softphone on ``127.0.0.1:port``; a context manager.

    Its config folder (written here): SIP on the loopback port, no
    registration, calls answered at once (``answermode=auto``), a 440 Hz sine
    as the microphone (ausine) and no sound card (aubridge), G.711. It dies
    with the test process (`die_with_parent`).
    """

    def __init__(self, folder: Path, user: str = "agent") -> None:
        self.folder = folder
        self.user = user
        self.port = free_udp_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """Where to dial it."""
        return f"sip:{self.user}@127.0.0.1:{self.port}"

    def log(self) -> str:
        """What baresip printed."""
        path = self.folder / "baresip.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> "Baresip":
        modules = baresip_modules()
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "config").write_text(textwrap.dedent(f"""\
            poll_method     epoll
            sip_listen      127.0.0.1:{self.port}
            sip_trans_def   udp
            net_interface   127.0.0.1
            audio_player    aubridge,nowhere
            audio_alert     aubridge,nowhere
            audio_source    ausine,440
            ausrc_srate     48000
            ausrc_channels  2
            auplay_srate    48000
            module_path     {modules}
            module          g711.so
            module          ausine.so
            module          aubridge.so
            module_app      account.so
            module_app      menu.so
            """))
        (self.folder / "accounts").write_text(
            f"<sip:{self.user}@127.0.0.1>;regint=0;answermode=auto\n")
        exe = shutil.which("baresip")
        assert exe is not None
        with open(self.folder / "baresip.log", "wb") as log:
            self.proc = subprocess.Popen([exe, "-f", str(self.folder)], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        while not options_answered(("127.0.0.1", self.port)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise AssertionError(f"baresip did not come up on port {self.port}:\n{self.log()}")
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def scenario_text(*, terminal: str = "", number: str = "", agent_talk: str = "30s",
                  person_talk: str = "") -> str:
    """One callback to one desk phone; `terminal` / `number` as `sip:` URIs if given."""
    terminals = f'["{terminal}"]' if terminal else "1"
    person = "{answer_delay: {fixed: 500ms}" + (f", talk_time: {{fixed: {person_talk}}}}}"
                                                 if person_talk else "}")
    call = f'{{at: 0s, service: loans, person: {person}' + (f', number: "{number}"}}'
                                                           if number else "}")
    return textwrap.dedent(f"""\
        name: a phone of our own in the bridge
        mode: [sip]
        services:
          loans: {{centres: [outside]}}
        centres:
          outside: {{terminals: {terminals}, ring_timeout: 10s,
                     agent: {{pickup_delay: {{fixed: 500ms}}, talk_time: {{fixed: {agent_talk}}},
                              code_entry_delay: {{fixed: 1s}}}}}}
        pbx: {{person_ring_timeout: 10s}}
        callbacks:
          - {call}
        """)


class Recorded:
    """Every SIP message of the run, by leg (the PBX's `on_message`)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, SipMessage]] = []

    def __call__(self, callback_id: str, leg: str, message: SipMessage) -> None:
        self.messages.append((callback_id, leg, message))

    def sent(self, what: str) -> Counter[str]:
        """How many `what` (a method) the PBX sent, by leg."""
        return Counter(leg for _, leg, m in self.messages if m.direction == "out" and m.what == what)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds (or `timeout` seconds; the caller's asserts then say)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def assert_clean(result: SimResult) -> None:
    assert result.open_at_end == {"live": 0, "rooms": 0, "codes": 0, "legs": 0, "timers": 0}, \
        result.open_at_end


@needs_sipp
def test_a_desk_phone_that_never_answers_a_reinvite_is_bridged_by_its_answer(
        tmp_path: Path) -> None:
    """SIPp's built-in uas as the agent's phone: the call connects (it used to sit in
    `bridging` until the person hung up, recorded person_abandoned)."""
    recorded = Recorded()
    with SippPhones(scenario=builtin_uas(tmp_path)) as desk:
        uri = f"sip:service@{desk.host}:{desk.port}"
        scenario = loads(scenario_text(terminal=uri, person_talk="2s")).scenario
        result = run_sip(scenario, on_message=recorded)
        wait_for(lambda: desk.counts().successful == 1)    # its BYE is in (counts: 1 s old)
    record = result.records[0]
    assert (record.outcome, record.ended_by, record.terminal) == ("connected", "person", uri)
    assert "bridged" in record.times and record.times["bridged"] - record.times["agent_answered"] < 0.5
    # One re-INVITE, the person's; the desk phone got one INVITE, its BYE, no re-INVITE.
    assert recorded.sent("INVITE") == {"person": 2, "agent-1": 1}, recorded.sent("INVITE")
    assert recorded.sent("BYE") == {"agent-1": 1}
    assert_clean(result)
    counts = desk.counts()
    assert (counts.created, counts.successful, counts.failed) == (1, 1, 0), counts


@needs_sipp
def test_a_person_phone_that_never_answers_the_reinvite_ends_bridge_failed(
        tmp_path: Path) -> None:
    """SIPp's built-in uas as the person's phone: the bridge is never confirmed; after
    the PBX's bound (8 s) the flow hears BridgeFailed and hangs up both legs."""
    recorded = Recorded()
    with SippPhones(scenario=builtin_uas(tmp_path)) as person:
        uri = f"sip:person@{person.host}:{person.port}"
        scenario = loads(scenario_text(number=uri)).scenario
        started = time.monotonic()
        result = run_sip(scenario, on_message=recorded)
        took = time.monotonic() - started
    record = result.records[0]
    assert record.outcome == "bridge_failed", record.outcome
    assert "bridged" not in record.times and "agent_answered" in record.times
    waited = record.times["ended"] - record.times["agent_answered"]
    assert 8.0 <= waited < 8.5, waited
    assert recorded.sent("BYE") == {"person": 1, "agent-1": 1}, recorded.sent("BYE")
    assert recorded.sent("INVITE")["agent-1"] == 1            # the agent: no re-INVITE
    assert_clean(result)
    assert took < 20, took


@needs_sipp
@needs_baresip
def test_baresip_answers_as_the_agent_and_the_call_connects(tmp_path: Path) -> None:
    recorded = Recorded()
    with Baresip(tmp_path / "baresip") as softphone:
        scenario = loads(scenario_text(terminal=softphone.uri, person_talk="2s")).scenario
        result = run_sip(scenario, on_message=recorded)
        log = softphone.log()
    record = result.records[0]
    assert (record.outcome, record.ended_by) == ("connected", "person"), (record.outcome, log)
    assert "bridged" in record.times
    assert "answering call" in log and "audio tx pipeline:" in log, log
    assert recorded.sent("INVITE") == {"person": 2, "agent-1": 1}, recorded.sent("INVITE")
    assert recorded.sent("BYE") == {"agent-1": 1}
    answers = [m.what for _, leg, m in recorded.messages if leg == "agent-1" and m.direction == "in"]
    assert any(what.startswith("200") for what in answers), answers
    assert_clean(result)


NO_BODY_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answers without a session description">
  <recv request="INVITE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]NoBody[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:phone@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""


@needs_sipp
def test_a_desk_phone_answering_without_a_body_is_a_failed_bridge_not_a_stuck_call(
        tmp_path: Path) -> None:
    """A 200 without SDP used to raise in the reactor (no Bridged ever came)."""
    path = tmp_path / "nobody.xml"
    path.write_text(NO_BODY_UAS)
    recorded = Recorded()
    with SippPhones(scenario=path) as desk:
        uri = f"sip:service@{desk.host}:{desk.port}"
        result = run_sip(loads(scenario_text(terminal=uri)).scenario, on_message=recorded)
        wait_for(lambda: desk.counts().successful == 1)
    record = result.records[0]
    assert record.outcome == "bridge_failed"
    assert record.times["ended"] - record.times["agent_answered"] < 0.5     # at once, no 8 s
    assert recorded.sent("BYE") == {"person": 1, "agent-1": 1}
    assert "person" not in recorded.sent("INVITE") or recorded.sent("INVITE")["person"] == 1
    assert_clean(result)
    assert desk.counts().failed == 0


@pytest.fixture(autouse=True)
def _no_leftover_children() -> Iterator[None]:
    yield
    # Every phone this file started has stopped with its test.
    for child in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = child.read_text().split()
        except OSError:
            continue
        if fields[3] == str(os.getpid()) and fields[1] in ("(sipp)", "(baresip)"):
            pytest.fail(f"a {fields[1]} child was left running: pid {fields[0]}")
