"""Scenarios over real SIP: the sippy PBX dials SIPp phones on loopback, in real time.

The scenario is first run in simulated time to draw every phone's behaviour
(who answers, after how long, who hangs up when); the same requests are then
replayed over SIP with those very behaviours, handed to the SIPp phones in
each call's Request-URI. So the two modes can be compared call by call.
Idle time is skipped (between callbacks, and while every live callback waits
for its next call: a retry, a scheduled time), and talk times can be
compressed (`time_scale`): neither changes an outcome. The scenario's policy
(retries, dedupe, give-up), calendar, schedules and cancels apply as in the
simulation; each call to the person is its own leg ("person", "person-2"...).

When a scenario expects audio (`expect[].audio`), the phones send RTP once
bridged (their Request-URI asks for it) and the replay watches loopback
(`RtpWatch`, a raw socket: root or CAP_NET_RAW): for each bridged call it
counts the packets arriving at the agent's media address (from the person's
phone) and at the person's (from the agent's) between the bridge and the
hang-up; the records it returns (`AudioRecord`) say what was seen.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import socket
import struct
import threading
from dataclasses import dataclass, fields
from typing import Callable, Iterable

from reference_impl import flow as f
from reference_impl.flow import Role, role_of
from reference_impl.ports import NoNotifier
from reference_impl.records import CallbackRecord, MemoryRecords
from reference_impl.runtime import Runtime
from reference_impl.telephony import SipMessage, SipPbx, SipTarget, parse_sip_uri

from ..measure.collector import Collector
from ..measure.levels import Levels
from ..measure.summary import compute
from ..models.desks import Desks
from ..models.pbx import PhoneBook
from ..models.pbx.sipp import PhonesAt, SippPhones, phone_user
from ..models.people import Answer, PhonePlan
from ..models.phonebook import People
from ..models.streams import Streams
from ..scenario import CallExpectation, Scenario, build
from .clock import LoopClock
from .simulation import SimResult, Simulation, expected_metrics, levels_of, room_servers

UNKNOWN_TYPING = 5.0     # s: the agent of a desk phone with no rehearsed plan types the code
_ACTIONS = {Answer.INVALID: "invalid", Answer.BUSY: "busy", Answer.REJECT: "reject",
            Answer.ANSWER: "answer", Answer.RING_OUT: "ringout"}


@dataclass(frozen=True)
class Request:
    """A callback of the rehearsal, to be asked for again over SIP at its time
    (`schedule_at`: the time it asks to be called; `cancel_at`: when it is cancelled)."""

    at: float
    callback_id: str
    service: str
    number: str
    name: str = ""
    schedule_at: float | None = None
    cancel_at: float | None = None


class PhoneDialplan:
    """Number -> SIP target: `sip:` numbers as written, the rest to the SIPp phones."""

    def __init__(self, plans: dict[tuple[str, str], PhonePlan], talks: dict[str, "Talk"],
                 phones: SippPhones | PhonesAt, people: PhoneBook, time_scale: float,
                 desks: Desks | None = None, rtp: bool = False) -> None:
        """`desks`, if given, is told how long each answering agent takes to type the code;
        with `rtp` every SIPp phone sends RTP once bridged."""
        self.plans = plans
        self.talks = talks                # callback -> who ends its talk, and may it be compressed
        self.phones = phones
        self.people = people
        self.time_scale = time_scale
        self.desks = desks
        self.rtp = rtp

    def __call__(self, callback_id: str, leg: str, number: str) -> SipTarget:
        """The SIP target of a leg: a SIPp phone told its plan in the Request-URI."""
        plan = self.plans.get((callback_id, leg))
        if self.desks is not None and role_of(leg) is Role.AGENT:
            # A desk phone the rehearsal never dialled: its agent types after 5 s.
            self.desks.will_type(callback_id, leg, plan.code_entry if plan else UNKNOWN_TYPING)
        if number.startswith("sip:"):
            return parse_sip_uri(number)
        if plan is None:
            plan = self.people.plan(callback_id, leg, number)
        talk = plan.talk
        found = self.talks.get(callback_id)
        if found is not None:
            if found.ends != leg:
                talk = math.inf             # the other side hangs up first: wait for its BYE
            elif found.compress:
                talk = _compressed(talk, found.floor, self.time_scale)
        user = phone_user(_ACTIONS[plan.answer], plan.delay, plan.patience, talk, rtp=self.rtp)
        host, port = self.phones.address
        return SipTarget(user, host, port)


@dataclass(frozen=True)
class Talk:
    """Who ends a bridged call's talk, and whether its talk may run faster."""

    ends: str          # the leg whose talk time runs out first: it hangs up
    compress: bool     # no other call overlaps this talk: it may run faster
    floor: float       # talk time kept as it is (the agent typing the code, joining the room)


def _compressed(talk: float, floor: float, time_scale: float) -> float:
    return talk if talk <= floor else floor + (talk - floor) / time_scale


def _talks(plans: dict[tuple[str, str], PhonePlan], records: list[CallbackRecord]) -> dict[str, Talk]:
    """For each call the simulation bridged: who hangs up, and whether its talk can be shortened.

    Shortening a talk moves every later event of the system earlier, so it is
    done only where no other call is up at the same time in the simulation:
    then no outcome can change (terminals, codes and rooms are free either way).
    """
    spans = [(r.times["requested"], r.times.get("ended", math.inf), r.id) for r in records]
    out = {}
    for record in records:
        if "bridged" not in record.times:
            continue
        agent, person_leg = f.agent_leg(len(record.terminals_dialled)), last_person_leg(record)
        person, desk = plans.get((record.id, person_leg)), plans.get((record.id, agent))
        if person is None or desk is None:
            continue
        start, end = record.times["bridged"], record.times.get("ended", math.inf)
        alone = not any(other != record.id and s < end and e > start for s, e, other in spans)
        out[record.id] = Talk(ends=person_leg if person.talk < desk.talk else agent,
                              compress=alone, floor=desk.code_entry + 3.0)
    return out


def last_person_leg(record: CallbackRecord) -> str:
    """The leg of the callback's last call to the person (the one a bridge joined)."""
    return record.attempts[-1].leg if record.attempts else f.PERSON_LEG


@dataclass(kw_only=True, slots=True)
class AudioRecord(CallbackRecord):
    """A callback record of a SIP replay that measured the calls' RTP.

    ``audio``: ``two_way`` (RTP seen both ways between the bridge and the
    hang-up), ``one_way``, ``none`` (also for a call never bridged), or None
    when the RTP could not be watched (``audio_detail`` says why).
    ``audio_detail``: the packet counts each way, or the reason.
    """

    audio: str | None = None
    audio_detail: str = ""


def expects_audio(scenario: Scenario) -> bool:
    """Whether any call expectation of the scenario checks `audio`."""
    return any(isinstance(e, CallExpectation) and e.audio is not None for e in scenario.expect)


class RtpWatch:
    """RTP on loopback, by destination address and time, from a raw socket of its own.

    Every UDP datagram on ``lo`` that looks like RTP (version 2, 12 bytes at
    least) is noted with ``clock()`` and its destination; each is seen once
    (the loopback's outgoing copy is skipped). Needs root or CAP_NET_RAW
    (Linux AF_PACKET); without them `error` says why and nothing is counted.
    A context manager; `close` stops the reading thread.
    """

    def __init__(self, clock: Callable[[], float], interface: str = "lo") -> None:
        self.clock = clock
        self.error = ""
        self._seen: dict[tuple[str, int], list[float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))  # type: ignore[attr-defined]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            sock.bind((interface, 0))
            sock.settimeout(0.1)
        except (OSError, AttributeError) as error:
            self.error = (f"RTP cannot be watched on {interface}: {error} "
                          "(a raw socket needs root or CAP_NET_RAW, on Linux)")
            return
        self._sock = sock
        self._thread = threading.Thread(target=self._read, name="rtp-watch", daemon=True)
        self._thread.start()

    def __enter__(self) -> "RtpWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop watching (what was seen stays countable)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def count(self, destination: tuple[str, int], start: float, end: float) -> int:
        """RTP packets seen arriving at `destination` between `start` and `end` (clock times)."""
        with self._lock:
            times = list(self._seen.get((destination[0], int(destination[1])), ()))
        return bisect.bisect_right(times, end) - bisect.bisect_left(times, start)

    def _read(self) -> None:
        assert self._sock is not None
        sock = self._sock
        while not self._stop.is_set():
            try:
                frame, address = sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(address) > 2 and address[2] == 4:        # PACKET_OUTGOING: the same again
                continue
            found = _rtp_destination(frame)
            if found is not None:
                now = self.clock()
                with self._lock:
                    self._seen.setdefault(found, []).append(now)


def _rtp_destination(frame: bytes) -> tuple[str, int] | None:
    """The (IPv4 address, port) an RTP-looking UDP datagram in an Ethernet frame goes to."""
    if len(frame) < 14 + 20 + 8 + 12 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    header = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < header + 8 + 12:
        return None
    port = struct.unpack_from("!H", ip, header + 2)[0]
    payload = ip[header + 8:]
    if payload[0] >> 6 != 2:
        return None
    return socket.inet_ntoa(ip[16:20]), port


def _with_audio(records: list[CallbackRecord], media: dict[tuple[str, str], tuple[str, int]],
                watch: RtpWatch) -> list[CallbackRecord]:
    """Each record as an `AudioRecord`: what the wire showed between bridge and hang-up."""
    out: list[CallbackRecord] = []
    for record in records:
        audio, detail = _audio_of(record, media, watch)
        values = {f.name: getattr(record, f.name) for f in fields(CallbackRecord)}
        out.append(AudioRecord(**values, audio=audio, audio_detail=detail))
    return out


def _audio_of(record: CallbackRecord, media: dict[tuple[str, str], tuple[str, int]],
              watch: RtpWatch) -> tuple[str | None, str]:
    start, end = record.times.get("bridged"), record.times.get("ended")
    if start is None:
        return "none", "never bridged"
    if watch.error:
        return None, watch.error
    agent = f.agent_leg(len(record.terminals_dialled))
    person_at = media.get((record.id, last_person_leg(record)))
    agent_at = media.get((record.id, agent))
    if person_at is None or agent_at is None:
        return None, "a phone's answer named no media address"
    end = math.inf if end is None else end
    to_agent, to_person = watch.count(agent_at, start, end), watch.count(person_at, start, end)
    audio = ("two_way" if to_agent and to_person else "one_way" if to_agent or to_person
             else "none")
    return audio, (f"person->agent {to_agent} RTP packets at {agent_at[0]}:{agent_at[1]}, "
                   f"agent->person {to_person} at {person_at[0]}:{person_at[1]}")


def run_sip(scenario: Scenario, *, seed: int | None = None, time_scale: float = 1.0,
            observers: Iterable[object] = (),
            on_message: Callable[[str, str, SipMessage], None] | None = None) -> SimResult:
    """Run the scenario over real SIP; the result has the simulation's shape."""
    sim = Simulation(scenario, seed=seed, keep_plans=True)
    rehearsal = sim.run()
    requests = requests_of(scenario, rehearsal.records)
    return asyncio.run(_replay(scenario, sim, rehearsal, requests, time_scale,
                               list(observers), on_message))


def requests_of(scenario: Scenario, records: list[CallbackRecord]) -> list[Request]:
    """The rehearsal's requests in order, each with its explicit callback's schedule
    and cancel (call N of the file is callback N; arrivals have neither)."""
    calendar = build.calendar(scenario)
    out = []
    for r in records:
        number = int(r.id)
        spec = scenario.callbacks[number - 1] if number <= len(scenario.callbacks) else None
        out.append(Request(
            r.times["requested"], r.id, r.form["service"], r.person_number,
            name=r.form.get("name", ""),
            schedule_at=(build.schedule_at(spec, calendar.epoch if calendar else None)
                         if spec is not None else None),
            cancel_at=spec.cancel_at if spec is not None else None))
    return sorted(out, key=lambda q: (q.at, int(q.callback_id)))


async def _replay(scenario: Scenario, sim: Simulation, rehearsal: SimResult,
                  requests: list[Request], time_scale: float, observers: list[object],
                  on_message: Callable[[str, str, SipMessage], None] | None) -> SimResult:
    loop = asyncio.get_running_loop()
    plans = sim.people.plans or {}
    directory = build.directory(scenario)
    desks = Desks(directory.terminal_owner())
    # For calls the rehearsal never made: a phone book of its own streams.
    people = People(build.agent_profiles(scenario), Streams(rehearsal.seed + 1), desks=desks)
    people.person_profiles = sim.people.person_profiles
    collector = Collector()
    levels = levels_of(scenario)
    records = MemoryRecords()
    audio = expects_audio(scenario)
    media: dict[tuple[str, str], tuple[str, int]] = {}

    def on_media(callback_id: str, leg: str, address: tuple[str, int]) -> None:
        media[(callback_id, leg)] = address          # the reactor's thread; read at the end

    with SippPhones() as phones:
        dialplan = PhoneDialplan(plans, _talks(plans, rehearsal.records), phones, people,
                                 time_scale, desks, rtp=audio)
        runtime = Runtime(
            directory=directory,
            codes=build.code_pool(scenario),
            telephony=lambda rt: SipPbx(deliver=rt.deliver_threadsafe, dialplan=dialplan,
                                        trunks=scenario.pbx.trunks, on_message=on_message,
                                        clock=rt.now, on_trunk=_counter(rt, levels),
                                        on_media=on_media if audio else None).start(),
            rooms=lambda rt: room_servers(scenario, LoopClock(loop, rt.now),
                                          sim.streams["rooms_sip"], rt.deliver, levels.rooms,
                                          levels),
            notifier=NoNotifier(), records=records,
            person_ring_timeout=scenario.pbx.person_ring_timeout,
            caller_id=scenario.pbx.caller_id, observers=[collector, *observers, desks],
            policy=build.policy(scenario), calendar=build.calendar(scenario),
            dedupe=scenario.policy.dedupe)
        desks.clock = LoopClock(loop, runtime.now)
        desks.enter_code = runtime.switchboard.enter_code
        pbx = runtime.telephony
        assert isinstance(pbx, SipPbx)
        watch = RtpWatch(runtime.now) if audio else None
        try:
            await _feed(runtime, pbx, requests)
            await _drain(runtime, pbx, scenario, time_scale)
            await _settle(lambda: pbx.legs_up == 0 and not runtime.rooms.rooms, 3.0)  # type: ignore[attr-defined]
        finally:
            pbx.stop()
            if watch is not None:
                watch.close()
        sb = runtime.switchboard
        kept = list(records)
        if watch is not None:
            kept = _with_audio(kept, media, watch)
        end = max([r.times.get("ended", 0.0) for r in kept] + [0.0])
        return SimResult(scenario=scenario, seed=rehearsal.seed, records=kept,
                         metrics=compute(collector, levels, end, expected_metrics(scenario)),
                         end=end, collector=collector,
                         late_events=sb.late_events,
                         open_at_end={"live": len(sb.live),
                                      "rooms": len(runtime.rooms.rooms),  # type: ignore[attr-defined]
                                      "codes": sb.codes.in_use, "legs": pbx.legs_up,
                                      "timers": runtime.timers.live})


def _counter(runtime: Runtime, levels: Levels) -> Callable[[str, int], None]:
    """Trunks and agent legs in use over time, as the simulation counts them."""
    def count(leg: str, delta: int) -> None:
        now = runtime.now()
        levels.trunks.change(now, delta)
        if role_of(leg) is Role.AGENT:
            levels.agents.change(now, delta)
    return count


async def _feed(runtime: Runtime, pbx: SipPbx, requests: list[Request]) -> None:
    """Start each callback at its time, and cancel it at its time; idle time is skipped."""
    sb = runtime.switchboard
    actions: list[tuple[float, int, Callable[[], object]]] = []
    for n, q in enumerate(requests):
        actions.append((q.at, 2 * n, lambda q=q: sb.request(
            {"service": q.service, "name": q.name}, q.number, q.callback_id,
            schedule_at=q.schedule_at)))
        if q.cancel_at is not None:
            actions.append((q.cancel_at, 2 * n + 1, lambda q=q: sb.cancel(q.callback_id)))
    actions.sort(key=lambda a: (a[0], a[1]))
    for at, _, act in actions:
        while (gap := at - runtime.now()) > 0:
            if _idle(runtime, pbx):
                _skip(runtime, gap)
                await asyncio.sleep(0)             # a timer hurried due fires first
                continue
            await asyncio.sleep(min(gap, 0.02))
        act()


def _idle(runtime: Runtime, pbx: SipPbx) -> bool:
    """Nothing is on the phones: no callback is live, or every live one waits for its
    next call (a retry, a scheduled time) with no leg up and no room open."""
    sb = runtime.switchboard
    return (pbx.legs_up == 0 and not runtime.rooms.rooms  # type: ignore[attr-defined]
            and len(sb.pending()) == len(sb.live))


def _skip(runtime: Runtime, limit: float) -> None:
    """Jump over idle time: up to `limit` seconds, or to the flow's next timer if sooner
    (a pending callback's next call), the timers hurried by as much."""
    due = runtime.timers.next_due()
    gap = limit if due is None else min(limit, due - runtime.loop.time())
    if 0 < gap < math.inf:
        runtime.skip(gap)
        runtime.timers.hurry(gap)


async def _drain(runtime: Runtime, pbx: SipPbx, scenario: Scenario, time_scale: float) -> None:
    """Wait for every callback to end (idle waits skipped), or give up after the longest
    the calls can take on the phones."""
    ring = scenario.pbx.person_ring_timeout + sum(c.ring_timeout for c in scenario.centres.values())
    rules = [rule for _, rule in (build.policy(scenario) or f.CallbackPolicy()).retry]
    attempts = max([r.attempts for r in rules] + [1])
    # Real seconds (skipped time does not count): every call of the longest callback,
    # and its waits between calls if another call keeps them from being skipped.
    budget = (ring + 600.0 / time_scale + 60.0) * attempts + sum(
        r.after * (r.attempts - 1) for r in rules)
    deadline = runtime.loop.time() + budget
    sb = runtime.switchboard
    while sb.live and runtime.loop.time() < deadline:
        if _idle(runtime, pbx):
            _skip(runtime, math.inf)
            await asyncio.sleep(0)
            continue
        await asyncio.sleep(0.02)
    for callback_id in list(sb.live):
        # Stuck: end it as the flow would on a protocol error, so nothing leaks.
        sb.deliver(callback_id, f.LegHungUp(leg="stuck"))


async def _settle(done: Callable[[], bool], seconds: float) -> None:
    for _ in range(int(seconds / 0.02)):
        if done():
            return
        await asyncio.sleep(0.02)
