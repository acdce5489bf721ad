#!/usr/bin/env python3
"""Sustained callbacks per second through the sippy PBX to SIPp phones.

Three figures, measured in one run on one machine (see benchmarks/README.md):

1. The reference: SIPp's own UAC calling SIPp's own UAS on loopback (SIPp's
   built-in ``uac`` / ``uas`` scenarios: INVITE/180/200/ACK, a pause of
   ``--talk`` seconds, BYE/200). A step search finds the highest rate in
   calls/s that SIPp sustains with 0 failed calls.
2. The product: full callbacks started by a paced generator in the asyncio
   loop at ``--rate`` for ``--seconds``, through the real `Runtime` /
   `Switchboard` and the sippy `SipPbx` to the SIPp phones of the emulator
   (the person answers at once, route, code, an agent terminal answers at
   once, the bridge: the agent's INVITE offered the person's media, so one
   re-INVITE, to the person's phone (RFC 3725), a room, the person hangs up
   after ``--talk`` seconds, the PBX hangs up the agent). Then the same step
   search for the highest sustained callback rate.
3. The PBX's own set-up overhead, from the SIP messages it sends and
   receives (``SipPbx(on_message=...)``): person's 200 OK received -> agent's
   INVITE sent, and agent's 200 OK received -> bridge complete (every
   re-INVITE of the bridge answered), with a breakdown through the flow's events.

"Sustained" means the same for both: every call/callback of the step
succeeded (0 failures: any outcome other than connected, any SIPp failed
call, anything left open), the generator kept its pace (achieved start
rate >= 95 % of the offered one) and the set-up time stayed short (p99 below
``--max-setup``: INVITE -> 200 for SIPp, request -> bridged for a callback).

Each measured step of the product runs in a fresh Python process (this file
with ``--worker``), so no step inherits another's sippy timers or heap.

    .venv/bin/python benchmarks/sip_throughput.py                 # ~6-8 minutes
    .venv/bin/python benchmarks/sip_throughput.py --quick         # ~1 minute
    .venv/bin/python benchmarks/sip_throughput.py --rate 50 --seconds 60 --no-search
    .venv/bin/python benchmarks/sip_throughput.py --profile --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import math
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import ROOT  # noqa: E402

GOAL = 150.0                 # callbacks/s sustained for 60 s with 0 failures: the goal
PATIENCE = 30.0              # s a phone waits for its bridge before hanging up
TERMINALS = 5000             # agent desk phones (more than ever busy at once)
PACE = 0.95                  # achieved start rate / offered rate to count as kept

# SIPp's own socket buffers default to 64 KB: bursts overflow them and the
# lost datagrams come back as retransmissions, then failed calls. Every SIPp
# here (reference and phones) gets 4 MB (the usual net.core.rmem_max).
SIPP_BUFFERS = ("-buff_size", "4194304")

# latencies: p50/p95/p99/max in ms to three decimals, counted as "count"
summary_ms = functools.partial(harness.percentiles_ms, count_key="count", digits=3)
fmt_ms = harness.fmt_percentiles


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

def udp_drops() -> int:
    """Datagrams the kernel dropped for a full receive buffer, machine-wide (/proc/net/snmp)."""
    try:
        with open("/proc/net/snmp") as f:
            lines = [line.split() for line in f if line.startswith("Udp:")]
        return int(dict(zip(lines[0][1:], lines[1][1:]))["RcvbufErrors"])
    except (OSError, IndexError, KeyError, ValueError):
        return -1


def nice_rate(rate: float) -> float:
    """Rates as people write them: whole numbers from 10 up, one decimal below."""
    return float(round(rate)) if rate >= 10 else round(rate, 1)


def sustained(failed: int, achieved: float, rate: float, p99_ms: float | None,
              max_setup: float) -> bool:
    """The one rule for both kinds: no failure, the pace kept, set-up p99 within `max_setup` s."""
    return (failed == 0 and achieved >= PACE * rate
            and p99_ms is not None and p99_ms <= max_setup * 1000)


# ---------------------------------------------------------------------------
# 1. the reference: SIPp UAC -> SIPp UAS
# ---------------------------------------------------------------------------

def sipp_scenarios(exe: str, work: Path) -> None:
    """SIPp's own uac and uas scenarios, as files for SippPhones."""
    for name in ("uac", "uas"):
        with open(work / f"{name}.xml", "wb") as out:
            subprocess.run([exe, "-sd", name], stdout=out, stderr=subprocess.DEVNULL, check=False)


def sipp_rtts(work: Path) -> tuple[list[float], list[float]]:
    """The UAC's response-time trace: when each 200 OK came, and its INVITE -> 200 time (s)."""
    dates, rtts = [], []
    for path in (work / "uac").glob("*_rtt.csv"):
        for line in path.read_text(errors="replace").splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 2:
                try:
                    dates.append(float(parts[0]) / 1000.0)
                    rtts.append(float(parts[1]) / 1000.0)
                except ValueError:
                    pass
    return dates, rtts


def run_sipp_pair(work: Path, rate: float, seconds: float, talk: float,
                  calls: int) -> dict[str, Any]:
    """The UAS, then the UAC calling it until its calls are done: both, and the CPU they took."""
    from emulator.models.pbx.sipp import SippError, SippPhones

    meter = harness.CpuMeter()
    drops0 = udp_drops()
    uas = SippPhones(scenario=work / "uas.xml", workdir=work / "uas", extra_args=SIPP_BUFFERS)
    uas.start()
    uac = SippPhones(scenario=work / "uac.xml", workdir=work / "uac", extra_args=(
        f"127.0.0.1:{uas.port}", "-r", f"{rate:g}", "-rp", "1000",
        "-d", str(round(talk * 1000)), "-m", str(calls),
        "-trace_rtt", "-rtt_freq", "200",
        "-timeout", f"{int(seconds + talk + 60)}s", *SIPP_BUFFERS))
    started = time.monotonic()
    try:
        uac.start()
    except SippError:
        uas.stop()
        raise
    limit = started + seconds + talk + 8     # calls still up then have failed
    while uac.running and time.monotonic() < limit:
        time.sleep(0.05)
    wall = time.monotonic() - started
    uac.stop()
    # The UAS ends each call on the 200 to the UAC's BYE: give its stat row a second.
    time.sleep(1.1)
    uas.stop()
    used = meter.stop()
    return {"uac": uac.counts(), "uas": uas.counts(), "wall": wall, "cpu": used.children,
            "others": used.other(used.children, used.own), "drops": udp_drops() - drops0,
            "wall_all": time.monotonic() - started}


def sipp_reference_step(rate: float, seconds: float, talk: float, max_setup: float) -> dict[str, Any]:
    """SIPp's built-in uac calling its built-in uas at `rate` calls/s for `seconds`."""
    from emulator.models.pbx.sipp import sipp_path

    exe = sipp_path()
    if exe is None:
        raise SystemExit("SIPp not found (Debian package sip-tester)")
    calls = max(1, round(rate * seconds))
    work = Path(tempfile.mkdtemp(prefix="sipp-ref-"))
    try:
        sipp_scenarios(exe, work)
        run = run_sipp_pair(work, rate, seconds, talk, calls)
        dates, rtts = sipp_rtts(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c, s, cpu, wall_all = run["uac"], run["uas"], run["cpu"], run["wall_all"]
    # Calls are created at the offered pace: the span of their 200 OKs is the
    # span of their creation, within the round-trip time.
    span = (max(dates) - min(dates)) if len(dates) > 1 else 0.0
    achieved = (len(dates) - 1) / span if span > 0 else 0.0
    failures = {"uac_failed_calls": c.failed, "uas_failed_calls": s.failed,
                "uac_not_successful": max(0, calls - c.successful)}
    setup = summary_ms(rtts)
    failed = sum(failures.values())
    return {
        "kind": "sipp", "rate": rate, "seconds": seconds, "calls": calls,
        "successful": c.successful, "failures": failures, "failed": failed,
        "achieved_rate": round(achieved, 1), "setup_invite_to_200": setup,
        "retransmissions": c.retransmissions + s.retransmissions,
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_call": round(1000 * cpu / max(1, c.successful), 3),
        "wall_s": round(run["wall"], 1),
        "sustained": sustained(failed, achieved, rate, setup["p99"], max_setup),
        "other_load_cores": round(max(0.0, run["others"]) / wall_all, 2) if wall_all > 0 else None,
        "udp_receive_buffer_drops": run["drops"],
    }


# ---------------------------------------------------------------------------
# 2 and 3. the product, in a worker process
# ---------------------------------------------------------------------------

@dataclass
class CallTimes:
    """Per callback: what the PBX sent and received, and what the flow did, when."""

    requested: float = math.nan
    # SIP, on the PBX's own clock (its message tap): per leg
    p_invite_out: float = math.nan
    p_ok_in: float = math.nan          # person's 200 OK to the INVITE
    p_reinvite_out: float = math.nan
    p_reinvite_ok_in: float = math.nan
    a_invite_out: float = math.nan
    a_ok_in: float = math.nan          # agent's 200 OK to the INVITE
    a_reinvite_out: float = math.nan
    a_reinvite_ok_in: float = math.nan
    # the flow, on the same clock
    p_answer_posted: float = math.nan   # sippy thread hands LegAnswered to asyncio
    p_answered: float = math.nan        # the flow sees the person's LegAnswered
    a_dial_cmd: float = math.nan        # the flow's Dial command for the agent
    a_answer_posted: float = math.nan
    a_answered: float = math.nan
    bridge_cmd: float = math.nan
    bridged: float = math.nan           # the flow sees Bridged


# what the hooks record, one small int each
P_INVITE_OUT, P_OK_IN, A_INVITE_OUT, A_OK_IN = 0, 1, 2, 3          # SIP, reactor thread
P_POSTED, A_POSTED = 4, 5                                           # reactor thread
P_ANSWERED, A_ANSWERED, A_DIAL, BRIDGE_CMD, BRIDGED = 6, 7, 8, 9, 10  # asyncio thread


class Watch:
    """Switchboard observer + message sink + deliver wrapper: timestamps only.

    The hooks append numbers to arrays (one set per thread: an append is
    atomic, three in a row from two threads would not be), which the garbage
    collector never walks; everything else (matching messages to stages) is
    done after the run. So watching costs the measured system next to nothing.
    """

    def __init__(self) -> None:
        self.clock: Callable[[], float] = time.monotonic     # the runtime's, once it exists
        self.r_cb, self.r_kind, self.r_at = array("l"), array("b"), array("d")   # reactor
        self.m_cb, self.m_kind, self.m_at = array("l"), array("b"), array("d")   # asyncio
        self.outcomes: Counter[str] = Counter()
        self.setup_req, self.setup = array("d"), array("d")   # request time, request -> bridged
        self.queue_delays = array("d")                        # datagram read -> reactor

    def _r(self, callback_id: str, kind: int, at: float) -> None:
        self.r_cb.append(int(callback_id))
        self.r_kind.append(kind)
        self.r_at.append(at)

    def _m(self, callback_id: str, kind: int, at: float) -> None:
        self.m_cb.append(int(callback_id))
        self.m_kind.append(kind)
        self.m_at.append(at)

    # sippy's reactor thread
    def message(self, callback_id: str, leg: str, m: Any) -> None:
        """The PBX's message hook: an INVITE sent, or a 200 received, on a leg."""
        if m.direction == "out":
            if m.what == "INVITE":
                self._r(callback_id, P_INVITE_OUT if leg == "person" else A_INVITE_OUT, m.at)
        elif m.what.startswith("200"):
            self._r(callback_id, P_OK_IN if leg == "person" else A_OK_IN, m.at)

    def answered_posted(self, callback_id: str, leg: str) -> None:
        """The reactor thread hands a leg's LegAnswered to the asyncio loop."""
        self._r(callback_id, P_POSTED if leg == "person" else A_POSTED, self.clock())

    # the asyncio thread (switchboard observer)
    def event(self, callback_id: str, event: Any, now: float) -> None:
        """The switchboard's observer hook: an event reached a callback's flow."""
        name = type(event).__name__
        if name == "LegAnswered":
            self._m(callback_id, P_ANSWERED if event.leg == "person" else A_ANSWERED, now)
        elif name == "Bridged":
            self._m(callback_id, BRIDGED, now)

    def command(self, callback_id: str, command: Any, now: float) -> None:
        """The switchboard's observer hook: a callback's flow gave a command."""
        name = type(command).__name__
        if name == "Dial" and command.leg != "person":
            self._m(callback_id, A_DIAL, now)
        elif name == "Bridge":
            self._m(callback_id, BRIDGE_CMD, now)

    def closed(self, record: Any) -> None:
        """The switchboard's observer hook: a callback ended; its outcome and set-up time."""
        self.outcomes[record.outcome or "none"] += 1
        times = record.times
        if "bridged" in times and "requested" in times:
            self.setup_req.append(times["requested"])
            self.setup.append(times["bridged"] - times["requested"])

    def timings(self, requested: dict[str, float]) -> dict[int, CallTimes]:
        """After the run: each callback's messages and flow steps matched to its stages."""
        calls = {int(cb): CallTimes(requested=at) for cb, at in requested.items()}
        # per leg: INVITE out, its 200 in, the re-INVITE out, its 200 in (in this
        # order; retransmissions of a message already seen are skipped)
        sip_steps = {P_INVITE_OUT: ("p", 0), P_OK_IN: ("p", 1),
                     A_INVITE_OUT: ("a", 0), A_OK_IN: ("a", 1)}
        stage_names = ("invite_out", "ok_in", "reinvite_out", "reinvite_ok_in")
        stage: Counter[tuple[int, str]] = Counter()
        for cb, kind, at in zip(self.r_cb, self.r_kind, self.r_at):
            t = calls.get(cb)
            if t is None:
                continue
            if kind in sip_steps:
                side, parity = sip_steps[kind]
                n = stage[(cb, side)]
                if n % 2 != parity or n >= 4:
                    continue                 # a retransmission, or after the bridge
                setattr(t, f"{side}_{stage_names[n]}", at)
                stage[(cb, side)] = n + 1
            elif kind in (P_POSTED, A_POSTED):
                name = "p_answer_posted" if kind == P_POSTED else "a_answer_posted"
                if math.isnan(getattr(t, name)):
                    setattr(t, name, at)
        names = {P_ANSWERED: "p_answered", A_ANSWERED: "a_answered", A_DIAL: "a_dial_cmd",
                 BRIDGE_CMD: "bridge_cmd", BRIDGED: "bridged"}
        for cb, kind, at in zip(self.m_cb, self.m_kind, self.m_at):
            t = calls.get(cb)
            if t is not None and math.isnan(getattr(t, names[kind])):
                setattr(t, names[kind], at)
        return calls


def _latest(t: CallTimes, names: str | tuple[str, ...]) -> float:
    """The latest of the stages a callback went through (NaN if none): the bridge
    re-INVITEs the person's phone only, or both phones when the agent's INVITE
    could not offer the person's media, so either re-INVITE may be missing."""
    seen = [v for v in (getattr(t, n) for n in ((names,) if isinstance(names, str) else names))
            if not math.isnan(v)]
    return max(seen) if seen else math.nan


def _spans(calls: dict[int, CallTimes], start: str | tuple[str, ...],
           end: str | tuple[str, ...]) -> list[float]:
    """Each callback's time from stage `start` to stage `end` (of several, the latest)."""
    out = []
    for t in calls.values():
        a, b = _latest(t, start), _latest(t, end)
        if not (math.isnan(a) or math.isnan(b)):
            out.append(b - a)
    return out


REINVITES_OUT = ("p_reinvite_out", "a_reinvite_out")
REINVITES_OK = ("p_reinvite_ok_in", "a_reinvite_ok_in")


def reinvites_per_bridge(calls: dict[int, CallTimes]) -> dict[int, int]:
    """How many callbacks were bridged with one re-INVITE, and how many with two."""
    counts: Counter[int] = Counter(
        sum(not math.isnan(getattr(t, n)) for n in REINVITES_OUT) for t in calls.values()
        if not math.isnan(t.bridged))
    return dict(sorted(counts.items()))


def _overheads(calls: dict[int, CallTimes]) -> dict[str, Any]:
    """The PBX's two set-up overheads and their parts, as percentiles."""
    return {
        # the two figures of the issue, from the PBX's SIP messages
        "person_ok_to_agent_invite": summary_ms(_spans(calls, "p_ok_in", "a_invite_out")),
        "agent_ok_to_bridged": summary_ms(_spans(calls, "a_ok_in", REINVITES_OK)),
        # breakdown of the first: sippy -> asyncio, the flow, asyncio -> sippy
        "a1_person_ok_to_answer_posted": summary_ms(_spans(calls, "p_ok_in", "p_answer_posted")),
        "a2_answer_posted_to_flow": summary_ms(_spans(calls, "p_answer_posted", "p_answered")),
        "a3_flow_answer_to_dial_cmd": summary_ms(_spans(calls, "p_answered", "a_dial_cmd")),
        "a4_dial_cmd_to_invite_out": summary_ms(_spans(calls, "a_dial_cmd", "a_invite_out")),
        # breakdown of the second
        "b1_agent_ok_to_answer_posted": summary_ms(_spans(calls, "a_ok_in", "a_answer_posted")),
        "b2_answer_posted_to_flow": summary_ms(_spans(calls, "a_answer_posted", "a_answered")),
        "b3_flow_answer_to_bridge_cmd": summary_ms(_spans(calls, "a_answered", "bridge_cmd")),
        "b4_bridge_cmd_to_reinvites_out": summary_ms(_spans(calls, "bridge_cmd", REINVITES_OUT)),
        "b5_reinvites_out_to_their_200": summary_ms(_spans(calls, REINVITES_OUT, REINVITES_OK)),
        "b6_their_200_to_flow_bridged": summary_ms(_spans(calls, REINVITES_OK, "bridged")),
        "reinvites_per_bridge": reinvites_per_bridge(calls),
        # the phones' share, for comparison: INVITE out -> 200 in (SIPp answers at once)
        "phone_invite_to_200": summary_ms(_spans(calls, "p_invite_out", "p_ok_in")
                                          + _spans(calls, "a_invite_out", "a_ok_in")),
    }


def _threads_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process, named by role."""
    names: dict[int, str] = {}
    for t in threading.enumerate():
        if t.native_id is None:
            continue
        kind = type(t).__name__
        name = {"AsyncSender": "sippy-udp-sender", "AsyncReceiver": "sippy-udp-receiver",
                "_MainThread": "asyncio-main"}.get(kind, t.name)
        names[t.native_id] = name
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        out.setdefault(names.get(int(tid), "other-native"), 0.0)
        out[names.get(int(tid), "other-native")] += harness.proc_cpu("self", int(tid))
    return dict(out)


class GcWatch:
    """How often the garbage collector ran, and how long each pass stopped every thread."""

    def __init__(self) -> None:
        self.pauses: dict[int, array] = {0: array("d"), 1: array("d"), 2: array("d")}
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        """The `gc.callbacks` hook: a pass starts or ends."""
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._start)

    def summary(self) -> dict[str, Any]:
        """Per generation: the passes, their total and longest pause."""
        return {f"gen{g}": {"count": len(p), "total_ms": round(1000 * sum(p), 1),
                            "max_ms": round(1000 * max(p), 2) if p else 0.0}
                for g, p in self.pauses.items()}


def make_records(kind: str) -> Any:
    """The switchboard's record store for `--records`."""
    from reference_impl.records import MemoryRecords, SqliteRecords
    if kind == "none":
        return None
    if kind == "memory":
        return MemoryRecords()
    if kind == "sqlite-file":
        return SqliteRecords(str(Path(tempfile.mkdtemp(prefix="sip-bench-db-")) / "records.db"))
    return SqliteRecords(":memory:")


def bench_directory() -> Any:
    """One service routed to one centre of TERMINALS desk phones."""
    from reference_impl.directory import Centre, Directory, Service
    return Directory(
        services={"bench": Service(code="bench", centres=("desk",))},
        centres={"desk": Centre(name="desk", ring_timeout=30.0,
                                terminals=tuple(str(7_000_000 + i) for i in range(TERMINALS)))})


class Rig:
    """The product as one step runs it: the `Runtime` with the sippy `SipPbx` dialling the
    SIPp phones, room servers that answer at once, and the watch on all of it."""

    def __init__(self, phones: Any, talk: float, tap: bool, records: str) -> None:
        from emulator.models.pbx.sipp import phone_user
        from reference_impl import flow as f
        from reference_impl.codes import CodePool
        from reference_impl.ports import NoNotifier
        from reference_impl.runtime import Runtime
        from reference_impl.telephony import SipTarget

        self.loop = asyncio.get_running_loop()
        self.tap = tap
        self.watch = Watch()
        host, port = phones.address
        self.person = SipTarget(phone_user("answer", 0.0, PATIENCE, talk), host, port)
        self.agent = SipTarget(phone_user("answer", 0.0, PATIENCE, math.inf), host, port)
        self.person_leg = f.PERSON_LEG
        outcomes_only = types.SimpleNamespace(closed=self.watch.closed)   # without the tap
        self.runtime = Runtime(
            directory=bench_directory(), codes=CodePool(digits=6),
            telephony=self._pbx, rooms=self._rooms,
            notifier=NoNotifier(), records=make_records(records), person_ring_timeout=30.0,
            observers=[self.watch if tap else outcomes_only])
        self.switchboard = self.runtime.switchboard

    def dialplan(self, callback_id: str, leg: str, number: str) -> Any:
        """Every person's number rings the person's phone, every desk phone the agent's."""
        return self.person if leg == self.person_leg else self.agent

    def _watched(self, post: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
        """`post`, noting when each LegAnswered is handed to the asyncio loop."""
        from reference_impl import flow as f
        answered, watch = f.LegAnswered, self.watch

        def deliver_watched(callback_id: str, event: Any) -> None:
            if type(event) is answered:
                watch.answered_posted(callback_id, event.leg)
            post(callback_id, event)
        return deliver_watched

    def _pbx(self, rt: Any) -> Any:
        from reference_impl.telephony import SipPbx
        w = self.watch
        w.clock = rt.now
        deliver = self._watched(rt.deliver_threadsafe) if self.tap else rt.deliver_threadsafe
        # with the tap, sippy's receive time of each datagram gives the socket -> reactor delays
        self.pbx = SipPbx(deliver=deliver, dialplan=self.dialplan, trunks=1_000_000,
                          on_message=w.message if self.tap else None, clock=rt.now,
                          on_received_delay=w.queue_delays.append if self.tap else None)
        return self.pbx.start()

    def _rooms(self, rt: Any) -> Any:
        # room servers that answer at once: the rooms are not what is measured
        from emulator.drivers.clock import LoopClock
        from emulator.models.distributions import Fixed
        from emulator.models.rooms import RoomServers
        from emulator.models.streams import Streams
        self.rooms = RoomServers(LoopClock(self.loop, rt.now), servers=100, rooms_per_server=1000,
                                 create_delay=Fixed(0.0), join_delay=Fixed(0.0),
                                 delete_delay=Fixed(0.0), rng=Streams(1)["rooms"],
                                 deliver=rt.deliver)
        return self.rooms

    def open_left(self, not_finished: int) -> dict[str, int]:
        """What is still open: live callbacks, legs, rooms, codes, timers."""
        sb = self.switchboard
        return {"live": not_finished, "legs": self.pbx.legs_up, "rooms": len(self.rooms.rooms),
                "codes": sb.codes.in_use, "timers": self.runtime.timers.live}


class Profilers:
    """cProfile on the asyncio thread and on sippy's reactor thread, for one step (if asked)."""

    def __init__(self, out: str | None) -> None:
        self.out = out
        self.main: Any = None
        self.reactor: Any = None

    def start(self) -> None:
        """Start both profilers."""
        if not self.out:
            return
        import cProfile
        from reference_impl.telephony import reactor
        self.main, self.reactor = cProfile.Profile(), cProfile.Profile()
        reactor().call_sync(self.reactor.enable)
        self.main.enable()

    def stop(self) -> None:
        """Stop both and write their stats to `<out>.main` and `<out>.reactor`."""
        if self.main is None or self.reactor is None or not self.out:
            return
        from reference_impl.telephony import reactor
        self.main.disable()
        reactor().call_sync(self.reactor.disable)
        self.main.dump_stats(self.out + ".main")
        self.reactor.dump_stats(self.out + ".reactor")


@dataclass
class Paced:
    """What the paced generator did: when each callback was requested, how late it ran."""

    requested: dict[str, float]
    lags: array
    first: float
    last: float
    end: float


async def generate(rig: Rig, rate: float, n: int) -> Paced:
    """Start `n` callbacks at `rate` per second from the asyncio loop."""
    loop, runtime, sb = rig.loop, rig.runtime, rig.switchboard
    requested: dict[str, float] = {}
    lags = array("d")
    form = {"service": "bench", "name": ""}
    t0 = loop.time() + 0.05
    first = last = 0.0
    for i in range(n):
        due = t0 + i / rate
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        now = loop.time()
        lags.append(now - due)
        if i == 0:
            first = now
        last = now
        cb = str(i + 1)
        requested[cb] = runtime.now()
        sb.request(form, f"555{i:07d}", cb)
    return Paced(requested, lags, first, last, loop.time())


async def drain(rig: Rig, talk: float, gen_end: float) -> tuple[float, int]:
    """Wait for the calls to end and the legs and rooms to be let go: when, and how many did not."""
    loop, sb = rig.loop, rig.switchboard
    deadline = gen_end + talk + 10.0         # calls still up then have failed
    while sb.live and loop.time() < deadline:
        await asyncio.sleep(0.05)
    drained = loop.time()
    not_finished = len(sb.live)
    for _ in range(100):                       # legs and rooms let go
        if rig.pbx.legs_up == 0 and not rig.rooms.rooms:
            break
        await asyncio.sleep(0.03)
    return drained, not_finished


def heap_census() -> dict[str, Any]:
    """What the heap holds once the calls are over (sippy keeps ended dialogs for its
    own timers): the garbage collector walks all of it in a full pass."""
    objects = gc.get_objects()
    heap = {"objects": len(objects),
            "top_types": {f"{getattr(t, '__module__', '?')}.{t.__qualname__}": c
                          for t, c in Counter(type(o) for o in objects).most_common(8)}}
    del objects
    return heap


async def settle_phones(phones: Any, n: int, not_finished: int) -> Any:
    """Stop the SIPp phones once their stats row counts every call; their final counts."""
    for _ in range(40):                        # SIPp's stats row comes once a second
        c = phones.counts()
        if c.current == 0 and c.successful + c.failed >= 2 * (n - not_finished):
            break
        await asyncio.sleep(0.1)
    phones.stop()
    return phones.counts()


class StepMeter:
    """CPU of this process (and by thread), of the SIPp phones and of the machine; UDP drops."""

    def __init__(self, phones_pid: int | None) -> None:
        self.cpu = harness.CpuMeter({"sipp": phones_pid})
        self.threads0 = _threads_cpu()
        self.drops0 = udp_drops()

    def stop(self) -> dict[str, Any]:
        """What the step used."""
        used = self.cpu.stop()
        threads1 = _threads_cpu()
        return {"used": used, "sipp_s": used.procs.get("sipp", math.nan),
                "threads_s": {k: round(threads1.get(k, 0.0) - self.threads0.get(k, 0.0), 2)
                              for k in sorted(threads1)},
                "drops": udp_drops() - self.drops0}


@dataclass
class StepRun:
    """Everything one step measured, before it is turned into figures."""

    paced: Paced
    drained: float
    not_finished: int
    window: float
    meter: dict[str, Any]
    gc: GcWatch
    heap: dict[str, Any]
    open_left: dict[str, int]
    counts: Any


async def run_step(rig: Rig, phones: Any, rate: float, n: int, talk: float,
                   profile_out: str | None) -> StepRun:
    """Measure while the generator runs and the calls drain; then what was left, and SIPp's counts."""
    gcw = GcWatch()
    gc.callbacks.append(gcw)
    profilers = Profilers(profile_out)
    profilers.start()
    meter = StepMeter(phones.pid)
    paced = await generate(rig, rate, n)
    drained, not_finished = await drain(rig, talk, paced.end)
    window = rig.loop.time() - paced.first
    used = meter.stop()
    gc.callbacks.remove(gcw)
    profilers.stop()
    heap = heap_census()
    open_left = rig.open_left(not_finished)
    counts = await settle_phones(phones, n, not_finished)
    rig.pbx.stop()
    return StepRun(paced, drained, not_finished, window, used, gcw, heap, open_left, counts)


def step_failures(outcomes: Counter[str], run: StepRun, n: int) -> dict[str, int]:
    """Every failure of the step by kind (only those that happened)."""
    counts = run.counts
    failures = {f"outcome_{k}": v for k, v in sorted(outcomes.items()) if k != "connected"}
    failures["not_finished"] = run.not_finished
    failures.update({f"left_open_{k}": v for k, v in run.open_left.items() if k != "live"})
    failures["sipp_failed_calls"] = counts.failed
    failures["sipp_calls_open"] = counts.current
    failures["sipp_calls_missing"] = max(0, 2 * n - counts.successful - counts.failed)
    return {k: v for k, v in failures.items() if v}


def setup_trend(watch: Watch) -> list[float | None]:
    """The set-up time's p50 along the run, in sixths by request time: a queue that
    builds up shows as a p50 that keeps growing."""
    if not watch.setup_req:
        return []
    begin, end = min(watch.setup_req), max(watch.setup_req)
    width = (end - begin) / 6 or 1.0
    parts: list[list[float]] = [[] for _ in range(6)]
    for at, d in zip(watch.setup_req, watch.setup):
        parts[min(5, int((at - begin) / width))].append(d)
    return [None if not part else round(1000 * (harness.percentile(part, 50) or 0.0), 2)
            for part in parts]


def step_cpu(run: StepRun, n: int) -> tuple[dict[str, Any], float | None]:
    """The step's CPU figures, and the cores the rest of the machine used meanwhile."""
    used, sipp_s, window = run.meter["used"], run.meter["sipp_s"], run.window
    cpu = used.own
    figures = {
        "pbx_process_s": round(cpu, 2),
        "pbx_ms_per_callback": round(1000 * cpu / max(1, n), 3),
        "pbx_process_share_of_one_core": round(cpu / window, 3) if window > 0 else None,
        "threads_s": run.meter["threads_s"],
        "sipp_phones_s": round(sipp_s, 2),
        "sipp_ms_per_callback": round(1000 * sipp_s / max(1, n), 3),
    }
    # CPU the rest of the machine used meanwhile (other people's tests...)
    other = round(used.other(cpu, sipp_s) / window, 2) if window > 0 else None
    return figures, other


def step_figures(rig: Rig, run: StepRun, rate: float, n: int) -> dict[str, Any]:
    """The figures of one step of the product."""
    w, paced, counts = rig.watch, run.paced, run.counts
    connected = w.outcomes.get("connected", 0)
    failures = step_failures(w.outcomes, run, n)
    span = paced.last - paced.first
    achieved = (n - 1) / span if span > 0 and n > 1 else float(n)
    cpu, other = step_cpu(run, n)
    return {
        "connected": connected, "outcomes": dict(w.outcomes), "failures": failures,
        "failed": sum(failures.values()),
        "achieved_start_rate": round(achieved, 2),
        "connected_per_s": round(connected / (span + 1.0 / rate) if n > 0 else 0.0, 2),
        "generator_lag": summary_ms(paced.lags),
        "setup_request_to_bridged": summary_ms(w.setup),
        "setup_p50_by_sixth_ms": setup_trend(w),
        "drain_s": round(run.drained - paced.end, 2),
        "window_s": round(run.window, 2),
        "cpu": cpu,
        "other_load_cores": other,
        "udp_receive_buffer_drops": run.meter["drops"],
        "sipp": {"successful": counts.successful, "failed": counts.failed,
                 "retransmissions": counts.retransmissions,
                 "dead_call_messages": counts.dead_call_messages,
                 "out_of_call_messages": counts.out_of_call_messages},
        "late_events": rig.switchboard.late_events,
        "gc": run.gc.summary(),
        "heap_after_drain": run.heap,
    }


async def product_step(rate: float, seconds: float, talk: float, tap: bool,
                       profile_out: str | None, records: str) -> dict[str, Any]:
    """One step of the product in this process: callbacks at `rate` for `seconds`, every figure."""
    from emulator.models.pbx.sipp import SippPhones

    n = max(1, round(rate * seconds))
    result: dict[str, Any] = {"kind": "product", "rate": rate, "seconds": seconds,
                              "callbacks": n, "tap": tap, "records": records,
                              "switch_interval_s": sys.getswitchinterval()}
    with SippPhones(extra_args=SIPP_BUFFERS) as phones:
        rig = Rig(phones, talk, tap, records)
        run = await run_step(rig, phones, rate, n, talk, profile_out)
    result.update(step_figures(rig, run, rate, n))
    if tap:
        result["overhead"] = _overheads(rig.watch.timings(run.paced.requested))
        result["receive_queue"] = summary_ms(rig.watch.queue_delays)
    return result


def worker_main(args: argparse.Namespace) -> int:
    """`--worker`: one product step, its figures written as JSON to `--worker-out`."""
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    result = asyncio.run(product_step(args.rate, args.seconds, args.talk, args.tap,
                                      args.profile_out, args.records))
    with open(args.worker_out, "w") as out:
        json.dump(result, out)
    return 0


# ---------------------------------------------------------------------------
# the orchestrator
# ---------------------------------------------------------------------------

def worst(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Percentile summaries of several processes as one: counts added, each percentile's maximum."""
    out: dict[str, Any] = {"count": sum(d.get("count", 0) for d in dicts)}
    for key in ("p50", "p95", "p99", "max"):
        vals = [d[key] for d in dicts if d.get(key) is not None]
        out[key] = max(vals) if vals else None
    return out


def add(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Counters of several processes, added key by key."""
    keys = sorted({k for d in dicts for k in d})
    return {k: sum(d.get(k, 0) for d in dicts) for k in keys}


def combine_cpu(parts: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """The CPU figures of several PBX processes as one step's."""
    cpu_s = sum(p["cpu"]["pbx_process_s"] for p in parts)
    sipp_s = sum(p["cpu"]["sipp_phones_s"] for p in parts)
    return {
        "pbx_process_s": round(cpu_s, 2),
        "pbx_ms_per_callback": round(1000 * cpu_s / max(1, n), 3),
        "pbx_process_share_of_one_core": round(sum(
            p["cpu"]["pbx_process_share_of_one_core"] or 0 for p in parts), 3),
        "threads_s": {k: round(v, 2) for k, v in add([p["cpu"]["threads_s"] for p in parts]).items()},
        "sipp_phones_s": round(sipp_s, 2),
        "sipp_ms_per_callback": round(1000 * sipp_s / max(1, n), 3),
    }


def combine_gc(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The garbage collectors of several processes: passes and time added, the longest pause."""
    return {g: {"count": sum(p["gc"][g]["count"] for p in parts),
                "total_ms": round(sum(p["gc"][g]["total_ms"] for p in parts), 1),
                "max_ms": max(p["gc"][g]["max_ms"] for p in parts)}
            for g in parts[0]["gc"]}


def combine(parts: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """Several PBX processes run at once as one step: counts add up, latency
    figures are the worst process's (each percentile's maximum over them)."""
    first = parts[0]
    n = sum(p["callbacks"] for p in parts)
    res: dict[str, Any] = {
        "kind": "product", "rate": rate, "seconds": first["seconds"], "callbacks": n,
        "processes": len(parts), "tap": first["tap"], "records": first["records"],
        "connected": sum(p["connected"] for p in parts),
        "outcomes": add([p["outcomes"] for p in parts]),
        "failures": add([p["failures"] for p in parts]),
        "failed": sum(p["failed"] for p in parts),
        "achieved_start_rate": round(sum(p["achieved_start_rate"] for p in parts), 2),
        "connected_per_s": round(sum(p["connected_per_s"] for p in parts), 2),
        "generator_lag": worst([p["generator_lag"] for p in parts]),
        "setup_request_to_bridged": worst([p["setup_request_to_bridged"] for p in parts]),
        "setup_p50_by_sixth_ms": [max((x for x in col if x is not None), default=None)
                                  for col in zip(*(p["setup_p50_by_sixth_ms"] for p in parts))],
        "drain_s": max(p["drain_s"] for p in parts),
        "window_s": max(p["window_s"] for p in parts),
        "cpu": combine_cpu(parts, n),
        "sipp": add([p["sipp"] for p in parts]),
        "late_events": sum(p["late_events"] for p in parts),
        "gc": combine_gc(parts),
        "sippy_tracebacks": sum(p.get("sippy_tracebacks", 0) for p in parts),
        # each process saw the others as foreign load: take the least
        "other_load_cores": min((p.get("other_load_cores") or 0.0) for p in parts),
        "udp_receive_buffer_drops": max(p.get("udp_receive_buffer_drops", 0) for p in parts),
        "per_process": parts,
    }
    if "overhead" in first:
        res["overhead"] = {k: (add if k == "reinvites_per_bridge" else worst)(
            [p["overhead"][k] for p in parts]) for k in first["overhead"]}
        res["receive_queue"] = worst([p["receive_queue"] for p in parts])
    return res


@dataclass
class Plan:
    """How long the steps are and how far the searches go, within the time budget."""

    seconds: float
    probe_seconds: float
    ref_probe_seconds: float
    confirm: bool
    resolution: float          # stop bisecting when hi/lo is below 1 + this
    max_probes: int
    ref_max_probes: int
    budget_s: float


def make_plan(args: argparse.Namespace) -> Plan:
    """The plan of `--quick` (short probes, no confirming runs) or of the default run."""
    if args.quick:
        return Plan(seconds=args.seconds, probe_seconds=min(5.0, args.seconds),
                    ref_probe_seconds=min(3.0, args.seconds), confirm=False, resolution=0.3,
                    max_probes=3, ref_max_probes=3, budget_s=args.budget or 75.0)
    return Plan(seconds=args.seconds, probe_seconds=min(10.0, args.seconds),
                ref_probe_seconds=min(5.0, args.seconds), confirm=True, resolution=0.12,
                max_probes=5, ref_max_probes=7, budget_s=args.budget or 480.0)


class Bench:
    """One run of the benchmark: its options and plan, and its two kinds of step."""

    def __init__(self, args: argparse.Namespace, plan: Plan) -> None:
        self.args, self.plan = args, plan
        self.say = harness.Say()
        self.started = self.say.t0

    def elapsed(self) -> float:
        """Seconds since the benchmark started."""
        return self.say.elapsed()

    def reference(self, rate: float, seconds: float) -> dict[str, Any]:
        """One step of the SIPp reference, with its line."""
        res = sipp_reference_step(rate, seconds, self.args.talk, self.args.max_setup)
        self.say(f"  sipp     {rate:8.0f} calls/s x {seconds:g}s: "
                 f"{'sustained' if res['sustained'] else 'NOT sustained'} "
                 f"(achieved {res['achieved_rate']:.0f}/s, failed {res['failed']}, "
                 f"INVITE->200 p99 {res['setup_invite_to_200']['p99']} ms, "
                 f"retrans {res['retransmissions']}, {res['cpu_ms_per_call']} ms CPU/call, "
                 f"UDP drops {res['udp_receive_buffer_drops']}, other load {res['other_load_cores']} cores)")
        return res

    def product(self, rate: float, seconds: float, *, tap: bool = True,
                profile_out: str | None = None) -> dict[str, Any]:
        """One step: `--processes` PBX workers at once, each with its share of the rate."""
        n = max(1, self.args.processes) if not profile_out else 1
        parts = self.run_workers(rate, seconds, n, tap, profile_out)
        res = parts[0] if n == 1 else combine(parts, rate)
        p99 = res["setup_request_to_bridged"]["p99"]
        res["sustained"] = sustained(res["failed"], res["achieved_start_rate"], rate, p99,
                                     self.args.max_setup)
        self.say(f"  callback {rate:8.1f} cb/s    x {seconds:g}s: "
                 f"{'sustained' if res['sustained'] else 'NOT sustained'} "
                 f"(started {res['achieved_start_rate']:.1f}/s, connected "
                 f"{res['connected']}/{res['callbacks']}, failures {res['failed']}"
                 f"{' ' + json.dumps(res['failures']) if res['failures'] else ''}, "
                 f"request->bridged p99 {p99} ms, PBX {res['cpu']['pbx_ms_per_callback']} ms "
                 f"CPU/cb, {res['cpu']['pbx_process_share_of_one_core']:.2f} of a core"
                 f"{f' over {n} processes' if n > 1 else ''}, GC gen2 max "
                 f"{res['gc']['gen2']['max_ms']} ms, UDP drops {res.get('udp_receive_buffer_drops')}, "
                 f"other load {res.get('other_load_cores')} cores)")
        return res

    def worker_command(self, rate: float, seconds: float, out: Path, tap: bool,
                       profile_out: str | None) -> list[str]:
        """The command of one PBX worker process (this file with `--worker`)."""
        a = self.args
        cmd = harness.self_command(__file__, "--worker", "--rate", f"{rate:g}",
                                   "--seconds", f"{seconds:g}", "--talk", f"{a.talk:g}",
                                   "--records", a.records, "--worker-out", str(out))
        if a.switch_interval:
            cmd += ["--switch-interval", f"{a.switch_interval:g}"]
        if tap:
            cmd.append("--tap")
        if profile_out:
            cmd += ["--profile-out", profile_out]
        return cmd

    def run_workers(self, rate: float, seconds: float, n: int, tap: bool,
                    profile_out: str | None) -> list[dict[str, Any]]:
        """`n` fresh worker processes at once, each at rate / n; their figures."""
        with tempfile.TemporaryDirectory(prefix="sip-bench-") as tmp:
            workers = []
            for k in range(n):
                out = Path(tmp) / f"result{k}.json"
                cmd = self.worker_command(rate / n, seconds, out, tap, profile_out)
                workers.append((harness.Child(cmd, Path(tmp) / f"worker{k}.log"), out))
            parts = []
            for child, out in workers:
                code = child.wait(timeout=seconds + self.args.talk + 150)
                text = child.output()
                if code != 0 or not out.exists():
                    raise RuntimeError(f"product step at {rate:g}/s failed "
                                       f"(exit {code}):\n{text[-3000:]}")
                part: dict[str, Any] = json.loads(out.read_text())
                part["sippy_tracebacks"] = text.count("Traceback")
                parts.append(part)
        return parts


# -- the step search ---------------------------------------------------------

class Search:
    """The highest sustained rate of one kind of step.

    Short probes first: from `start` (or the known results) up by `grow`
    while they hold, down while they do not, then bisect between the
    highest that held and the lowest that did not. Then confirm at full
    length, stepping down while it does not hold (to between it and the
    best full-length run that held, else by 20 %): a short probe can
    hold where the full length does not (the heap, and with it the
    garbage collector's pauses, grows for the first minute).
    """

    def __init__(self, bench: Bench, name: str, step: Callable[[float, float], dict[str, Any]],
                 floor: float, known: dict[float, dict[str, Any]], probe_s: float,
                 est: Callable[[float], float], budget_end: float, grow: float,
                 max_probes: int | None = None) -> None:
        self.bench, self.plan, self.name, self.step = bench, bench.plan, name, step
        self.floor, self.known, self.probe_s, self.est = floor, known, probe_s, est
        self.budget_end, self.grow = budget_end, grow
        self.max_probes = max_probes or self.plan.max_probes
        self.probes: list[dict[str, Any]] = []
        self.count = 0
        ok = [r for r, v in known.items() if v["sustained"]]
        self.lo: float | None = max(ok) if ok else None
        self.hi: float | None = min((r for r, v in known.items()
                                     if not v["sustained"] and (self.lo is None or r > self.lo)),
                                    default=None)

    def fits(self, seconds: float) -> bool:
        """Whether a step of `seconds` ends within the budget."""
        return time.monotonic() + self.est(seconds) <= self.budget_end

    def probe(self, rate: float) -> None:
        """One short probe; it moves the highest that held or the lowest that did not."""
        res = self.step(rate, self.probe_s)
        self.probes.append(res)
        self.count += 1
        if res["sustained"]:
            self.lo = rate if self.lo is None else max(self.lo, rate)
        else:
            self.hi = rate if self.hi is None else min(self.hi, rate)

    def bracket(self, start: float) -> None:
        """Probes from `start`, up while they hold and down while they do not."""
        if self.lo is None and self.hi is None and self.fits(self.probe_s):
            self.probe(start)
        while (self.count < self.max_probes and (self.lo is None or self.hi is None)
               and self.fits(self.probe_s)):
            rate = (nice_rate(self.lo * self.grow) if self.lo is not None
                    else nice_rate((self.hi or start) / self.grow))
            if rate < self.floor:
                break
            self.probe(rate)

    def bisect(self) -> None:
        """Probes between the highest that held and the lowest that did not, to the resolution."""
        while (self.lo is not None and self.hi is not None
               and self.hi / self.lo > 1 + self.plan.resolution
               and self.count < self.max_probes and self.fits(self.probe_s)):
            mid = nice_rate(math.sqrt(self.lo * self.hi))
            if mid <= self.lo or mid >= self.hi:
                break
            self.probe(mid)
        if self.lo is not None and self.hi is None:
            self.bench.say(f"  ({self.name}: every probe held; {self.lo:g}/s is a lower bound)")

    def confirm(self, rate: float, long_best: float | None
                ) -> tuple[dict[str, Any] | None, float | None, float | None]:
        """Full-length runs from `rate` down: the last that held, the lowest that failed,
        and the best full-length rate that held."""
        confirmed: dict[str, Any] | None = None
        failed_long: float | None = None       # the lowest full-length run that failed
        for _ in range(3):
            if long_best is not None and rate <= long_best:
                break
            if not self.fits(self.plan.seconds):
                self.bench.say(f"  ({self.name}: no time left to confirm {rate:g}/s for "
                               f"{self.plan.seconds:g} s)")
                break
            res = self.step(rate, self.plan.seconds)
            self.probes.append(res)
            if res["sustained"]:
                confirmed, long_best = res, rate
                self.known = {**self.known, rate: res}
                if failed_long is None:
                    break                        # the best probe holds at full length
            else:
                failed_long = rate
            # bisect between the best full-length run that held and the lowest
            # that failed; with none that held yet, 20 % down
            assert failed_long is not None
            nxt = nice_rate(math.sqrt(long_best * failed_long) if long_best is not None
                            else failed_long * 0.8)
            if (nxt < self.floor or (long_best is not None and nxt <= long_best * 1.04)
                    or nxt >= failed_long / 1.04):
                break
            rate = nxt
        return confirmed, failed_long, long_best

    def run(self, start: float) -> dict[str, Any]:
        """The whole search: probes, then (if the plan says so) the confirming runs."""
        self.bracket(start)
        self.bisect()
        best = probe_best = self.lo
        confirmed: dict[str, Any] | None = None
        note = f"from {self.probe_s:g} s probes only" if self.lo is not None else "no rate held"
        long_ok = [r for r, v in self.known.items()
                   if v["sustained"] and v["seconds"] >= self.plan.seconds]
        long_best = max(long_ok) if long_ok else None
        if best is not None and self.plan.confirm:
            confirmed, failed_long, long_best = self.confirm(best, long_best)
            if confirmed is None and long_best is not None:
                confirmed = self.known[long_best]
            if confirmed is not None:
                best = confirmed["rate"]
                note = f"confirmed for {confirmed['seconds']:g} s"
                if failed_long is not None:
                    note += f"; {failed_long:g}/s did not hold that long"
            elif failed_long is not None:
                best = None
                note = (f"{self.probe_s:g} s probes held up to {probe_best:g}/s; none of the "
                        f"full-length runs tried held for {self.plan.seconds:g} s")
        return {"best": best, "probe_best": probe_best, "lowest_failing_probe": self.hi,
                "confirmed": confirmed is not None, "note": note,
                "confirm_seconds": confirmed["seconds"] if confirmed else None,
                "best_result": confirmed, "probes": self.probes}


# -- the profile -------------------------------------------------------------

IDLE = "idle (waiting for work)"
ENTRY_POINTS = ("handleIncoming", "transmitData", "_invite", "_bridge", "_event", "deliver",
                "_step", "write", "recvEvent", "dispatchThreadCallback", "dispatchTimers",
                "handle", "parse", "collect", "_run_once")


def c_area(func: str) -> str:
    """The area of a C function (the profiler's '~' file), by its name."""
    name = func.strip("<>")
    if any(k in name for k in ("socket", "sendto", "recvfrom", "getaddrinfo")):
        return "sockets (C)"
    if "md5" in name or "hashlib" in name:
        return "hashlib (C)"
    if "re.Pattern" in name or "sre" in name:
        return "regex (C)"
    if "lock" in name or "acquire" in name or "Condition" in name:
        return "locks (C)"
    return "builtins (C)"


def profile_area(filename: str, func: str) -> str:
    """Where a profiled function belongs: sippy, the flow, the PBX adapter, asyncio..."""
    f = filename.replace("\\", "/")
    rules = (
        ("procrastinate" in func or "epoll" in func, IDLE),
        ("sqlite3" in func, "SQLite record store (C; waits for the GIL after each call)"),
        ("/sippy/" in f, "sippy"),
        ("/elperiodic/" in f or "ElPeriodic" in func or "call_from_thread" in func,
         "sippy reactor (ElPeriodic)"),
        ("/reference_impl/flow/" in f, "flow (reference_impl.flow)"),
        ("/reference_impl/telephony/" in f, "PBX adapter (reference_impl.telephony)"),
        ("/reference_impl/" in f, "switchboard/runtime (reference_impl)"),
        ("/emulator/" in f, "emulator (rooms, phones)"),
        ("benchmarks/" in f, "benchmark hooks"),
        ("/asyncio/" in f or "selectors" in f or "_asyncio" in func or "select" in func, "asyncio"),
    )
    for hit, area in rules:
        if hit:
            return area
    if f == "~":
        return c_area(func)
    if "/re/" in f or f.endswith("/re.py"):
        return "regex"
    if "/threading.py" in f or "/queue.py" in f:
        return "thread hand-off (threading/queue)"
    return "other stdlib"


def short_function(filename: str, line: int, func: str) -> str:
    """A profiled function as `file:line(name)`, its file relative to site-packages or the repository."""
    return f"{filename.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}:{line}({func})"


def thread_profile(path: str, top: int) -> dict[str, Any]:
    """One thread's profile: busy and idle time, busy time by area, top functions, entry points."""
    st = pstats.Stats(path)
    stats = st.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())
    areas: Counter[str] = Counter()
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _callers) in stats.items():
        areas[profile_area(filename, func)] += tt
        rows.append((tt, ct, nc, short_function(filename, line, func)))
    rows.sort(reverse=True)
    cum = sorted(((ct, nc, short_function(filename, line, func))
                  for (filename, line, func), (cc, nc, tt, ct, _c) in stats.items()
                  if any(k in func for k in ENTRY_POINTS)), reverse=True)[:12]
    idle = areas.pop(IDLE, 0.0)
    busy = total - idle
    rows = [r for r in rows if profile_area(r[3].split(":")[0], r[3]) != IDLE
            and "procrastinate" not in r[3] and "epoll" not in r[3]]
    return {
        "profiled_s": round(total, 2), "idle_s": round(idle, 2), "busy_s": round(busy, 2),
        "areas": {k: round(v / busy, 3) for k, v in areas.most_common()} if busy > 0 else {},
        "top_tottime": [{"tottime_s": round(tt, 3), "cumtime_s": round(ct, 3), "calls": nc,
                         "function": fn} for tt, ct, nc, fn in rows[:top]],
        "entry_points_cumtime": [{"cumtime_s": round(ct, 3), "calls": nc, "function": fn}
                                 for ct, nc, fn in cum],
    }


def profile_summary(prefix: str, top: int = 14) -> dict[str, Any]:
    """Where the time of each profiled thread goes, by area and by function."""
    return {thread: thread_profile(f"{prefix}.{thread}", top) for thread in ("reactor", "main")
            if os.path.exists(f"{prefix}.{thread}")}


# -- main --------------------------------------------------------------------

def add_experiment_args(p: argparse.ArgumentParser) -> None:
    """The options that change the PBX process (EXPERIMENT), and the worker's own."""
    p.add_argument("--processes", type=int, default=1,
                   help="PBX processes sharing each step's rate, each with its own SIPp phones "
                        "(default %(default)s: the product as it is; more is an experiment)")
    p.add_argument("--switch-interval", type=float, default=None,
                   help="EXPERIMENT: sys.setswitchinterval in the PBX process (Python's default 0.005 s)")
    p.add_argument("--records", choices=("sqlite-memory", "sqlite-file", "memory", "none"),
                   default="sqlite-memory",
                   help="the switchboard's record store (default %(default)s: the product's "
                        "SQLite store, in memory, so no disk flush is measured)")
    # the worker, run by the orchestrator in a fresh process per step
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=str, default=None, help=argparse.SUPPRESS)
    p.add_argument("--tap", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", type=str, default=None, help=argparse.SUPPRESS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (the worker's too); `--seconds` defaulted by `--quick`."""
    p = harness.make_parser(
        __doc__, description="Sustained callbacks/s through the sippy PBX to SIPp phones, beside "
                             "SIPp's own UAC -> UAS rate, in one run.",
        quick="a ~1-minute smoke run: short steps, no confirming runs")
    p.add_argument("--rate", type=float, default=GOAL,
                   help="callbacks/s of the main run (default: the goal, %(default)g)")
    p.add_argument("--seconds", type=float, default=None,
                   help="length of the main run and of each confirming run (default 60, 10 with --quick)")
    p.add_argument("--talk", type=float, default=1.0,
                   help="seconds a bridged person talks before hanging up; SIPp's reference "
                        "pause too (default %(default)g)")
    p.add_argument("--max-setup", type=float, default=1.0,
                   help="p99 set-up time (s) above which a rate is not sustained (default %(default)g)")
    p.add_argument("--no-search", action="store_true", help="only the main run at --rate (and the reference)")
    p.add_argument("--no-reference", action="store_true", help="skip the SIPp UAC -> UAS reference")
    p.add_argument("--ref-start", type=float, default=2000.0,
                   help="first rate (calls/s) of the SIPp reference search (default %(default)g)")
    p.add_argument("--profile", action="store_true",
                   help="add a cProfile'd step (reactor and asyncio threads) and report where the time goes")
    p.add_argument("--profile-rate", type=float, default=None,
                   help="callbacks/s of the profiled step (default: the highest sustained, else --rate)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds the whole benchmark may take (default 480, 75 with --quick)")
    add_experiment_args(p)
    args = p.parse_args(argv)
    if args.seconds is None:
        args.seconds = 60.0 if args.worker or not args.quick else 10.0
    return args


def start(bench: Bench, argv: list[str] | None) -> dict[str, Any]:
    """The first lines, and the results' frame: the command, the machine, the parameters."""
    args, plan = bench.args, bench.plan
    m = harness.machine()
    load = os.getloadavg()[0]
    command = harness.command_line("sip_throughput.py", sys.argv[1:] if argv is None else argv)
    bench.say(f"sip_throughput: {m['cpus_usable']} CPUs usable ({m['cpus']} online), Python "
              f"{m['python_version']}, talk {args.talk:g}s, budget {plan.budget_s:.0f}s, "
              f"load average {load:.2f}")
    if load > 0.5:
        bench.say("  WARNING: the machine is not idle; other processes take CPU from the PBX "
                  "and SIPp (see 'other load' per step)")
    return {
        "benchmark": "sip_throughput", "command": command,
        "machine": {"cpus_usable": m["cpus_usable"], "cpus_online": m["cpus"],
                    "python": m["python_version"], "platform": m["platform"]},
        "parameters": {"rate": args.rate, "seconds": args.seconds, "talk": args.talk,
                       "max_setup_s": args.max_setup, "quick": args.quick, "records": args.records,
                       "processes": args.processes,
                       "switch_interval_s": args.switch_interval,
                       "probe_seconds": plan.probe_seconds, "goal_cb_per_s": GOAL},
    }


def ref_estimate(talk: float) -> Callable[[float], float]:
    """What a SIPp step of s seconds takes when it holds (one that fails waits up to ~10 s more)."""
    return lambda s: s + talk + 4.0


def product_estimate(talk: float) -> Callable[[float], float]:
    """What a product step of s seconds takes when it holds."""
    return lambda s: s + talk + 6.0


def run_reference(bench: Bench) -> dict[str, Any]:
    """1. The SIPp reference's search, within its share of the budget (30-40 %)."""
    args, plan = bench.args, bench.plan
    ref_end = bench.started + plan.budget_s * (0.3 if args.no_search else 0.4)
    bench.say("reference: SIPp uac -> SIPp uas on loopback")
    return Search(bench, "sipp", bench.reference, 10.0, {}, plan.ref_probe_seconds,
                  ref_estimate(args.talk), ref_end, grow=2.0,
                  max_probes=plan.ref_max_probes).run(args.ref_start)


def run_product(bench: Bench) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """2. The main run at --rate (with the message tap: the overhead figures), then its search."""
    args, plan = bench.args, bench.plan
    bench.say("product: callbacks through the sippy PBX to SIPp phones")
    main_run = bench.product(args.rate, args.seconds)
    if args.no_search:
        return main_run, None
    est = product_estimate(args.talk)
    reserve = est(min(20.0, args.seconds)) if args.profile else 0.0
    search = Search(bench, "product", lambda r, s: bench.product(r, s), 1.0, {args.rate: main_run},
                    plan.probe_seconds, est, bench.started + plan.budget_s - reserve,
                    grow=1.5).run(args.rate)
    return main_run, search


def run_profile(bench: Bench, search: dict[str, Any] | None) -> dict[str, Any]:
    """The cProfile'd step, at the highest sustained rate (else --rate)."""
    args = bench.args
    prate = args.profile_rate or (search["best"] if search and search["best"] else args.rate)
    pseconds = min(20.0, args.seconds)
    bench.say(f"profile: cProfile on the reactor and asyncio threads, {prate:g} cb/s x "
              f"{pseconds:g}s (profiling slows the process: shares matter, not rates)")
    with tempfile.TemporaryDirectory(prefix="sip-prof-") as tmp:
        prefix = str(Path(tmp) / "prof")
        prof_run = bench.product(prate, pseconds, profile_out=prefix)
        return {"run": prof_run, "threads": profile_summary(prefix)}


def reference_invite_to_200(ref: dict[str, Any] | None) -> dict[str, Any] | None:
    """The reference for the overhead: one SIP round trip between two SIPp, at its best rate."""
    if ref and ref.get("best_result"):
        return ref["best_result"]["setup_invite_to_200"]
    ok = [r for r in (ref or {}).get("probes") or [] if r["sustained"]]
    return max(ok, key=lambda r: r["rate"])["setup_invite_to_200"] if ok else None


def figures(bench: Bench, results: dict[str, Any]) -> dict[str, Any]:
    """3. The headline figures of the run."""
    args = bench.args
    main_run, search, ref = results["main_run"], results.get("search"), results.get("reference")
    best_cb = search["best"] if search else (args.rate if main_run["sustained"] else None)
    ref_best = ref["best"] if ref else None
    overhead = main_run.get("overhead", {})
    return {
        "main_rate_cb_per_s": args.rate,
        "main_sustained": main_run["sustained"],
        "main_connected_per_s": main_run["connected_per_s"],
        "main_failures": main_run["failed"],
        "max_sustained_cb_per_s": best_cb,
        "max_sustained_confirmed_seconds": (search or {}).get("confirm_seconds"),
        "sipp_reference_calls_per_s": ref_best,
        "sipp_reference_confirmed_seconds": (ref or {}).get("confirm_seconds"),
        "sipp_reference_is_lower_bound": bool(ref and ref["best"] and ref["lowest_failing_probe"] is None),
        "max_sustained_is_lower_bound": bool(search and search["best"]
                                             and search["lowest_failing_probe"] is None),
        "search_note": (search or {}).get("note"),
        "sipp_reference_note": (ref or {}).get("note"),
        "ratio_callbacks_to_sipp_calls": (round(best_cb / ref_best, 4)
                                          if best_cb and ref_best else None),
        "ratio_sip_calls_to_sipp_calls": (round(2 * best_cb / ref_best, 4)
                                          if best_cb and ref_best else None),
        "goal_cb_per_s": GOAL,
        # met only by a run of the full length at >= the goal that held
        "goal_met": any(r.get("kind") == "product" and r["sustained"] and r["rate"] >= GOAL
                        and r["seconds"] >= args.seconds
                        for r in [main_run, *((search or {}).get("probes") or [])]),
        "overhead_person_ok_to_agent_invite_ms": overhead.get("person_ok_to_agent_invite"),
        "overhead_agent_ok_to_bridged_ms": overhead.get("agent_ok_to_bridged"),
        "reference_invite_to_200_ms": reference_invite_to_200(ref) if ref else None,
        "elapsed_s": round(bench.elapsed(), 1),
        "other_load_cores_max": max(
            [r.get("other_load_cores") or 0.0 for r in all_steps(results)] or [0.0]),
        "load_average_at_end": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --worker, one product step)."""
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    bench = Bench(args, make_plan(args))
    results = start(bench, argv)
    if not args.no_reference:
        results["reference"] = run_reference(bench)
    results["main_run"], search = run_product(bench)
    if search is not None:
        results["search"] = search
    if args.profile:
        results["profile"] = run_profile(bench, search)
    results["figures"] = figures(bench, results)
    print_summary(bench, results)
    if args.json:
        harness.write_json(args.json, results)
    return 0


def all_steps(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of the run: the main run and both searches' probes."""
    steps = [results["main_run"]] if "main_run" in results else []
    for key in ("reference", "search"):
        steps += (results.get(key) or {}).get("probes") or []
    return steps


# -- the summary -------------------------------------------------------------

def head_lines(results: dict[str, Any]) -> list[str]:
    """The machine, the experiments in force, the two highest rates, the ratio and the goal."""
    fig, m, params = results["figures"], results["machine"], results["parameters"]
    lines = [f"machine    {m['cpus_usable']} CPUs usable, Python {m['python']}, {m['platform']}"]
    if params["processes"] > 1:
        lines.append(f"EXPERIMENT {params['processes']} PBX processes share each step's rate "
                     f"(the product runs one)")
    if params["switch_interval_s"]:
        lines.append(f"EXPERIMENT switch interval {params['switch_interval_s']:g} s in the PBX process")
    if params["records"] != "sqlite-memory":
        lines.append(f"records    {params['records']} (default sqlite-memory)")
    ref_best = fig["sipp_reference_calls_per_s"]
    bound = ">= " if fig["sipp_reference_is_lower_bound"] else ""
    lines.append("reference  SIPp uac -> uas, highest sustained: "
                 + (f"{bound}{ref_best:g} calls/s ({fig['sipp_reference_note']})"
                    if ref_best else f"n/a ({fig['sipp_reference_note'] or 'not run'})"))
    best = fig["max_sustained_cb_per_s"]
    bound = ">= " if fig["max_sustained_is_lower_bound"] else ""
    lines.append("product    callbacks, highest sustained:        "
                 + (f"{bound}{best:g} cb/s ({fig['search_note'] or 'main run'})"
                    if best else f"none ({fig['search_note'] or 'main run failed'})"))
    if fig["ratio_callbacks_to_sipp_calls"] is not None:
        lines.append(f"ratio      product / reference = {fig['ratio_callbacks_to_sipp_calls']:.4f} "
                     f"(callbacks/s per SIPp call/s; {fig['ratio_sip_calls_to_sipp_calls']:.4f} "
                     f"counting a callback as its 2 SIP calls)")
    lines.append(f"goal       >= {fig['goal_cb_per_s']:g} cb/s sustained for "
                 f"{params['seconds']:g} s: {'MET' if fig['goal_met'] else 'NOT MET'}")
    return lines


def main_run_lines(run: dict[str, Any]) -> list[str]:
    """The main run: pace, outcomes, set-up times, the phones, CPU and the garbage collector."""
    cpu, g = run["cpu"], run["gc"]["gen2"]
    heap = run.get("heap_after_drain", {}).get("objects")
    return [
        f"main run   {run['rate']:g} cb/s offered for {run['seconds']:g} s: "
        f"{'sustained' if run['sustained'] else 'NOT sustained'}; started "
        f"{run['achieved_start_rate']:.1f}/s, connected {run['connected']}/"
        f"{run['callbacks']} ({run['connected_per_s']:.1f}/s), failures {run['failed']}"
        f"{' ' + json.dumps(run['failures']) if run['failures'] else ''}",
        f"           request -> bridged: {fmt_ms(run['setup_request_to_bridged'])}",
        "           its p50 along the run (sixths): "
        + ", ".join("-" if x is None else f"{x:g}" for x in run["setup_p50_by_sixth_ms"]) + " ms",
        f"           SIPp phones: {run['sipp']['successful']} calls ok, "
        f"{run['sipp']['failed']} failed, {run['sipp']['retransmissions']} retransmissions",
        f"           CPU: PBX {cpu['pbx_ms_per_callback']} ms/callback = "
        f"{cpu['pbx_process_share_of_one_core']:.2f} of one core ("
        + ", ".join(f"{k} {v:g} s" for k, v in cpu["threads_s"].items() if v >= 0.05)
        + f"); SIPp phones {cpu['sipp_ms_per_callback']} ms/callback",
        f"           GC: {g['count']} full collections, {g['total_ms'] / 1000:.1f} s in all, "
        f"longest {g['max_ms']:.0f} ms (every thread stops)"
        + (f"; {heap:,} objects on the heap after the calls" if heap else "")]


def overhead_lines(run: dict[str, Any], fig: dict[str, Any]) -> list[str]:
    """The PBX's set-up overheads beside SIPp's round trip, and their parts."""
    ov = run.get("overhead", {})
    lines = ["PBX set-up overhead (main run, timestamps of the PBX's own SIP messages):",
             f"  person's 200 OK in -> agent's INVITE out: {fmt_ms(ov.get('person_ok_to_agent_invite'))}",
             f"  agent's 200 OK in  -> bridge complete:    {fmt_ms(ov.get('agent_ok_to_bridged'))}",
             f"  reference, SIPp uac INVITE -> 200 via SIPp uas (SIPp counts whole ms): "
             f"{fmt_ms(fig['reference_invite_to_200_ms'])}"]
    if not ov:
        return lines
    a1, a2 = ov["a1_person_ok_to_answer_posted"]["p50"], ov["a2_answer_posted_to_flow"]["p50"]
    a3, a4 = ov["a3_flow_answer_to_dial_cmd"]["p50"], ov["a4_dial_cmd_to_invite_out"]["p50"]
    b = [ov[k]["p50"] for k in ("b1_agent_ok_to_answer_posted", "b2_answer_posted_to_flow",
                               "b3_flow_answer_to_bridge_cmd", "b4_bridge_cmd_to_reinvites_out",
                               "b5_reinvites_out_to_their_200", "b6_their_200_to_flow_bridged")]
    per = ov.get("reinvites_per_bridge", {})
    shape = ", ".join(f"{n} with {k} re-INVITE{'s' if int(k) != 1 else ''}"
                      for k, n in sorted(per.items())) or "none bridged"
    return lines + [
        f"  beside it, our INVITE -> the SIPp phone's 200 (as the PBX sees it): "
        f"{fmt_ms(ov.get('phone_invite_to_200'))}",
        f"  first, p50 by part: sippy to the hand-off {a1} ms, wait for the asyncio "
        f"loop {a2} ms, flow {a3} ms, back to sippy + INVITE out {a4} ms",
        f"  second, p50 by part: sippy {b[0]} ms, asyncio wait {b[1]} ms, flow "
        f"{b[2]} ms, re-INVITE out {b[3]} ms, the phone answers it {b[4]} ms, "
        f"back to the flow {b[5]} ms (bridges: {shape})",
        f"  datagram read -> handled by the reactor: {fmt_ms(run.get('receive_queue'))}"]


def profile_lines(prof: dict[str, Any] | None) -> list[str]:
    """With --profile: each thread's busy time by area and its top functions."""
    if not prof:
        return []
    lines = [f"profile ({prof['run']['rate']:g} cb/s for {prof['run']['seconds']:g} s, "
             f"cProfile; shares of each thread's busy time, cProfile inflates Python calls):"]
    for thread, data in prof["threads"].items():
        areas = ", ".join(f"{k} {v * 100:.0f}%" for k, v in list(data["areas"].items())[:7])
        lines.append(f"  {thread} thread ({data['busy_s']} s busy, {data['idle_s']} s idle): {areas}")
        for row in data["top_tottime"][:6]:
            lines.append(f"      {row['tottime_s']:7.2f} s  {row['function']}")
    return lines


def other_load_line(results: dict[str, Any]) -> str:
    """The most CPU other processes took during a step, and the steps they disturbed."""
    busy = [(r["kind"], r["rate"], r["other_load_cores"]) for r in all_steps(results)
            if (r.get("other_load_cores") or 0.0) > 0.25]
    return (f"other load CPU used by other processes during the steps: up to "
            f"{results['figures']['other_load_cores_max']:.2f} cores"
            + (" -- WARNING, steps disturbed: " + ", ".join(
                f"{k} {r:g}/s ({c:.2f})" for k, r, c in busy) if busy else " (idle enough)"))


def print_summary(bench: Bench, results: dict[str, Any]) -> None:
    """The framed summary of the whole run."""
    fig, run = results["figures"], results["main_run"]
    lines = [*head_lines(results), *main_run_lines(run), *overhead_lines(run, fig),
             *profile_lines(results.get("profile")), other_load_line(results)]
    harness.print_block("SIP throughput: callbacks through the sippy PBX beside SIPp UAC -> UAS",
                        lines, fig["elapsed_s"], results["command"])


if __name__ == "__main__":
    sys.exit(main())
