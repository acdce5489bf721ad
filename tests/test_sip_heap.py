"""A finished call leaves nothing for the garbage collector (issue 14, 150 callbacks/s).

Under load, every object of an ended call that only a full garbage
collection can free piles up in the oldest generation; each full pass then
walks all of it and stops every thread (sippy's reactor too) for longer
than SIP's T1, and the phones retransmit. So the PBX (sippy's UA as
reference_impl/telephony/_sippy_ext.py extends it) leaves no reference cycle
behind: here a few whole calls (two legs, the bridge, the person's phone
hanging up with its BYE, the PBX's BYE to the agent), a busy line and a call
given up while ringing (CANCEL) run on the sippy PBX to SIPp phones with the
collector off; once sippy has let its dialogs go, a
collection finds no unreachable object at all. The UAs' linger after a call
(`godead_timeout`, 5 s) is shortened here to keep the test quick.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter
from typing import Callable, Iterator

import pytest

from emulator.models.pbx.sipp import SippPhones, phone_user, sipp_path
from reference_impl import flow as f
from reference_impl.telephony import SipPbx, SipTarget, reactor

pytestmark = pytest.mark.skipif(
    sipp_path() is None,
    reason="SIPp not found: install Debian's sip-tester (make test does it as root)")


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_whole_calls_leave_no_cyclic_garbage(collector_off: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    reactor()                                  # sippy is imported in its own thread first
    from reference_impl.telephony._sippy_ext import PbxUA

    monkeypatch.setattr(PbxUA, "godead_timeout", 0.3)
    events: list[tuple[str, f.Event]] = []
    lock = threading.Lock()

    def deliver(callback_id: str, event: f.Event) -> None:
        with lock:
            events.append((callback_id, event))

    def seen(kind: type, count: int) -> Callable[[], bool]:
        return lambda: sum(isinstance(e, kind) for _, e in list(events)) >= count

    def whole_calls(pbx: SipPbx, phones: SippPhones, calls: list[str]) -> None:
        before = len(events)
        count = lambda kind: sum(isinstance(e, kind) for _, e in events[before:])  # noqa: E731
        for cid in calls:
            pbx.dial(cid, "person", "+34600000000", "", ring_timeout=10)
        wait_for("the people to answer", lambda: count(f.LegAnswered) == len(calls))
        for cid in calls:
            pbx.dial(cid, "agent-1", "+34910000001", "1000", ring_timeout=10)
        wait_for("the agents to answer", lambda: count(f.LegAnswered) == 2 * len(calls))
        for cid in calls:
            pbx.bridge(cid, "person", "agent-1")
        wait_for("the bridges", lambda: count(f.Bridged) == len(calls))
        wait_for("the people to hang up", lambda: count(f.LegHungUp) == len(calls))
        for cid in calls:
            pbx.hangup(cid, "agent-1", "bye")
        failed = count(f.LegFailed)
        pbx.dial("busy", "person", "+34600000001", "", ring_timeout=10)     # 486
        pbx.dial("rings", "person", "+34600000002", "", ring_timeout=10)    # CANCEL, 487
        wait_for("the ringing", lambda: count(f.LegRinging) > len(calls))
        pbx.hangup("rings", "person", "gave up")
        wait_for("the busy line", lambda: count(f.LegFailed) == failed + 1)
        wait_for("every leg to be let go", lambda: pbx.legs_up == 0)
        wait_for("the phones to end every call", lambda: phones.counts().current == 0)
        time.sleep(0.6)                        # the UAs linger 0.3 s, then die
        reactor().call_sync(lambda: None)      # whatever the reactor had queued has run

    with SippPhones() as phones:
        person = SipTarget(phone_user("answer", 0.05, 10.0, 0.3), *phones.address)
        agent = SipTarget(phone_user("answer", 0.05, 10.0, 0), *phones.address)
        busy = SipTarget(phone_user("busy", 0, 0, 0), *phones.address)
        rings = SipTarget(phone_user("ringout", 0, 0, 0), *phones.address)
        targets = {"busy": busy, "rings": rings}
        pbx = SipPbx(deliver=deliver, dialplan=lambda cid, leg, n: targets.get(cid) or (
            person if leg == "person" else agent)).start()
        try:
            whole_calls(pbx, phones, ["warm-up"])   # what a first call makes once (imports...)
            gc.collect()
            whole_calls(pbx, phones, ["1", "2", "3", "4"])
            gc.set_debug(gc.DEBUG_SAVEALL)     # keep what a collection finds, to name it
            found = gc.collect()
            kinds = Counter(type(o).__qualname__ for o in gc.garbage)
        finally:
            pbx.stop()
    assert not any(isinstance(e, f.BridgeFailed) for _, e in events)
    assert found == 0, f"cyclic garbage left by 4 calls: {kinds.most_common(12)}"


def test_a_started_pbx_makes_full_collections_rarer() -> None:
    # Start-up is frozen out of the collector's passes, so the long-lived heap is small and
    # CPython would run a full pass every few seconds under load: the PBX asks for ten
    # times fewer (FULL_PASS_EVERY), never fewer than the process already had.
    from reference_impl.telephony import pbx as module

    before = gc.get_threshold()
    try:
        with SipPbx(deliver=lambda *a: None,
                    dialplan=lambda callback_id, leg, number: SipTarget("x", "127.0.0.1", 9)):
            young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2] and full >= max(before[2], module.FULL_PASS_EVERY)
    finally:
        gc.set_threshold(*before)
