"""The callback policy under random interleavings: retries, cancel at any moment, times
asked for, opening hours, calling hours and slots, through one real `Switchboard`.

A hypothesis `RuleBasedStateMachine` keeps a clock of its own: timers fire when
they are due (never early: a real timer does not), the PBX answers, fails or
hangs up any call it was asked to dial, people ask for calls at once or at a
time, change the time of a call they wait for, and cancel whenever they like.
After every step the invariants hold: never two live calls to one person,
nothing dialled after a cancel or before a time changed to, nothing
dialled while the service is closed or outside the person's calling hours,
every call to a person recorded as an attempt, one record per callback.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reference_impl import flow as f
from reference_impl.calendar import Calendar, ServiceHours, parse_hours, person_zones
from reference_impl.codes import CodePool
from reference_impl.directory import Centre, Directory, Service
from reference_impl.records import MemoryRecords
from reference_impl.switchboard import Ports, Switchboard

MADRID = ZoneInfo("Europe/Madrid")
H = 3600.0
DIRECTORY = Directory(
    services={"loans": Service(code="loans", centres=("north",)),
              "cards": Service(code="cards", centres=("north",))},
    centres={"north": Centre(name="north", terminals=("n1", "n2"), ring_timeout=120.0)})
NUMBERS = ("+34910000001", "+34910000002", "+34612000001", "+34612000002")   # fixed, mobiles
POLICY = f.CallbackPolicy(retry=(
    (f.Outcome.PERSON_BUSY, f.RetryRule(after=600.0, attempts=3)),
    (f.Outcome.PERSON_NO_ANSWER, f.RetryRule(after=1800.0, attempts=2)),
    (f.Outcome.NO_AGENT, f.RetryRule(after=300.0, attempts=2))), give_up_after=6 * H)


def calendar() -> Calendar:
    """Monday 7 December 2026 in Madrid; loans on weekdays 08:00-20:00 with slots of
    15 minutes for two requests, cards on Saturdays too; the 8th is a holiday."""
    hours = parse_hours({"mon-fri": "08:00-20:00"})
    return Calendar(epoch=datetime(2026, 12, 7, tzinfo=MADRID), zone=MADRID, services={
        "loans": ServiceHours(hours=hours, slot_every=900.0, slot_capacity=2),
        "cards": ServiceHours(hours={**hours, **parse_hours({"sat": "09:00-14:00"})},
                              holidays=frozenset({datetime(2026, 12, 8).date()}))})


class Pbx:
    """Legs as the PBX sees them."""

    def __init__(self) -> None:
        self.legs: dict[tuple[str, str], str] = {}

    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None:
        assert (callback_id, leg) not in self.legs
        self.legs[(callback_id, leg)] = "dialling"

    def hangup(self, callback_id: str, leg: str, reason: str) -> None:
        self.legs[(callback_id, leg)] = "ended"

    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        pass


class Rooms:
    def create(self, callback_id: str, template: str, code: str) -> None:
        pass

    def join(self, callback_id: str, room: str, who: f.Role) -> None:
        pass

    def delete(self, room: str) -> None:
        pass

    def call_ended(self, callback_id: str) -> None:
        pass


class Timers:
    """Timers that fire when due, on the machine's clock."""

    def __init__(self, clock: "Policies") -> None:
        self.clock = clock
        self.due: dict[tuple[str, str], float] = {}

    def start(self, callback_id: str, timer: str, delay: float) -> None:
        assert delay >= 0
        self.due[(callback_id, timer)] = self.clock.now + delay

    def cancel(self, callback_id: str, timer: str) -> None:
        del self.due[(callback_id, timer)]


class Notices:
    def notify(self, callback_id: str, notice: f.Notice, room: str | None) -> None:
        pass


class DialWatch:
    """An observer: every call to a person, when, and to whom."""

    commands_watched = (f.Dial,)

    def __init__(self) -> None:
        self.person_calls: list[tuple[str, str, str, float]] = []   # (callback, leg, number, t)

    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        assert isinstance(command, f.Dial)
        if f.role_of(command.leg) is f.Role.PERSON:
            self.person_calls.append((callback_id, command.leg, command.number, now))


class Policies(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 7 * H                       # Monday 07:00: closed for another hour
        self.pbx, self.timers, self.watch = Pbx(), Timers(self), DialWatch()
        self.records = MemoryRecords()
        self.calendar = calendar()
        self.cancelled: dict[str, float] = {}  # callback -> when the person cancelled
        self.not_before: dict[str, float] = {}  # callback -> the latest time it asked for
        self.services: dict[str, str] = {}
        self.checked_calls = 0

    @initialize(dedupe=st.booleans())
    def open_switchboard(self, dedupe: bool) -> None:
        self.dedupe = dedupe
        self.sb = Switchboard(directory=DIRECTORY, codes=CodePool(digits=2, first=10, count=3),
                              ports=Ports(telephony=self.pbx, rooms=Rooms(), notifier=Notices(),
                                          timers=self.timers),
                              clock=lambda: self.now, records=self.records, policy=POLICY,
                              person_ring_timeout=600.0,
                              calendar=self.calendar, dedupe=dedupe, observers=[self.watch])

    # -- people ---------------------------------------------------------------------------

    @precondition(lambda self: len(self.sb.live) < 5)
    @rule(service=st.sampled_from(["loans", "cards"]), number=st.sampled_from(NUMBERS),
          later=st.one_of(st.none(), st.floats(0, 30 * H)))
    def a_person_asks(self, service: str, number: str, later: float | None) -> None:
        """A request, at once or for a time (up to a day and a bit ahead)."""
        at = None if later is None else self.now + later
        cid = self.sb.request({"service": service}, number, schedule_at=at)
        self.services[cid] = service

    def cancellable(self) -> list[str]:
        return sorted(cid for cid in self.sb.live if cid not in self.cancelled)

    @precondition(lambda self: self.cancellable())
    @rule(data=st.data(), changes_mind=st.sampled_from([True, False, False, False]))
    def a_person_cancels(self, data: st.DataObject, changes_mind: bool) -> None:
        """Now and then (a quarter of the times the rule is drawn), someone cancels."""
        if not changes_mind:
            return
        cid = data.draw(st.sampled_from(self.cancellable()), label="callback")
        person_answered = self.sb.person_on_line(cid)
        assert self.sb.cancel(cid)
        self.cancelled[cid] = self.now
        if not person_answered:
            for (c, leg), state in self.pbx.legs.items():
                if c == cid and f.role_of(leg) is f.Role.PERSON:
                    assert state == "ended", "an unanswered call to a person who cancelled rings on"

    def waiting(self) -> list[str]:
        return sorted(cid for cid, cb in self.sb.live.items() if cb.state is f.State.SCHEDULED)

    @precondition(lambda self: self.waiting())
    @rule(data=st.data(), later=st.floats(0, 30 * H))
    def a_person_changes_the_time(self, data: st.DataObject, later: float) -> None:
        """Someone waiting for a call (scheduled, or a retry) asks for another time: no
        call to them before it."""
        cid = data.draw(st.sampled_from(self.waiting()), label="callback")
        assert self.sb.reschedule(cid, self.now + later)
        self.not_before[cid] = self.now + later
        cb = self.sb.live.get(cid)
        assert cb is None or cb.state is f.State.ENDED or cb.next_attempt_at is None \
            or cb.next_attempt_at >= self.now + later - 1e-3, "placed before the time asked for"

    # -- the clock ------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([1.0, 20.0, 300.0, 900.0, 1800.0, 4 * H, 13 * H]))
    def time_passes(self, seconds: float) -> None:
        """The clock moves on; every timer due meanwhile fires, in order."""
        until = self.now + seconds
        while True:
            due = [(t, key) for key, t in self.timers.due.items() if t <= until]
            if not due:
                break
            t, (cid, timer) = min(due)
            self.now = max(self.now, t)
            del self.timers.due[(cid, timer)]
            self.sb.deliver(cid, f.TimerFired(timer=timer))
        self.now = until

    # -- the PBX --------------------------------------------------------------------------

    def ringing(self) -> list[tuple[str, str]]:
        return sorted(k for k, state in self.pbx.legs.items()
                      if state == "dialling" and k[0] in self.sb.live)

    @precondition(lambda self: self.ringing())
    @rule(data=st.data(), what=st.sampled_from(["answer", "answer", "busy", "busy", "no_answer",
                                                "rejected"]))
    def a_phone_does_something(self, data: st.DataObject, what: str) -> None:
        cid, leg = data.draw(st.sampled_from(self.ringing()), label="leg")
        if what == "answer":
            self.pbx.legs[(cid, leg)] = "answered"
            self.sb.deliver(cid, f.LegAnswered(leg=leg))
            if f.role_of(leg) is f.Role.AGENT and cid in self.sb.live:
                self.sb.deliver(cid, f.Bridged())
        else:
            self.pbx.legs[(cid, leg)] = "ended"
            self.sb.deliver(cid, f.LegFailed(leg=leg, reason=f.FailReason(what)))

    def answered(self) -> list[tuple[str, str]]:
        return sorted(k for k, state in self.pbx.legs.items()
                      if state == "answered" and k[0] in self.sb.live)

    @precondition(lambda self: self.answered())
    @rule(data=st.data())
    def someone_hangs_up(self, data: st.DataObject) -> None:
        cid, leg = data.draw(st.sampled_from(self.answered()), label="leg")
        self.pbx.legs[(cid, leg)] = "ended"
        self.sb.deliver(cid, f.LegHungUp(leg=leg))

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def never_two_live_calls_to_one_person(self) -> None:
        live: dict[str, int] = {}
        for (cid, leg), state in self.pbx.legs.items():
            if state != "ended" and f.role_of(leg) is f.Role.PERSON:
                number = self.sb.live[cid].person_number if cid in self.sb.live else "?"
                assert cid in self.sb.live, f"a live call to the person of ended {cid}"
                live[cid] = live.get(cid, 0) + 1
                assert live[cid] == 1, f"two live calls to the person of {cid}"
                if self.dedupe:
                    same = [c for (c, lg), s in self.pbx.legs.items() if s != "ended"
                            and f.role_of(lg) is f.Role.PERSON and c != cid and c in self.sb.live
                            and self.sb.live[c].person_number == number
                            and self.services[c] == self.services[cid]]
                    assert not same, f"{number} called for one service by {cid} and {same}"

    @invariant()
    def every_call_to_a_person_was_allowed_then(self) -> None:
        for cid, leg, number, t in self.watch.person_calls[self.checked_calls:]:
            assert cid not in self.cancelled or t < self.cancelled[cid], \
                f"{leg} of {cid} dialled after the person cancelled"
            # The calendar works in wall-clock microseconds: a hair's breadth is the same time.
            assert t >= self.not_before.get(cid, t) - 1e-3, \
                f"{leg} of {cid} dialled before the time the person changed it to"
            service = self.services[cid]
            assert self.calendar.is_open(service, t), f"{leg} of {cid} dialled while closed"
            assert self.calendar.may_call(number, t), \
                f"{leg} of {cid} dialled outside the calling hours of {number}"
        self.checked_calls = len(self.watch.person_calls)

    @invariant()
    def every_call_is_an_attempt_on_the_record(self) -> None:
        calls: dict[str, list[str]] = {}
        for cid, leg, _, _ in self.watch.person_calls:
            calls.setdefault(cid, []).append(leg)
        for cid in self.services:
            cb = self.sb.live.get(cid)
            record = self.records.get(cid)
            assert record is not None
            attempts = cb.attempts if cb is not None else record.attempts
            assert [a.leg for a in attempts] == calls.get(cid, [])
            if cb is None:
                assert record.state == "ended" and record.outcome is not None
                assert all(a.outcome is not None for a in record.attempts)
                assert len(record.attempts) <= 3

    @invariant()
    def waiting_callbacks_have_their_timer(self) -> None:
        for cid, cb in self.sb.live.items():
            if cb.state is f.State.SCHEDULED:
                assert (cid, f.DIAL_TIMER) in self.timers.due
                assert cb.next_attempt_at == self.timers.due[(cid, f.DIAL_TIMER)]
        for cid, _ in self.timers.due:
            assert cid in self.sb.live, f"a timer runs for ended callback {cid}"


Policies.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_policies = Policies.TestCase


def test_the_machine_checks_calling_hours_by_the_numbers_zones() -> None:
    cal = calendar()
    assert person_zones("+34612000001") != person_zones("+34910000001")
    assert cal.may_call("+34910000001", 9.5 * H) and not cal.may_call("+34612000001", 9.5 * H)
