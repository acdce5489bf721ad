"""Dialogs that survive the PBX: session timers, stored dialog state, children that die.

reference_impl/telephony/pbx.py against SIPp phones (emulator/models/pbx/phone.xml):

- RFC 4028 session timers: with a short interval (2 s; the PBX's `min_se`
  lowered for the test) a call stays up across several refreshes (UPDATE)
  while the PBX lives; when the PBX stops without a BYE (a crash) the phone
  leaves the call itself, with its own BYE, within the interval. A 422 is
  retried with the phone's Min-SE (emulator/models/pbx/min_se_phone.xml).
- `on_dialog` hands out each leg's `DialogState` (in the reactor's thread) as
  its INVITE is sent (early), as the dialog is confirmed and whenever our
  CSeq moves, and None when it is over; `end_dialogs` ends a stored dialog
  from a fresh PBX on the same address after the first one crashed: the
  phone gets a BYE built by RFC 3261 section 12.2.1.1 and answers 200; a
  phone still ringing gets a CANCEL (section 9.1) and its 487 is ACKed, and
  one that answered after the crash is ACKed and sent a BYE.
- `stop` frees every trunk; the Call-IDs told to `on_message` are forgotten
  once their legs are long over.
- The SIPp phones die with the process that started them, even on SIGKILL.

Skipped only when SIPp cannot be found.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emulator.models.pbx.sipp import SippPhones, phone_user, sipp_path
from reference_impl import flow as f
from reference_impl.telephony import SipMessage, SipPbx, SipTarget, reactor
from reference_impl.telephony import pbx as pbx_module
from reference_impl.telephony.dialogs import DialogState, bye_text, invite_text, next_hop

from .sip_messages import _header, _tag, sipp_messages

ROOT = Path(__file__).resolve().parents[1]
MIN_SE_PHONE = ROOT / "emulator/models/pbx/min_se_phone.xml"
INTERVAL = 2          # seconds: the session interval of these tests (refresh every 1 s)

needs_sipp = pytest.mark.skipif(
    sipp_path() is None,
    reason="SIPp not found (Debian package sip-tester; `make` installs it, or set $SIPP)")


class Seen:
    """What a PBX tells: flow events, SIP messages, dialog states (and from which thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, f.Event]] = []
        self.messages: list[SipMessage] = []
        self.dialogs: list[tuple[str, str, DialogState | None]] = []
        self.dialog_threads: set[str] = set()
        self.trunks: Counter[str] = Counter()

    def deliver(self, callback_id: str, event: f.Event) -> None:
        with self.lock:
            self.events.append((callback_id, event))

    def message(self, callback_id: str, leg: str, message: SipMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def dialog(self, callback_id: str, leg: str, state: DialogState | None) -> None:
        with self.lock:
            self.dialogs.append((callback_id, leg, state))
            self.dialog_threads.add(threading.current_thread().name)

    def trunk(self, leg: str, delta: int) -> None:
        with self.lock:
            self.trunks[leg] += delta

    def whats(self, direction: str) -> list[str]:
        with self.lock:
            return [m.what for m in self.messages if m.direction == direction]

    def has(self, event: f.Event) -> bool:
        with self.lock:
            return any(e == event for _, e in self.events)


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.01)


def make_pbx(seen: Seen, target: SipTarget, **kwargs: Any) -> SipPbx:
    return SipPbx(deliver=seen.deliver, dialplan=lambda callback_id, leg, number: target,
                  on_message=seen.message, on_dialog=seen.dialog, on_trunk=seen.trunk, **kwargs)


@pytest.fixture
def phones() -> Iterator[SippPhones]:
    with SippPhones(extra_args=("-trace_msg",)) as p:
        yield p


def phone_log(phones: SippPhones) -> bytes:
    return b"".join(p.read_bytes() for p in Path(str(phones.workdir)).glob("*_messages.log"))


# -- session timers ------------------------------------------------------------

@needs_sipp
def test_refreshes_keep_a_call_up_while_the_pbx_lives(phones: SippPhones) -> None:
    seen = Seen()
    target = SipTarget(phone_user("answer", 0.1, 0, 0), *phones.address)   # never hangs up
    with make_pbx(seen, target, session_interval=INTERVAL, min_se=1) as pbx:
        pbx.dial("1", "person", "any", "+34910000000", ring_timeout=10)
        wait_for("the answer", lambda: seen.has(f.LegAnswered(leg="person")))
        invite = next(m for _, m in sipp_messages(phone_log(phones)) if m.startswith(b"INVITE "))
        assert _header(invite, "Supported") == "timer"
        assert _header(invite, "Session-Expires") == f"{INTERVAL};refresher=uac"
        assert _header(invite, "Min-SE") == "1"
        time.sleep(3 * INTERVAL + 0.3)                 # six refreshes, one per second
        updates = seen.whats("out").count("UPDATE")
        assert 5 <= updates <= 7, seen.whats("out")
        assert seen.whats("in").count("200 OK") == updates + 1      # the INVITE's and each UPDATE's
        assert "BYE" not in seen.whats("in") and not seen.has(f.LegHungUp(leg="person"))
        assert phones.counts().current == 1 and pbx.legs_up == 1
        # on_dialog: early (the INVITE), confirmed, then one state per refresh,
        # CSeq one up each time
        told = [state for _, _, state in seen.dialogs if state is not None]
        assert told[0].early and told[0].remote_tag == "" and not told[1].early
        assert told[0].cseq == told[1].cseq and told[1].remote_tag
        cseqs = [state.cseq for state in told[1:]]
        assert len(cseqs) == updates + 1 and cseqs == list(range(cseqs[0], cseqs[0] + len(cseqs)))
        assert seen.dialog_threads == {reactor().thread.name}
        pbx.hangup("1", "person", "done")
        wait_for("the phone to count the call", lambda: phones.counts().successful == 1)
    assert seen.dialogs[-1] == ("1", "person", None)
    assert phones.counts().failed == 0


@needs_sipp
def test_a_phone_leaves_a_call_whose_pbx_died(phones: SippPhones) -> None:
    seen = Seen()
    target = SipTarget(phone_user("answer", 0.1, 0, 0), *phones.address)
    pbx = make_pbx(seen, target, session_interval=INTERVAL, min_se=1).start()
    pbx.dial("1", "person", "any", "+34910000000", ring_timeout=10)
    wait_for("the answer", lambda: seen.has(f.LegAnswered(leg="person")))
    wait_for("a refresh", lambda: "UPDATE" in seen.whats("out"))
    time.sleep(0.2)
    last_refresh = max(m.at for m in seen.messages if m.what == "200 OK")
    dialogs_before = len(seen.dialogs)
    pbx.stop(hang_up=False)                             # a crash: no BYE, the socket closed
    assert pbx.legs_up == 0 and seen.trunks["person"] == 0      # the trunk is freed
    assert len(seen.dialogs) == dialogs_before          # a crashed PBX tells nobody
    # Someone else holds the address now; the phone's BYE arrives there.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stand_in:
        stand_in.bind((pbx.host, pbx.port))
        stand_in.settimeout(INTERVAL + 1.0)
        data, sender = stand_in.recvfrom(65535)
        got = time.monotonic()
        assert data.startswith(b"BYE "), data[:80]
        assert INTERVAL - 0.2 <= got - last_refresh <= INTERVAL + 0.3, got - last_refresh
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        echoed = [line for line in head.split("\r\n")[1:]
                  if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]
        stand_in.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(echoed) +
                         "\r\nContent-Length: 0\r\n\r\n").encode(), sender)
    wait_for("the phone to count the call", lambda: phones.counts().successful == 1)
    assert phones.counts().failed == 0


@needs_sipp
def test_a_422_is_retried_with_the_phones_min_se() -> None:
    seen = Seen()
    with SippPhones(scenario=MIN_SE_PHONE) as phone:
        with make_pbx(seen, SipTarget("any", *phone.address)) as pbx:   # the defaults: 90 s
            pbx.dial("1", "person", "any", "+34910000000", ring_timeout=10)
            wait_for("the answer", lambda: seen.has(f.LegAnswered(leg="person")))
            assert seen.whats("in")[:2] == ["422 Session Interval Too Small", "200 OK"]
            # The retry is stored as the early state a restart would CANCEL.
            early = [state for _, _, state in seen.dialogs if state is not None and state.early]
            assert len(early) == 2 and early[1].cseq == early[0].cseq + 1
            assert early[0].branch != early[1].branch
            # The answer reaches the flow from the reactor's thread; its ACK may follow it.
            wait_for("the retry's ACK",
                     lambda: seen.whats("out")[:4] == ["INVITE", "ACK", "INVITE", "ACK"])
            pbx.hangup("1", "person", "done")
            wait_for("the phone's call to end", lambda: phone.counts().successful == 1)
    # the phone's check_it regexps passed: the retry carried Session-Expires and Min-SE 120
    assert (phone.counts().successful, phone.counts().failed) == (1, 0), phone.errors()


def test_session_intervals_below_min_se_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        SipPbx(deliver=lambda callback_id, event: None, dialplan=lambda *a: SipTarget("x", "h"),
               session_interval=30)
    SipPbx(deliver=lambda callback_id, event: None, dialplan=lambda *a: SipTarget("x", "h"),
           session_interval=None)                   # no session timers at all


# -- dialog state, and ending dialogs after a restart ---------------------------

def test_dialog_state_round_trips_through_json() -> None:
    state = DialogState(call_id="abc@h", local_tag="l1", remote_tag="r1",
                        local_uri="sip:1000@127.0.0.1", remote_uri="sip:agent@127.0.0.1",
                        remote_target="sip:phone@127.0.0.1:5070",
                        route_set=("<sip:p1.example;lr>", "<sip:p2.example:5080;lr>"),
                        cseq=41, local_host="127.0.0.1", local_port=5060)
    assert DialogState.from_json(state.to_json()) == state
    assert json.loads(state.to_json())["route_set"] == list(state.route_set)
    bye = bye_text(state, "127.0.0.1", 5060, branch="z9hG4bKtest")
    assert bye.startswith("BYE sip:phone@127.0.0.1:5070 SIP/2.0\r\n")
    assert "\r\nRoute: <sip:p1.example;lr>\r\nRoute: <sip:p2.example:5080;lr>\r\n" in bye
    assert "\r\nFrom: <sip:1000@127.0.0.1>;tag=l1\r\nTo: <sip:agent@127.0.0.1>;tag=r1\r\n" in bye
    assert "\r\nCSeq: 42 BYE\r\n" in bye and "branch=z9hG4bKtest" in bye
    assert next_hop(state) == ("p1.example", 5060)          # the first route, loose routing
    assert next_hop(DialogState(**{**state.__dict__, "route_set": ()})) == ("127.0.0.1", 5070)
    for bad in ["[]", json.dumps({"call_id": "x"}),
                state.to_json().replace('"cseq":41', '"cseq":"41"')]:
        with pytest.raises(ValueError):
            DialogState.from_json(bad)


@needs_sipp
def test_a_fresh_pbx_ends_the_dialogs_of_one_that_crashed(phones: SippPhones) -> None:
    seen = Seen()
    target = SipTarget(phone_user("answer", 0.1, 0, 0), *phones.address)
    first = make_pbx(seen, target).start()
    first.dial("1", "person", "any", "+34910000000", ring_timeout=10)
    first.dial("2", "person", "any", "+34910000000", ring_timeout=10)
    wait_for("the answers", lambda: len([e for _, e in seen.events
                                         if isinstance(e, f.LegAnswered)]) == 2)
    stored = list(last_states(seen).values())
    assert len(stored) == 2
    first.stop(hang_up=False)                       # crashed: the phones still think they talk
    assert "BYE" not in seen.whats("out")
    wait_for("the phones' counts (a second old)", lambda: phones.counts().current == 2)

    states = [DialogState.from_json(text) for text in stored]
    nobody = DialogState(**{**states[0].__dict__, "call_id": "gone@nowhere",
                            "remote_target": f"sip:x@127.0.0.1:{_free_port()}"})
    restarted = SipPbx(deliver=seen.deliver, dialplan=lambda *a: target, port=first.port).start()
    try:
        began = time.monotonic()
        ended = restarted.end_dialogs([*states, nobody], timeout=1.5)
        took = time.monotonic() - began
    finally:
        restarted.stop()
    assert ended == {states[0].call_id: True, states[1].call_id: True, "gone@nowhere": False}
    assert 1.5 <= took < 2.5, took
    wait_for("the phones to count both calls", lambda: phones.counts().successful == 2)
    assert (phones.counts().current, phones.counts().failed) == (0, 0)
    # The BYEs as the phone got them: in the dialog, from the PBX's own address.
    byes = {(_header(m, "Call-ID") or ""): m for d, m in sipp_messages(phone_log(phones))
            if d == "in" and m.startswith(b"BYE ")}
    for state in states:
        bye = byes[state.call_id]
        assert bye.split(b" ")[1].decode() == state.remote_target
        assert _tag(_header(bye, "From")) == state.local_tag
        assert _tag(_header(bye, "To")) == state.remote_tag
        assert _header(bye, "CSeq") == f"{state.cseq + 1} BYE"
        assert f"127.0.0.1:{first.port};" in (_header(bye, "Via") or "")


def last_states(seen: Seen) -> dict[tuple[str, str], str]:
    """What a store keeps of `on_dialog`: each leg's last state as JSON (none once over)."""
    kept: dict[tuple[str, str], str] = {}
    for callback_id, leg, state in seen.dialogs:
        if state is None:
            kept.pop((callback_id, leg), None)
        else:
            kept[(callback_id, leg)] = state.to_json()
    return kept


def test_an_early_state_is_cancelled_not_hung_up() -> None:
    early = DialogState(call_id="abc@h", local_tag="l1", remote_tag="", local_uri="sip:1000@h",
                        remote_uri="sip:cb-ringout@127.0.0.1",
                        remote_target="sip:cb-ringout@127.0.0.1:5070", route_set=(), cseq=7,
                        local_host="127.0.0.1", local_port=5060, branch="z9hG4bKold")
    assert early.early and DialogState.from_json(early.to_json()) == early
    invite = invite_text(early)
    assert invite.startswith("INVITE sip:cb-ringout@127.0.0.1:5070 SIP/2.0\r\n")
    assert "\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKold\r\n" in invite
    assert "\r\nTo: <sip:cb-ringout@127.0.0.1>\r\n" in invite and "\r\nCSeq: 7 INVITE\r\n" in invite
    with pytest.raises(ValueError, match="CANCEL"):
        bye_text(early, "127.0.0.1", 5060)
    confirmed = DialogState(**{**early.__dict__, "branch": ""})
    with pytest.raises(ValueError, match="confirmed"):
        invite_text(confirmed)
    # States stored before early ones existed read as confirmed.
    older = json.loads(confirmed.to_json())
    del older["branch"]
    assert DialogState.from_json(json.dumps(older)) == confirmed


@needs_sipp
def test_a_fresh_pbx_cancels_the_phones_that_were_ringing(phones: SippPhones) -> None:
    seen = Seen()
    ringing = SipTarget(phone_user("ringout", 0, 0, 0), *phones.address)
    late = SipTarget(phone_user("answer", 0.6, 0, 0), *phones.address)   # answers after the crash
    targets = {"1": ringing, "2": ringing, "3": late}
    first = SipPbx(deliver=seen.deliver, dialplan=lambda callback_id, leg, number:
                   targets[callback_id], on_message=seen.message, on_dialog=seen.dialog).start()
    for callback_id in targets:
        first.dial(callback_id, "person", "any", "+34910000000", ring_timeout=30)
    wait_for("three phones ringing", lambda: len([e for _, e in seen.events
                                                  if isinstance(e, f.LegRinging)]) == 3)
    stored = last_states(seen)
    assert len(stored) == 3
    first.stop(hang_up=False)                       # crashed while they ring: no CANCEL
    assert "CANCEL" not in seen.whats("out")
    time.sleep(1.0)                                 # the late phone answers a dead PBX
    assert phones.counts().current == 3

    states = {key[0]: DialogState.from_json(text) for key, text in stored.items()}
    assert all(state.early for state in states.values())
    restarted = SipPbx(deliver=seen.deliver, dialplan=lambda *a: ringing, port=first.port,
                       on_message=seen.message).start()
    try:
        ended = restarted.end_dialogs(list(states.values()), timeout=5)
    finally:
        restarted.stop()
    assert ended == {state.call_id: True for state in states.values()}
    wait_for("the phones to end all three calls", lambda: phones.counts().current == 0)
    assert phones.counts().failed == 0, phones.errors()
    log = sipp_messages(phone_log(phones))
    got = [(m.split(b" ", 1)[0], _header(m, "Call-ID")) for d, m in log if d == "in"]
    sent = [(m.split(b"\r\n", 1)[0], _header(m, "Call-ID")) for d, m in log if d == "out"]
    for callback_id in ("1", "2"):
        call_id = states[callback_id].call_id
        assert got.count((b"INVITE", call_id)) == 1, "the INVITE was sent again"
        assert (b"CANCEL", call_id) in got and (b"ACK", call_id) in got
        assert (b"SIP/2.0 487 Request Terminated", call_id) in sent
    answered = states["3"].call_id
    assert (b"SIP/2.0 200 OK", answered) in sent
    assert (b"ACK", answered) in got and (b"BYE", answered) in got


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- trunks and Call-IDs -------------------------------------------------------------

@needs_sipp
@pytest.mark.parametrize("hang_up", [True, False])
def test_stop_frees_every_trunk(phones: SippPhones, hang_up: bool) -> None:
    seen = Seen()
    pbx = make_pbx(seen, SipTarget(phone_user("answer", 0.1, 0, 0), *phones.address)).start()
    for callback_id in ("1", "2"):
        pbx.dial(callback_id, "person", "any", "+34910000000", ring_timeout=10)
    pbx.dial("3", "person", "any", "+34910000000", ring_timeout=10)
    wait_for("two answers", lambda: len([e for _, e in seen.events
                                         if isinstance(e, f.LegAnswered)]) >= 2)
    assert pbx.legs_up == 3
    pbx.stop(hang_up=hang_up)
    assert pbx.legs_up == 0 and seen.trunks == {"person": 0}
    if hang_up:
        assert [state for _, _, state in seen.dialogs][-1] is None
        wait_for("the phones' calls to end", lambda: phones.counts().current == 0)


@needs_sipp
def test_call_ids_of_ended_legs_are_forgotten(phones: SippPhones,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pbx_module, "_ID_LINGER", 0.3)
    seen = Seen()
    with make_pbx(seen, SipTarget(phone_user("busy", 0, 0, 0), *phones.address)) as pbx:
        for n in range(5):
            pbx.dial(str(n), "person", "any", "+34910000000", ring_timeout=10)
        wait_for("five busy", lambda: len([e for _, e in seen.events
                                           if isinstance(e, f.LegFailed)]) == 5)
        assert len(pbx._call_ids) == 5
        time.sleep(0.4)
        pbx.dial("later", "person", "any", "+34910000000", ring_timeout=10)
        wait_for("the sixth", lambda: len(seen.events) >= 6)
        reactor().call_sync(lambda: None)
        assert len(pbx._call_ids) <= 1, pbx._call_ids


# -- children die with their parent --------------------------------------------------

CHILD = textwrap.dedent("""\
    import sys, time
    sys.path.insert(0, {root!r})
    from emulator.models.pbx.sipp import SippPhones
    phones = SippPhones().start()
    print(phones.pid, flush=True)
    time.sleep(60)
    """)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")          # a zombie is dead, waiting for init to reap it


@needs_sipp
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sipp_dies_with_a_parent_killed_outright() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT))],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        sipp = int(line)
        assert _alive(sipp)
        os.kill(child.pid, signal.SIGKILL)              # no atexit, no stop()
        child.wait(5)
        deadline = time.monotonic() + 1.0
        while _alive(sipp) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _alive(sipp), f"SIPp (pid {sipp}) outlived its parent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
