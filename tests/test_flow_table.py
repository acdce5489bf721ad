"""Every (state, event) pair of the call flow is a legal transition or a named error.

As in h2's `test_state_machines.py`: bring a `Callback` into each state by a
scripted prefix of events, feed it one sampled event, and check the answer
against the table of `_state.py`. A `Ledger` keeps, independently of the flow,
what the callback holds (legs, timers, terminal, code, room) from the commands
it returned, so "an ended call holds nothing" is checked from the outside.
Then plain examples of each branch of the flow.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.flow import (
    IGNORED, PERSON_LEG, RESCHEDULABLE, TRANSITIONS, leads_to, AgentEnteredCode, AllocateCode, Bridge, BridgeFailed,
    Bridged, Callback, CallbackPolicy, CancelRequested, RescheduleRequested, DialTimeFound, FindDialTime, RetryRule,
    role_of,
    SystemStopping,
    CallAlreadyEnded, CallbackRequested, CancelTimer, CentreRoute, CloseRecord, CodeAllocated,
    CodesExhausted, Command, CreateRoom, DeleteRoom, Dial, Event, FailReason, FindRoute,
    FlowError, Hangup, JoinedRoom, JoinRoom, LegAnswered, LegEvent, LegFailed, LegHungUp,
    LegRinging, LegState, NoFreeTerminal, Notice, NotifyPerson, Outcome, OutOfTurn,
    ReleaseCode, ReleaseTerminal, Reply, Role, RoomCreated, RoomRefused, RouteFound,
    SeizeTerminal, ServiceRoute, StartTimer, State, TerminalSeized, TimerFired,
    UnexpectedEvent, UnknownLeg, event_kind)

ROUTE = ServiceRoute(service_code="loans", room_template="advisor",
                     centres=(CentreRoute(name="north", ring_timeout=15.0),
                              CentreRoute(name="south", ring_timeout=20.0)))
NOWHERE = ServiceRoute(service_code="loans", centres=())
HOLD = ServiceRoute(service_code="loans",               # north keeps callers on hold for 60 s
                    centres=(CentreRoute(name="north", ring_timeout=15.0, queue_max_wait=60.0),
                             CentreRoute(name="south", ring_timeout=20.0)))
CODE = "0042"

# -- a driver that keeps its own account of what the callback holds --------------


@dataclass
class Ledger:
    legs: set[str] = field(default_factory=set)
    timers: set[str] = field(default_factory=set)
    terminals: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    rooms: set[str] = field(default_factory=set)

    def accepted(self, event: Event) -> None:
        """The flow took `event` without error: what it brings is now held."""
        if isinstance(event, TerminalSeized):
            self.terminals.add(event.terminal)
        elif isinstance(event, CodeAllocated):
            self.codes.add(event.code)
        elif isinstance(event, RoomCreated):
            self.rooms.add(event.room)
        elif isinstance(event, (LegFailed, LegHungUp)):
            self.legs.discard(event.leg)        # the far end ended it

    def ran(self, commands: Iterable[Command]) -> None:
        """Carry out the flow's commands; a double release raises KeyError."""
        for command in commands:
            if isinstance(command, Dial):
                assert command.leg not in self.legs, f"{command.leg} dialled twice"
                self.legs.add(command.leg)
            elif isinstance(command, Hangup):
                self.legs.remove(command.leg)
            elif isinstance(command, StartTimer):
                self.timers.add(command.timer)
            elif isinstance(command, CancelTimer):
                self.timers.remove(command.timer)
            elif isinstance(command, ReleaseTerminal):
                self.terminals.remove(command.terminal)
            elif isinstance(command, ReleaseCode):
                self.codes.remove(command.code)
            elif isinstance(command, DeleteRoom):
                self.rooms.remove(command.room)

    def held(self) -> dict[str, set[str]]:
        return {name: items for name, items in vars(self).items() if items}


class Run:
    """One callback and its ledger; time moves one second per event."""

    def __init__(self, *prefix: Event | CallbackPolicy) -> None:
        policy = prefix[0] if prefix and isinstance(prefix[0], CallbackPolicy) else None
        self.cb = Callback("cb-1", person_ring_timeout=30.0, caller_id="+34910000000",
                           policy=policy)
        self.ledger = Ledger()
        self.now = 0.0
        self.play(*(e for e in prefix if isinstance(e, Event)))

    def send(self, event: Event) -> list[Command]:
        self.now += 1.0
        if isinstance(event, TimerFired):
            self.ledger.timers.discard(event.timer)   # the driver's timer went off
        commands = self.cb.handle(event, self.now)
        self.ledger.accepted(event)
        self.ledger.ran(commands)
        return commands

    def fail(self, event: Event) -> FlowError:
        self.now += 1.0
        if isinstance(event, TimerFired):
            self.ledger.timers.discard(event.timer)
        with pytest.raises(FlowError) as info:
            self.cb.handle(event, self.now)
        self.ledger.ran(info.value.commands)      # the clean-up the driver must run
        return info.value

    def play(self, *events: Event) -> None:
        for event in events:
            try:
                self.send(event)
            except FlowError as error:
                self.ledger.ran(error.commands)

    def agent_leg(self) -> str:
        """The agent leg dialled last, or the one that would be dialled first."""
        return ([leg for leg in self.cb.legs if role_of(leg) is Role.AGENT] or ["agent-1"])[-1]


# -- prefixes that bring a callback into each state --------------------------------

REQ = CallbackRequested(service_code="loans", person_number="+34600000001")
TIMED = CallbackRequested(service_code="loans", person_number="+34600000001", timed=True)
AT_15 = CallbackRequested(service_code="loans", person_number="+34600000001", schedule_at=900.0)
LATER = DialTimeFound(at=3600.0)
RETRY = CallbackPolicy(retry=((Outcome.PERSON_BUSY, RetryRule(after=120.0, attempts=3)),
                              (Outcome.NO_AGENT, RetryRule(after=300.0, attempts=2))),
                       give_up_after=7200.0)
BUSY = LegFailed(leg=PERSON_LEG, reason=FailReason.BUSY)
P_RING, P_ANS = LegRinging(leg=PERSON_LEG), LegAnswered(leg=PERSON_LEG)
ROUTED = RouteFound(route=ROUTE)
GOT_CODE = CodeAllocated(code=CODE)
N1, N2, S1 = (TerminalSeized(terminal=t) for t in ("n1", "n2", "s1"))
A1_RING, A1_ANS = LegRinging(leg="agent-1"), LegAnswered(leg="agent-1")
ROOM = RoomCreated(room="room-1", routing="rooms-a")
ENTERED = AgentEnteredCode(code=CODE)

Prefix = tuple[Event | CallbackPolicy, ...]
_ROUTING: list[Prefix] = [(REQ, P_ANS), (REQ, P_RING, P_ANS)]
_ALLOCATING: list[Prefix] = [p + (ROUTED,) for p in _ROUTING]
_SEIZING: list[Prefix] = [
    _ALLOCATING[0] + (GOT_CODE,),
    _ALLOCATING[1] + (GOT_CODE, N1, LegFailed(leg="agent-1", reason=FailReason.BUSY)),
    _ALLOCATING[0] + (GOT_CODE, NoFreeTerminal()),
]
_QUEUED: list[Prefix] = [
    (REQ, P_ANS, RouteFound(route=HOLD), GOT_CODE, NoFreeTerminal()),
    (REQ, P_ANS, RouteFound(route=HOLD), GOT_CODE, N1,
     LegFailed(leg="agent-1", reason=FailReason.BUSY), NoFreeTerminal()),
]
_DIALLING_AGENT: list[Prefix] = [
    _SEIZING[0] + (N1,),
    _SEIZING[1] + (N2,),                                     # agent-2, same centre
    _SEIZING[2] + (S1,),                                     # agent-1, next centre
    _SEIZING[0] + (N1, A1_RING, TimerFired(timer="ring:agent-1"), S1),
    _QUEUED[0] + (N1,),                                      # a terminal freed for us
]
_AGENT_RINGING: list[Prefix] = [
    p + (LegRinging(leg=f"agent-{sum(isinstance(e, TerminalSeized) for e in p)}"),)
    for p in _DIALLING_AGENT]
_BRIDGING: list[Prefix] = [_AGENT_RINGING[0] + (A1_ANS,), _DIALLING_AGENT[0] + (A1_ANS, ENTERED),
                           _AGENT_RINGING[1] + (LegAnswered(leg="agent-2"),)]
_CONNECTED: list[Prefix] = [
    _BRIDGING[0] + (Bridged(),),
    _BRIDGING[0] + (Bridged(), ROOM),
    _BRIDGING[0] + (Bridged(), RoomRefused(reason="full")),
    _BRIDGING[1] + (Bridged(), ROOM),
    _BRIDGING[2] + (Bridged(), ROOM, JoinedRoom(who=Role.PERSON), ENTERED),
]
PREFIXES: dict[State, list[Prefix]] = {
    State.IDLE: [()],
    State.SCHEDULING: [(TIMED,), (AT_15,), (RETRY, REQ, BUSY)],
    State.SCHEDULED: [(TIMED, LATER), (AT_15, LATER), (RETRY, REQ, BUSY, LATER),
                      (RETRY, REQ, BUSY, LATER, TimerFired(timer="dial"),
                       LegFailed(leg="person-2", reason=FailReason.BUSY), DialTimeFound(at=3900.0))],
    State.DIALLING_PERSON: [(REQ,), (TIMED, DialTimeFound(at=0.0)),
                            (RETRY, REQ, BUSY, LATER, TimerFired(timer="dial"))],
    State.PERSON_RINGING: [(REQ, P_RING), (REQ, P_RING, P_RING)],
    State.ROUTING: _ROUTING,
    State.ALLOCATING_CODE: _ALLOCATING,
    State.SEIZING_TERMINAL: _SEIZING,
    State.QUEUED: _QUEUED,
    State.DIALLING_AGENT: _DIALLING_AGENT,
    State.AGENT_RINGING: _AGENT_RINGING,
    State.BRIDGING: _BRIDGING,
    State.CONNECTED: _CONNECTED,
    State.ENDED: [
        (REQ, LegFailed(leg=PERSON_LEG, reason=FailReason.BUSY)),
        (REQ, P_RING, TimerFired(timer="ring:person")),
        _ROUTING[0] + (RouteFound(route=NOWHERE),),
        _CONNECTED[1] + (LegHungUp(leg="agent-1"),),
        _CONNECTED[0] + (LegHungUp(leg=PERSON_LEG),),        # room still being created
        _AGENT_RINGING[0] + (Bridged(),),                    # ended by an error
    ],
}

# -- one sample event per kind; agent events go to the agent leg dialled last ---------

Sample = Callable[[str], Event]
_LEG_SAMPLES: list[tuple[str, Sample]] = [
    ("ringing", lambda leg: LegRinging(leg=leg)),
    ("answered", lambda leg: LegAnswered(leg=leg)),
    ("hung_up", lambda leg: LegHungUp(leg=leg)),
    ("ring_timer", lambda leg: TimerFired(timer=f"ring:{leg}")),
    *((f"failed_{r.value}", lambda leg, r=r: LegFailed(leg=leg, reason=r)) for r in FailReason),
]


def _to_person(make: Sample) -> Sample:
    return lambda agent_leg: make(PERSON_LEG)


SAMPLES: dict[str, Sample] = {
    "CallbackRequested": lambda a: REQ,
    **{f"person_{name}": _to_person(make) for name, make in _LEG_SAMPLES},
    **{f"agent_{name}": make for name, make in _LEG_SAMPLES},
    "unknown_leg_answered": lambda a: LegAnswered(leg="agent-9"),
    "unknown_timer": lambda a: TimerFired(timer="ring:agent-9"),
    "queue_timer": lambda a: TimerFired(timer="queue:north"),
    "RouteFound": lambda a: ROUTED,
    "RouteFound_nowhere": lambda a: RouteFound(route=NOWHERE),
    "CodeAllocated": lambda a: CodeAllocated(code="0099"),
    "CodesExhausted": lambda a: CodesExhausted(),
    "TerminalSeized": lambda a: TerminalSeized(terminal="n3"),
    "NoFreeTerminal": lambda a: NoFreeTerminal(),
    "Bridged": lambda a: Bridged(),
    "BridgeFailed": lambda a: BridgeFailed(reason="no answer to the re-INVITE"),
    "SystemStopping": lambda a: SystemStopping(),
    "CancelRequested": lambda a: CancelRequested(),
    "RescheduleRequested": lambda a: RescheduleRequested(at=7200.0),
    "DialTimeFound_later": lambda a: DialTimeFound(at=7000.0),
    "DialTimeFound_now": lambda a: DialTimeFound(at=0.0),
    "dial_timer": lambda a: TimerFired(timer="dial"),
    "RoomCreated": lambda a: RoomCreated(room="room-9"),
    "RoomRefused": lambda a: RoomRefused(reason="full"),
    "JoinedRoom_person": lambda a: JoinedRoom(who=Role.PERSON),
    "JoinedRoom_agent": lambda a: JoinedRoom(who=Role.AGENT),
    "AgentEnteredCode": lambda a: ENTERED,
    "AgentEnteredCode_wrong": lambda a: AgentEnteredCode(code="9999"),
}


IGNORE, TRANSITION = "ignore", "transition"


def expected(cb: Callback, event: Event) -> str | type[FlowError]:
    """What the flow must do with `event` in its current state: ignore it, take the
    transition of the table, or raise this named error."""
    if isinstance(event, LegEvent):
        if event.leg not in cb.legs:
            return UnknownLeg
        if cb.legs[event.leg] is LegState.ENDED:
            return IGNORE                   # late news of a leg already let go
    if isinstance(event, TimerFired) and event.timer not in cb.timers:
        return IGNORE                       # cancelled, or fired already
    pair = (cb.state, event_kind(event))
    if pair in TRANSITIONS:
        return TRANSITION
    if pair in IGNORED:
        return IGNORE
    if isinstance(event, CallbackRequested) and cb.state is State.ENDED:
        return CallAlreadyEnded
    return OutOfTurn if isinstance(event, (Reply, CallbackRequested)) else UnexpectedEvent


def check_pair(state: State, prefix: Prefix, sample: Sample) -> None:
    run = Run(*prefix)
    cb = run.cb
    assert cb.state is state, f"prefix reached {cb.state}, not {state}"
    was_ended, steps = cb.ended, len(cb.timeline)
    event = sample(run.agent_leg())
    answer = expected(cb, event)
    if answer == IGNORE:
        assert (run.send(event), cb.state, len(cb.timeline)) == ([], state, steps)
    elif answer == TRANSITION:
        kind = event_kind(event)
        run.send(event)                     # any exception here fails the test
        assert cb.state in leads_to(state, kind), (
            f"{TRANSITIONS[(state, kind)][0]} led {state.value} to {cb.state.value}, "
            f"not to one the table names ({sorted(s.value for s in leads_to(state, kind))})")
    else:
        raised = run.fail(event)
        assert type(raised) is answer, f"{event} raised {type(raised).__name__}"
        assert cb.ended
        if was_ended:
            assert raised.commands == [] and len(cb.timeline) == steps
        else:
            assert cb.outcome is Outcome.ERROR
            assert raised.commands[0] == NotifyPerson(notice=Notice.UNAVAILABLE, room=cb.room)
            assert raised.commands[-1] == CloseRecord(outcome=Outcome.ERROR)
            assert cb.timeline[-2].what == "error"
    if cb.ended:
        assert run.ledger.held() == {}, f"ended holding {run.ledger.held()}"
        assert not cb.code_held and not cb.timers
        assert all(leg is LegState.ENDED for leg in cb.legs.values())


@settings(max_examples=400, deadline=None)
@given(state=st.sampled_from(State), data=st.data())
def test_every_state_event_pair_is_a_transition_or_a_named_error(
        state: State, data: st.DataObject) -> None:
    prefix = data.draw(st.sampled_from(PREFIXES[state]), label="prefix")
    name = data.draw(st.sampled_from(sorted(SAMPLES)), label="event")
    check_pair(state, prefix, SAMPLES[name])


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_every_pair_from_every_prefix(state: State) -> None:
    """The same check, exhaustively: cheap enough to leave no pair to chance."""
    for prefix in PREFIXES[state]:
        for name, sample in SAMPLES.items():
            try:
                check_pair(state, prefix, sample)
            except AssertionError as failure:
                raise AssertionError(f"{state.value} + {name} after {prefix}: {failure}") from None


def test_the_table_names_real_handlers_and_the_samples_cover_it() -> None:
    run = Run(*_AGENT_RINGING[0])
    kinds = {event_kind(sample(run.agent_leg())) for sample in SAMPLES.values()}
    assert {kind for _, kind in TRANSITIONS} | {kind for _, kind in IGNORED} <= kinds
    assert all(callable(getattr(Callback, handler, None)) for handler, _ in TRANSITIONS.values())
    assert not set(TRANSITIONS) & IGNORED
    assert set(PREFIXES) == set(State)
    # Only a callback waiting for its call's time can have the time moved.
    assert RESCHEDULABLE == {State.SCHEDULED}


# -- examples of each branch ------------------------------------------------------------


def same(commands: list[Command], *expected: Command) -> None:
    """The same commands in any order, but the record is closed last."""
    assert Counter(commands) == Counter(expected), commands
    closes = [i for i, c in enumerate(commands) if isinstance(c, CloseRecord)]
    assert closes in ([], [len(commands) - 1])


def ringing_agent() -> Run:
    run = Run(REQ, P_RING, P_ANS, ROUTED, GOT_CODE, N1, A1_RING)
    assert run.cb.state is State.AGENT_RINGING
    return run


def connected(*more: Event) -> Run:
    run = Run(*_BRIDGING[0], Bridged(), *more)
    assert run.cb.state is State.CONNECTED
    return run


def test_request_dials_the_person_with_a_ring_timer() -> None:
    run = Run()
    same(run.send(REQ), NotifyPerson(notice=Notice.CALLING),
         Dial(leg=PERSON_LEG, number="+34600000001", caller_id="+34910000000",
              ring_timeout=30.0),
         StartTimer(timer="ring:person", delay=30.0))
    assert run.send(P_RING) == [] and run.cb.state is State.PERSON_RINGING


@pytest.mark.parametrize("reason, outcome, notice", [
    (FailReason.BUSY, Outcome.PERSON_BUSY, Notice.BUSY),
    (FailReason.NO_ANSWER, Outcome.PERSON_NO_ANSWER, Notice.NO_ANSWER),
    (FailReason.REJECTED, Outcome.PERSON_REJECTED, Notice.REJECTED),
    (FailReason.INVALID_NUMBER, Outcome.PERSON_INVALID_NUMBER, Notice.INVALID_NUMBER),
    (FailReason.NO_TRUNK, Outcome.NO_TRUNK, Notice.NO_TRUNK),
])
def test_person_not_reached_is_told_why_and_no_agent_is_disturbed(
        reason: FailReason, outcome: Outcome, notice: Notice) -> None:
    run = Run(REQ, P_RING)
    same(run.send(LegFailed(leg=PERSON_LEG, reason=reason)),
         NotifyPerson(notice=notice), CancelTimer(timer="ring:person"),
         CloseRecord(outcome=outcome))
    assert run.cb.outcome is outcome and run.cb.notices == [Notice.CALLING, notice]
    assert run.ledger.held() == {}


def test_person_ring_timer_hangs_up_the_person_leg() -> None:
    run = Run(REQ, P_RING)
    same(run.send(TimerFired(timer="ring:person")), NotifyPerson(notice=Notice.NO_ANSWER),
         Hangup(leg=PERSON_LEG, reason="person_no_answer"),
         CloseRecord(outcome=Outcome.PERSON_NO_ANSWER))
    assert run.ledger.held() == {}


def test_person_answers_then_route_code_and_first_terminal() -> None:
    run = Run(REQ, P_RING)
    same(run.send(P_ANS), CancelTimer(timer="ring:person"),
         NotifyPerson(notice=Notice.CONNECTING), FindRoute(service_code="loans"))
    same(run.send(ROUTED), AllocateCode())
    same(run.send(GOT_CODE), SeizeTerminal(centre="north", exclude=frozenset()))
    same(run.send(N1), Dial(leg="agent-1", number="n1", caller_id=CODE, ring_timeout=15.0),
         StartTimer(timer="ring:agent-1", delay=15.0))
    assert (run.cb.centre, run.cb.terminal, run.cb.code) == ("north", "n1", CODE)


def test_no_centre_for_the_service_is_no_agent() -> None:
    run = Run(REQ, P_ANS)
    same(run.send(RouteFound(route=NOWHERE)), NotifyPerson(notice=Notice.NO_AGENT),
         Hangup(leg=PERSON_LEG, reason="no_agent"), CloseRecord(outcome=Outcome.NO_AGENT))
    assert run.cb.outcome is Outcome.NO_AGENT and run.ledger.held() == {}


def test_codes_exhausted_ends_the_call_politely() -> None:
    run = Run(REQ, P_ANS, ROUTED)
    same(run.send(CodesExhausted()), NotifyPerson(notice=Notice.UNAVAILABLE),
         Hangup(leg=PERSON_LEG, reason="no_code"), CloseRecord(outcome=Outcome.NO_CODE))


@pytest.mark.parametrize("reason", [FailReason.BUSY, FailReason.INVALID_NUMBER])
def test_busy_terminal_tries_the_next_terminal_of_the_same_centre(reason: FailReason) -> None:
    run = ringing_agent()
    same(run.send(LegFailed(leg="agent-1", reason=reason)), CancelTimer(timer="ring:agent-1"),
         ReleaseTerminal(terminal="n1"), SeizeTerminal(centre="north", exclude=frozenset({"n1"})))
    same(run.send(N2), Dial(leg="agent-2", number="n2", caller_id=CODE, ring_timeout=15.0),
         StartTimer(timer="ring:agent-2", delay=15.0))
    assert run.cb.failovers == 0 and run.cb.terminals_dialled == ["n1", "n2"]
    # Both desk phones of the centre tried: the next is asked to skip them both.
    same(run.send(LegFailed(leg="agent-2", reason=FailReason.BUSY)),
         CancelTimer(timer="ring:agent-2"), ReleaseTerminal(terminal="n2"),
         SeizeTerminal(centre="north", exclude=frozenset({"n1", "n2"})))


def test_agent_ring_timeout_fails_over_to_the_next_centre() -> None:
    run = ringing_agent()
    same(run.send(TimerFired(timer="ring:agent-1")), Hangup(leg="agent-1", reason="no_answer"),
         ReleaseTerminal(terminal="n1"), SeizeTerminal(centre="south", exclude=frozenset()))
    same(run.send(S1), Dial(leg="agent-2", number="s1", caller_id=CODE, ring_timeout=20.0),
         StartTimer(timer="ring:agent-2", delay=20.0))
    assert (run.cb.failovers, run.cb.centre) == (1, "south")


@pytest.mark.parametrize("reason", [FailReason.NO_ANSWER, FailReason.REJECTED])
def test_agent_not_answering_fails_over_to_the_next_centre(reason: FailReason) -> None:
    run = ringing_agent()
    same(run.send(LegFailed(leg="agent-1", reason=reason)), CancelTimer(timer="ring:agent-1"),
         ReleaseTerminal(terminal="n1"), SeizeTerminal(centre="south", exclude=frozenset()))
    assert run.cb.failovers == 1


def test_no_free_terminal_fails_over_to_the_next_centre() -> None:
    run = Run(REQ, P_ANS, ROUTED, GOT_CODE)
    same(run.send(NoFreeTerminal()), SeizeTerminal(centre="south", exclude=frozenset()))


def test_all_centres_failing_tells_the_person_and_hangs_up_politely() -> None:
    run = ringing_agent()
    run.play(TimerFired(timer="ring:agent-1"), S1, LegRinging(leg="agent-2"))
    same(run.send(LegFailed(leg="agent-2", reason=FailReason.REJECTED)),
         CancelTimer(timer="ring:agent-2"), ReleaseTerminal(terminal="s1"),
         NotifyPerson(notice=Notice.NO_AGENT), Hangup(leg=PERSON_LEG, reason="no_agent"),
         ReleaseCode(code=CODE), CloseRecord(outcome=Outcome.NO_AGENT))
    assert run.cb.outcome is Outcome.NO_AGENT and run.cb.notices[-1] is Notice.NO_AGENT
    assert run.ledger.held() == {}


def test_no_trunk_for_the_agent_ends_the_call() -> None:
    run = ringing_agent()
    same(run.send(LegFailed(leg="agent-1", reason=FailReason.NO_TRUNK)),
         CancelTimer(timer="ring:agent-1"), ReleaseTerminal(terminal="n1"),
         NotifyPerson(notice=Notice.NO_TRUNK), Hangup(leg=PERSON_LEG, reason="no_trunk"),
         ReleaseCode(code=CODE), CloseRecord(outcome=Outcome.NO_TRUNK))


def test_person_hanging_up_while_the_agent_rings_cancels_the_agent_leg() -> None:
    run = ringing_agent()
    same(run.send(LegHungUp(leg=PERSON_LEG)), NotifyPerson(notice=Notice.ENDED),
         CancelTimer(timer="ring:agent-1"), Hangup(leg="agent-1", reason="person_abandoned"),
         ReleaseTerminal(terminal="n1"), ReleaseCode(code=CODE),
         CloseRecord(outcome=Outcome.PERSON_ABANDONED))
    assert run.cb.ended_by is Role.PERSON and run.ledger.held() == {}
    assert run.send(LegFailed(leg="agent-1", reason=FailReason.NO_ANSWER)) == []  # 487 late


def test_agent_answers_then_bridge_room_and_the_person_joins() -> None:
    run = ringing_agent()
    same(run.send(A1_ANS), CancelTimer(timer="ring:agent-1"),
         Bridge(person_leg=PERSON_LEG, agent_leg="agent-1"))
    assert run.cb.state is State.BRIDGING
    same(run.send(Bridged()), NotifyPerson(notice=Notice.CONNECTED),
         CreateRoom(template="advisor", code=CODE))
    same(run.send(ROOM), NotifyPerson(notice=Notice.ROOM_READY, room="room-1"),
         JoinRoom(room="room-1", who=Role.PERSON))
    assert run.cb.room_open and run.cb.room_routing == "rooms-a"
    assert run.send(JoinedRoom(who=Role.PERSON)) == []


def test_a_bridge_that_fails_ends_the_call_with_its_own_outcome() -> None:
    """Both answered, but a phone never took the other's media (no answer to the
    re-INVITE): both legs are hung up and everything goes back, never a wrong outcome."""
    run = ringing_agent()
    run.send(A1_ANS)
    same(run.send(BridgeFailed(reason="no answer to the re-INVITE")),
         NotifyPerson(notice=Notice.UNAVAILABLE), Hangup(leg=PERSON_LEG, reason="bridge_failed"),
         Hangup(leg="agent-1", reason="bridge_failed"), ReleaseTerminal(terminal="n1"),
         ReleaseCode(code=CODE), CloseRecord(outcome=Outcome.BRIDGE_FAILED))
    assert run.cb.outcome is Outcome.BRIDGE_FAILED and run.ledger.held() == {}


def test_a_stopping_system_ends_a_connected_call_politely() -> None:
    run = Run(*_BRIDGING[0], Bridged(), ROOM)
    same(run.send(SystemStopping()),
         NotifyPerson(notice=Notice.UNAVAILABLE, room="room-1"),
         Hangup(leg=PERSON_LEG, reason="system_restart"),
         Hangup(leg="agent-1", reason="system_restart"), ReleaseTerminal(terminal="n1"),
         DeleteRoom(room="room-1"), ReleaseCode(code=CODE),
         CloseRecord(outcome=Outcome.SYSTEM_RESTART))
    assert run.ledger.held() == {}


def test_code_entered_before_the_room_exists_joins_the_agent_when_it_opens() -> None:
    run = Run(*_BRIDGING[0])
    assert run.send(ENTERED) == []
    run.send(Bridged())
    same(run.send(ROOM), NotifyPerson(notice=Notice.ROOM_READY, room="room-1"),
         JoinRoom(room="room-1", who=Role.PERSON), JoinRoom(room="room-1", who=Role.AGENT))


def test_code_entered_after_the_room_exists_joins_the_agent_once() -> None:
    run = connected(ROOM)
    assert run.send(ENTERED) == [JoinRoom(room="room-1", who=Role.AGENT)]
    assert run.send(ENTERED) == []


def test_wrong_code_lets_no_one_in_and_the_agent_may_try_again() -> None:
    run = connected()
    assert run.send(AgentEnteredCode(code="9999")) == []
    same(run.send(ROOM), NotifyPerson(notice=Notice.ROOM_READY, room="room-1"),
         JoinRoom(room="room-1", who=Role.PERSON))
    assert run.send(AgentEnteredCode(code="0043")) == []
    assert run.send(ENTERED) == [JoinRoom(room="room-1", who=Role.AGENT)]
    assert run.cb.state is State.CONNECTED


@pytest.mark.parametrize("who, other", [(PERSON_LEG, "agent-1"), ("agent-1", PERSON_LEG)])
def test_either_side_hanging_up_ends_a_connected_call(who: str, other: str) -> None:
    run = connected(ROOM, ENTERED)
    same(run.send(LegHungUp(leg=who)), NotifyPerson(notice=Notice.ENDED, room="room-1"),
         Hangup(leg=other, reason="connected"), ReleaseTerminal(terminal="n1"),
         DeleteRoom(room="room-1"), ReleaseCode(code=CODE),
         CloseRecord(outcome=Outcome.CONNECTED))
    assert run.cb.ended_by is (Role.PERSON if who == PERSON_LEG else Role.AGENT)
    assert run.ledger.held() == {}
    assert run.send(LegHungUp(leg=other)) == []             # the BYEs crossed


def test_room_refused_keeps_the_call_audio_only() -> None:
    run = connected()
    same(run.send(RoomRefused(reason="full")), NotifyPerson(notice=Notice.ROOM_UNAVAILABLE))
    assert run.send(ENTERED) == [] and run.cb.room_refused
    ended = run.send(LegHungUp(leg=PERSON_LEG))
    assert not [c for c in ended if isinstance(c, DeleteRoom)]
    assert run.ledger.held() == {}


def test_agent_hanging_up_before_the_bridge_is_no_agent() -> None:
    run = Run(*_BRIDGING[0])
    same(run.send(LegHungUp(leg="agent-1")), NotifyPerson(notice=Notice.NO_AGENT),
         Hangup(leg=PERSON_LEG, reason="no_agent"), ReleaseTerminal(terminal="n1"),
         ReleaseCode(code=CODE), CloseRecord(outcome=Outcome.NO_AGENT))
    assert run.cb.ended_by is Role.AGENT
    assert run.send(Bridged()) == []                        # the PBX's late news


def test_late_resources_after_the_end_go_straight_back() -> None:
    run = connected()                                        # room asked for, not there yet
    ended = run.send(LegHungUp(leg=PERSON_LEG))
    assert not [c for c in ended if isinstance(c, DeleteRoom)]
    assert run.send(ROOM) == [DeleteRoom(room="room-1")]
    assert run.send(CodeAllocated(code="0077")) == [ReleaseCode(code="0077")]
    assert run.send(TerminalSeized(terminal="n3")) == [ReleaseTerminal(terminal="n3")]
    assert run.ledger.held() == {}
    with pytest.raises(CallAlreadyEnded):
        run.cb.handle(REQ, run.now)


@pytest.mark.parametrize("prefix", [_AGENT_RINGING[0], _AGENT_RINGING[3]], ids=["ringing", "failover"])
def test_code_typed_while_the_desk_phone_rings_does_not_end_the_call(prefix: Prefix) -> None:
    run = Run(*prefix)
    run.send(ENTERED)
    assert run.cb.state is State.AGENT_RINGING


def test_an_ended_call_has_no_open_room() -> None:
    run = connected(ROOM)
    ended = run.send(LegHungUp(leg=PERSON_LEG))
    assert DeleteRoom(room="room-1") in ended
    assert not run.cb.room_open


def test_a_second_room_for_the_same_call_is_deleted() -> None:
    run = connected(ROOM)
    assert run.send(RoomCreated(room="room-2")) == [DeleteRoom(room="room-2")]
    assert run.cb.room == "room-1" and run.cb.room_open


# -- the callback policy: retries, schedules, cancel, duplicates ------------------------------


def test_a_busy_person_is_called_again_by_the_policy_until_they_answer() -> None:
    run = Run(RETRY, REQ)
    same(run.send(BUSY), CancelTimer(timer="ring:person"), FindDialTime(
        service_code="loans", person_number="+34600000001", not_before=2.0 + 120.0, attempt=2))
    assert run.cb.state is State.SCHEDULING and run.cb.attempts[0].outcome == "person_busy"
    same(run.send(DialTimeFound(at=122.0)), NotifyPerson(notice=Notice.RETRY_LATER),
         StartTimer(timer="dial", delay=119.0))
    assert run.cb.next_attempt_at == 122.0
    same(run.send(TimerFired(timer="dial")), NotifyPerson(notice=Notice.CALLING),
         Dial(leg="person-2", number="+34600000001", caller_id="+34910000000", ring_timeout=30.0),
         StartTimer(timer="ring:person-2", delay=30.0))
    run.send(LegAnswered(leg="person-2"))
    assert run.cb.state is State.ROUTING and [a.leg for a in run.cb.attempts] == ["person", "person-2"]
    run.play(ROUTED, GOT_CODE, N1)
    assert Bridge(person_leg="person-2", agent_leg="agent-1") in run.send(A1_ANS)


def test_the_last_attempt_ends_the_callback_with_its_own_outcome() -> None:
    run = Run(RETRY, REQ, BUSY, LATER, TimerFired(timer="dial"),
              LegFailed(leg="person-2", reason=FailReason.BUSY), DialTimeFound(at=3700.0),
              TimerFired(timer="dial"))
    commands = run.send(LegFailed(leg="person-3", reason=FailReason.BUSY))
    assert commands[-1] == CloseRecord(outcome=Outcome.PERSON_BUSY)
    assert [a.outcome for a in run.cb.attempts] == ["person_busy"] * 3
    assert run.ledger.held() == {}


def test_no_call_starts_past_give_up_after() -> None:
    run = Run(RETRY, REQ, BUSY)
    commands = run.send(DialTimeFound(at=8000.0))            # requested at 1, gives up at 7201
    assert commands == [NotifyPerson(notice=Notice.BUSY), CloseRecord(outcome=Outcome.PERSON_BUSY)]


def test_a_no_agent_retry_lets_everything_go_between_the_calls() -> None:
    run = Run(RETRY, REQ, P_ANS, ROUTED, GOT_CODE, N1, A1_RING)
    commands = run.send(TimerFired(timer="ring:agent-1"))    # north rang out: south next
    commands = run.send(S1)
    run.send(LegRinging(leg="agent-2"))
    commands = run.send(TimerFired(timer="ring:agent-2"))    # nobody: the call is over
    assert Hangup(leg=PERSON_LEG, reason="no_agent") in commands
    assert ReleaseCode(code=CODE) in commands and run.cb.state is State.SCHEDULING
    assert run.ledger.held() == {}


def test_a_scheduled_request_waits_for_its_time_and_books_it() -> None:
    run = Run()
    same(run.send(AT_15), FindDialTime(service_code="loans", person_number="+34600000001",
                                       not_before=900.0, attempt=1, scheduled=True))
    same(run.send(DialTimeFound(at=900.0)), NotifyPerson(notice=Notice.SCHEDULED),
         StartTimer(timer="dial", delay=898.0))


@pytest.mark.parametrize("prefix", [(TIMED,), (TIMED, LATER), (REQ,), (REQ, P_RING)],
                         ids=["scheduling", "scheduled", "dialling", "ringing"])
def test_a_cancel_before_the_person_answers_stops_everything(prefix: Prefix) -> None:
    run = Run(*prefix)
    commands = run.send(CancelRequested())
    assert commands[0] == NotifyPerson(notice=Notice.CANCELLED)
    assert commands[-1] == CloseRecord(outcome=Outcome.CANCELLED)
    assert run.ledger.held() == {}


def test_a_cancel_after_the_person_answered_lets_the_call_go_on_without_a_retry() -> None:
    run = Run(RETRY, REQ, P_ANS)
    assert run.send(CancelRequested()) == []
    run.play(RouteFound(route=NOWHERE))
    assert run.cb.outcome is Outcome.NO_AGENT                # ended: no retry after a cancel


def test_a_duplicate_ends_at_once() -> None:
    run = Run()
    same(run.send(CallbackRequested(service_code="loans", person_number="+34600000001",
                                    duplicate_of="cb-0")), CloseRecord(outcome=Outcome.DUPLICATE))
    assert run.cb.duplicate_of == "cb-0"
