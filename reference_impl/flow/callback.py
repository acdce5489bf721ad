"""One callback as a sans-IO state machine: `handle(event, now) -> commands`.

The machine never sleeps, reads a clock or touches a socket: time comes in as
`now`, timers go out as `StartTimer`/`CancelTimer` and come back as
`TimerFired`. The same code runs under SimPy (the emulator) and asyncio (the
real system). Which handler runs for which (state, event) pair is decided by
the table in `_state.py`, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from . import commands as c
from . import events as e
from ._state import CODE_ACCEPTED, IGNORED, REPLY_KINDS, TRANSITIONS, State
from ._types import (DIAL_TIMER, PERSON_LEG, CallbackPolicy, FailReason, FlowEnum, Notice,
                     Outcome, Role, ServiceRoute, agent_leg, person_leg, queue_timer, ring_timer,
                     role_of)
from .errors import CallAlreadyEnded, FlowError, OutOfTurn, UnexpectedEvent, UnknownLeg


class LegState(FlowEnum):
    """Where one leg of the call is, as the flow has heard it."""

    DIALLING = "dialling"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class RoomState(FlowEnum):
    """Where the callback's video room is: asked for, open, refused or deleted."""

    NONE = "none"
    CREATING = "creating"
    OPEN = "open"
    REFUSED = "refused"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a callback's timeline."""

    at: float
    what: str
    detail: str = ""

    def __reduce__(self) -> tuple[type[Step], tuple[float, str, str]]:
        """Pickled through `__init__`: compiled, a frozen class refuses the usual restore."""
        return Step, (self.at, self.what, self.detail)


_PERSON_FAILURES: dict[FailReason, tuple[Outcome, Notice]] = {
    FailReason.BUSY: (Outcome.PERSON_BUSY, Notice.BUSY),
    FailReason.NO_ANSWER: (Outcome.PERSON_NO_ANSWER, Notice.NO_ANSWER),
    FailReason.REJECTED: (Outcome.PERSON_REJECTED, Notice.REJECTED),
    FailReason.INVALID_NUMBER: (Outcome.PERSON_INVALID_NUMBER, Notice.INVALID_NUMBER),
    FailReason.NO_TRUNK: (Outcome.NO_TRUNK, Notice.NO_TRUNK),
}

# What the person is told when an outcome ends the callback (giving up on retries).
_NOTICE_OF: dict[Outcome, Notice] = {
    **{outcome: notice for outcome, notice in _PERSON_FAILURES.values()},
    Outcome.NO_AGENT: Notice.NO_AGENT, Outcome.PERSON_ABANDONED: Notice.ENDED}

# A busy or unknown desk phone says nothing about the centre: try its next terminal.
_NEXT_TERMINAL = frozenset({FailReason.BUSY, FailReason.INVALID_NUMBER})

# The stage each role's joining marks (Enum's `value` is a Python property: read once here).
_IN_ROOM: dict[Role, str] = {role: f"{role.value}_in_room" for role in Role}

_LEG_VERBS: dict[type[e.LegEvent], str] = {
    e.LegRinging: "ringing", e.LegAnswered: "answered",
    e.LegFailed: "failed", e.LegHungUp: "hung_up",
}


def event_kind(event: e.Event) -> str:
    """The key of an event in the transition table."""
    if isinstance(event, e.LegEvent):
        return _leg_kind(_LEG_VERBS[type(event)], event.leg)
    if isinstance(event, e.TimerFired):
        return _timer_kind(event.timer)
    return type(event).__name__


# Kinds are looked up once per event: the few leg and timer names of a run are
# remembered rather than their strings built again every time.
@lru_cache(maxsize=4096)
def _leg_kind(verb: str, leg: str) -> str:
    return f"{role_of(leg).value}_{verb}"


@lru_cache(maxsize=4096)
def _timer_kind(timer: str) -> str:
    if timer == DIAL_TIMER:
        return "dial_timer"
    kind, _, name = timer.partition(":")
    return "queue_timer" if kind == "queue" else f"{role_of(name).value}_ring_timer"


@dataclass(slots=True)
class Attempt:
    """One call to the person: its leg, when it was dialled, how and when it ended."""

    leg: str
    dialled: float
    outcome: str | None = None       # the outcome of this call (the callback's, if last)
    ended: float | None = None

    def __init__(self, leg: str, dialled: float, outcome: str | None = None,
                 ended: float | None = None) -> None:
        self.leg = leg
        self.dialled = dialled
        self.outcome = outcome
        self.ended = ended


class Callback:
    """The call flow of one callback, from the form to the end of the call."""

    def __init__(self, callback_id: str, *, person_ring_timeout: float,
                 caller_id: str = "", keep_timeline: bool = True,
                 policy: CallbackPolicy | None = None) -> None:
        """`policy`: retries and their bound (None: one call, as without a policy)."""
        self.callback_id = callback_id
        self.policy = policy
        self.attempts: list[Attempt] = []   # every call to the person, in order
        self.next_attempt_at: float | None = None   # when the next call is due, if waiting
        self.duplicate_of: str | None = None
        self._person_leg = PERSON_LEG
        self._scheduled = False             # the person asked for a time
        self._cancelled = False
        self.person_ring_timeout = person_ring_timeout
        self.caller_id = caller_id          # what the person's phone shows
        self.state = State.IDLE
        self.outcome: Outcome | None = None
        self.service_code = ""
        self.person_number = ""
        self.route: ServiceRoute | None = None
        self.centre: str | None = None      # the centre dialled last
        self.terminal: str | None = None    # the desk phone dialled last
        self.terminals_dialled: list[str] = []
        self.code: str | None = None
        self.room: str | None = None
        self.room_routing: str | None = None
        self.failovers = 0
        self.ended_by: Role | None = None
        self.agent: str | None = None      # the agent who typed the code, when known
        self.legs: dict[str, LegState] = {}
        self.timers: set[str] = set()
        self.times: dict[str, float] = {}   # stage -> first time reached
        self.timeline: list[Step] = []
        self._keep_timeline = keep_timeline   # off in load runs: only stage times are needed
        self.notices: list[Notice] = []
        self._centre_index = -1
        self._tried: set[str] = set()       # terminals tried at the current centre
        self._centre_marks: set[str] = set()
        self._agent_leg: str | None = None
        self._terminal_held: str | None = None
        self._queued_at: str | None = None     # the centre whose queue we are in
        self._queue_deadline = 0.0
        self._code_held = False
        self._room_state = RoomState.NONE
        self._agent_has_code = False
        self._now = 0.0

    # -- the one entry point -------------------------------------------------

    def handle(self, event: e.Event, now: float) -> list[c.Command]:
        """Feed one event at time `now`; returns the commands the driver must carry out.

        An event the state does not allow raises a `FlowError`; the call is then
        over, and the error's `commands` are the clean-up still to be done.
        """
        self._now = now
        if isinstance(event, e.LegEvent):
            leg = self.legs.get(event.leg)
            if leg is None:
                raise self._abort(UnknownLeg, f"no leg {event.leg!r} in this callback")
            if leg is LegState.ENDED:
                return []                   # news of a leg we already let go
            kind = _leg_kind(_LEG_VERBS[type(event)], event.leg)
        elif isinstance(event, e.TimerFired):
            if event.timer not in self.timers:
                return []                   # cancelled, or fired already
            self.timers.discard(event.timer)
            kind = _timer_kind(event.timer)
        else:
            kind = type(event).__name__
        handler = _HANDLERS.get((self.state, kind))
        if handler is None:
            if (self.state, kind) in IGNORED:
                return []
            raise self._refuse(kind)
        return handler(self, event)

    @property
    def ended(self) -> bool:
        """Whether the callback has reached its terminal state."""
        return self.state is State.ENDED

    @property
    def accepts_code(self) -> bool:
        """Whether a typed connection code would let the agent in now."""
        return self.state in CODE_ACCEPTED

    @property
    def code_held(self) -> bool:
        """Whether the callback still holds its connection code."""
        return self._code_held

    @property
    def person_leg(self) -> str:
        """The leg of the latest call to the person (`person`, `person-2`, ...)."""
        return self._person_leg

    @property
    def room_open(self) -> bool:
        """Whether the video room is open (created and not yet deleted)."""
        return self._room_state is RoomState.OPEN

    @property
    def room_refused(self) -> bool:
        """Whether no room server could open the room: the call goes on, audio only."""
        return self._room_state is RoomState.REFUSED

    # -- errors --------------------------------------------------------------

    def _refuse(self, kind: str) -> FlowError:
        if self.state is State.ENDED and kind == "CallbackRequested":
            return CallAlreadyEnded(f"callback {self.callback_id} has ended")
        cls = OutOfTurn if kind in REPLY_KINDS else UnexpectedEvent
        # A reply out of turn (a code or terminal we never asked for) is the
        # driver's to take back: releasing it here could free another call's.
        return self._abort(cls, f"{kind} is not expected in state {self.state.value}")

    def _abort(self, cls: type[FlowError], message: str) -> FlowError:
        message = f"callback {self.callback_id}: {message}"
        if self.state is State.ENDED:
            return cls(message)
        self._log("error", message)
        return cls(message, self._end(Outcome.ERROR, Notice.UNAVAILABLE))

    # -- bookkeeping ---------------------------------------------------------

    # Callers whose detail costs something to build (f-strings, enum values) test
    # `_keep_timeline` first: a load run keeps no timeline and builds no text.
    def _log(self, what: str, detail: str = "") -> None:
        if self._keep_timeline:
            self.timeline.append(Step(self._now, what, detail))

    def _mark(self, stage: str) -> None:
        self.times.setdefault(stage, self._now)

    def _notify(self, notice: Notice, room: str | None = None) -> c.NotifyPerson:
        self.notices.append(notice)
        return c.NotifyPerson(notice=notice, room=room)

    def _dial(self, leg: str, number: str, caller_id: str, ring_timeout: float) -> list[c.Command]:
        self.legs[leg] = LegState.DIALLING
        timer = ring_timer(leg)
        self.timers.add(timer)
        return [c.Dial(leg=leg, number=number, caller_id=caller_id, ring_timeout=ring_timeout),
                c.StartTimer(timer=timer, delay=ring_timeout)]

    def _stop_ring_timer(self, leg: str) -> list[c.Command]:
        timer = ring_timer(leg)
        if timer not in self.timers:
            return []
        self.timers.discard(timer)
        return [c.CancelTimer(timer=timer)]

    def _release_terminal(self) -> list[c.Command]:
        terminal, self._terminal_held = self._terminal_held, None
        return [c.ReleaseTerminal(terminal=terminal)] if terminal else []

    def _end(self, outcome: Outcome, notice: Notice | None) -> list[c.Command]:
        """Reach the terminal state: tell the person, let every resource go."""
        out: list[c.Command] = [self._notify(notice, self.room)] if notice else []
        out += self._let_go(outcome)
        if self.attempts and self.attempts[-1].outcome is None:
            self.attempts[-1].outcome, self.attempts[-1].ended = outcome._value_, self._now
        self.next_attempt_at = None
        self.outcome = outcome
        self.times.setdefault("ended", self._now)
        if self._keep_timeline:
            self._log("ended", outcome.value)
        self.state = State.ENDED
        out.append(c.CloseRecord(outcome=outcome))
        return out

    def _let_go(self, outcome: Outcome) -> list[c.Command]:
        """Cancel every timer, hang up every leg, give back terminal, queue, room and code."""
        out: list[c.Command] = []
        if self.timers:
            out += [c.CancelTimer(timer=t) for t in sorted(self.timers)]
            self.timers.clear()
        for leg, state in self.legs.items():
            if state is not LegState.ENDED:
                self.legs[leg] = LegState.ENDED
                out.append(c.Hangup(leg=leg, reason=outcome._value_))
        if self._terminal_held:
            out += self._release_terminal()
        if self._queued_at is not None:
            out += self._leave_queue()
        if self._room_state is RoomState.OPEN and self.room:
            self._room_state = RoomState.DELETED
            out.append(c.DeleteRoom(room=self.room))
        if self._code_held and self.code:
            self._code_held = False
            out.append(c.ReleaseCode(code=self.code))
        return out

    # -- the person's leg ----------------------------------------------------

    def _requested(self, ev: e.CallbackRequested) -> list[c.Command]:
        self.service_code, self.person_number = ev.service_code, ev.person_number
        self.times.setdefault("requested", self._now)
        if self._keep_timeline:
            self._log("requested", f"service {ev.service_code}, number {ev.person_number}")
        if ev.duplicate_of:
            self.duplicate_of = ev.duplicate_of
            self._log("duplicate", f"of callback {ev.duplicate_of}")
            return self._end(Outcome.DUPLICATE, None)
        if ev.timed or ev.schedule_at is not None:
            self._scheduled = ev.schedule_at is not None
            return self._find_dial_time(ev.schedule_at if ev.schedule_at is not None
                                        else self._now)
        return self._call_person()

    def _call_person(self) -> list[c.Command]:
        """The next call to the person: a new leg, its own ring timer."""
        attempt = len(self.attempts) + 1
        self._person_leg = leg = person_leg(attempt)
        self.attempts.append(Attempt(leg, self._now))
        self.next_attempt_at = None
        self.state = State.DIALLING_PERSON
        return [self._notify(Notice.CALLING),
                *self._dial(leg, self.person_number, self.caller_id, self.person_ring_timeout)]

    def _find_dial_time(self, not_before: float) -> list[c.Command]:
        # The earliest time until the calendar answers: a record stored meanwhile (a crash
        # in between) still says when the person may be called, not "at once".
        self.next_attempt_at = not_before
        self.state = State.SCHEDULING
        return [c.FindDialTime(service_code=self.service_code, person_number=self.person_number,
                               not_before=not_before, attempt=len(self.attempts) + 1,
                               scheduled=self._scheduled and not self.attempts)]

    def _dial_time_found(self, ev: e.DialTimeFound) -> list[c.Command]:
        give_up = self.policy.give_up_after if self.policy else None
        if self.attempts and give_up is not None and ev.at > self.times["requested"] + give_up:
            self._log("no more calls", f"the next would start after {give_up:g}s")
            last = self.attempts[-1].outcome or Outcome.ERROR.value
            return self._end(Outcome(last), _NOTICE_OF.get(Outcome(last), Notice.UNAVAILABLE))
        if ev.at <= self._now:
            return self._call_person()
        self.next_attempt_at = ev.at
        if not self.attempts:
            self.times.setdefault("scheduled", self._now)     # waits for its first call
        self.timers.add(DIAL_TIMER)
        self.state = State.SCHEDULED
        self._log("next call", f"at {ev.at:g}s")
        notice = Notice.RETRY_LATER if self.attempts else Notice.SCHEDULED
        return [self._notify(notice), c.StartTimer(timer=DIAL_TIMER, delay=ev.at - self._now)]

    def _dial_due(self, ev: e.TimerFired) -> list[c.Command]:
        return self._call_person()

    def _reschedule(self, ev: e.RescheduleRequested) -> list[c.Command]:
        self._log("new time asked", f"{ev.at:g}s")
        self.timers.discard(DIAL_TIMER)
        self._scheduled = True                   # the person's own time: it books a slot
        return [c.CancelTimer(timer=DIAL_TIMER), *self._find_dial_time(max(ev.at, self._now))]

    def _attempt_over(self, outcome: Outcome, notice: Notice | None) -> list[c.Command]:
        """This call to the person is over without an agent: try again later, by the
        policy, or end the callback."""
        attempt = self.attempts[-1] if self.attempts else None
        if attempt is not None:
            attempt.outcome, attempt.ended = outcome._value_, self._now
        rule = self.policy.rule(outcome) if self.policy is not None else None
        if rule is None or self._cancelled or len(self.attempts) >= rule.attempts:
            return self._end(outcome, notice)
        self._log("call again", f"after {outcome.value}, in {rule.after:g}s")
        out = self._let_go(outcome)
        self._reset_attempt()
        return out + self._find_dial_time(self._now + rule.after)

    def _reset_attempt(self) -> None:
        """What one call to the person held is let go: the next one starts afresh."""
        self.route, self._centre_index = None, -1
        self._tried, self._centre_marks = set(), set()
        self._agent_leg = None
        self._agent_has_code = False
        self._room_state = RoomState.NONE

    def _cancel(self, ev: e.CancelRequested) -> list[c.Command]:
        self._log("cancelled by the person")
        if self.attempts and self.attempts[-1].outcome is None:
            self.attempts[-1].outcome, self.attempts[-1].ended = "cancelled", self._now
        return self._end(Outcome.CANCELLED, Notice.CANCELLED)

    def _cancel_noted(self, ev: e.CancelRequested) -> list[c.Command]:
        self._cancelled = True
        self._log("cancel asked after the person answered: the call goes on, no retry after")
        return []

    def _person_ringing(self, ev: e.LegRinging) -> list[c.Command]:
        self.legs[ev.leg] = LegState.RINGING
        self.times.setdefault("person_ringing", self._now)
        self._log("person ringing")
        self.state = State.PERSON_RINGING
        return []

    def _person_answered(self, ev: e.LegAnswered) -> list[c.Command]:
        self.legs[ev.leg] = LegState.ANSWERED
        self.times.setdefault("person_ringing", self._now)        # answered at once counts as rung then
        self.times.setdefault("person_answered", self._now)
        self._log("person answered")
        self.state = State.ROUTING
        return [*self._stop_ring_timer(ev.leg), self._notify(Notice.CONNECTING),
                c.FindRoute(service_code=self.service_code)]

    def _person_failed(self, ev: e.LegFailed) -> list[c.Command]:
        self.legs[ev.leg] = LegState.ENDED
        if self._keep_timeline:
            self._log("person not reached", ev.reason.value)
        return self._attempt_over(*_PERSON_FAILURES[ev.reason])

    def _person_rang_out(self, ev: e.TimerFired) -> list[c.Command]:
        self._log("person ring timeout", f"{self.person_ring_timeout:g}s")
        return self._attempt_over(Outcome.PERSON_NO_ANSWER, Notice.NO_ANSWER)

    def _person_abandoned(self, ev: e.LegHungUp) -> list[c.Command]:
        self.legs[ev.leg] = LegState.ENDED
        self.ended_by = Role.PERSON
        self._log("person hung up", "before an agent was connected")
        return self._attempt_over(Outcome.PERSON_ABANDONED, Notice.ENDED)

    # -- finding an agent ----------------------------------------------------

    def _route_found(self, ev: e.RouteFound) -> list[c.Command]:
        self.route = ev.route
        if self._keep_timeline:
            names = ", ".join(centre.name for centre in ev.route.centres)
            self._log("route", names or "no centre serves this service")
        if not ev.route.centres:
            return self._attempt_over(Outcome.NO_AGENT, Notice.NO_AGENT)
        self.state = State.ALLOCATING_CODE
        return [c.AllocateCode()]

    def _code_allocated(self, ev: e.CodeAllocated) -> list[c.Command]:
        self.code, self._code_held = ev.code, True
        self._log("code allocated", ev.code)
        return self._try_centre(0)

    def _codes_exhausted(self, ev: e.CodesExhausted) -> list[c.Command]:
        self._log("no connection code free")
        return self._attempt_over(Outcome.NO_CODE, Notice.UNAVAILABLE)

    def _try_centre(self, index: int) -> list[c.Command]:
        assert self.route is not None
        if index >= len(self.route.centres):
            self._log("no centre left")
            return self._attempt_over(Outcome.NO_AGENT, Notice.NO_AGENT)
        if index > 0:
            self.failovers += 1
        self._centre_index = index
        self.centre = self.route.centres[index].name
        self._tried = set()
        self._centre_marks = set()
        self._log("centre", self.centre)
        return self._seize()

    def _seize(self) -> list[c.Command]:
        assert self.centre is not None
        self.state = State.SEIZING_TERMINAL
        return [c.SeizeTerminal(centre=self.centre, exclude=frozenset(self._tried))]

    def _terminal_seized(self, ev: e.TerminalSeized) -> list[c.Command]:
        assert self.route is not None and self.code is not None
        out = self._leave_queue_quietly()
        self._terminal_held = self.terminal = ev.terminal
        self._tried.add(ev.terminal)
        self.terminals_dialled.append(ev.terminal)
        self._agent_leg = leg = agent_leg(len(self.terminals_dialled))
        timeout = self.route.centres[self._centre_index].ring_timeout
        if self._keep_timeline:
            self._log("dial agent", f"{ev.terminal} at {self.centre}, caller ID {self.code}")
        self.state = State.DIALLING_AGENT
        return out + self._dial(leg, ev.terminal, self.code, timeout)

    def _leave_queue_quietly(self) -> list[c.Command]:
        """A terminal came to us from the queue: the driver took us out of it."""
        centre, self._queued_at = self._queued_at, None
        if centre is None:
            return []
        self.times.setdefault("dequeued", self._now)
        timer = queue_timer(centre)
        if timer not in self.timers:
            return []
        self.timers.discard(timer)
        return [c.CancelTimer(timer=timer)]

    def _no_free_terminal(self, ev: e.NoFreeTerminal) -> list[c.Command]:
        assert self.route is not None and self.centre is not None
        self._log("no free terminal", self.centre)
        max_wait = self.route.centres[self._centre_index].queue_max_wait
        if max_wait is None:
            return self._try_centre(self._centre_index + 1)
        if "queue_entered" not in self._centre_marks:
            self._centre_marks.add("queue_entered")
            self._queue_deadline = self._now + max_wait
        left = self._queue_deadline - self._now
        if left <= 0:
            return self._try_centre(self._centre_index + 1)
        self.times.setdefault("queued", self._now)
        timer = queue_timer(self.centre)
        self.timers.add(timer)
        self._queued_at = self.centre
        self._log("on hold", f"for a terminal at {self.centre}, up to {left:g}s")
        self.state = State.QUEUED
        return [c.AwaitTerminal(centre=self.centre), c.StartTimer(timer=timer, delay=left)]

    def _queue_timed_out(self, ev: e.TimerFired) -> list[c.Command]:
        self._log("gave up waiting", f"for a terminal at {self.centre}")
        return self._leave_queue() + self._try_centre(self._centre_index + 1)

    def _leave_queue(self) -> list[c.Command]:
        centre, self._queued_at = self._queued_at, None
        if centre is None:
            return []
        self.times.setdefault("dequeued", self._now)             # gave up, or hung up, on hold: the wait counts
        out: list[c.Command] = [c.LeaveQueue(centre=centre)]
        timer = queue_timer(centre)
        if timer in self.timers:
            self.timers.discard(timer)
            out.append(c.CancelTimer(timer=timer))
        return out

    def _agent_ringing(self, ev: e.LegRinging) -> list[c.Command]:
        self.legs[ev.leg] = LegState.RINGING
        self.times.setdefault("agent_ringing", self._now)
        self._log("agent ringing", self.terminal or "")
        self.state = State.AGENT_RINGING
        return []

    def _agent_failed(self, ev: e.LegFailed) -> list[c.Command]:
        self.legs[ev.leg] = LegState.ENDED
        if self._keep_timeline:
            self._log("agent not reached", f"{self.terminal}: {ev.reason.value}")
        out = [*self._stop_ring_timer(ev.leg), *self._release_terminal()]
        if ev.reason is FailReason.NO_TRUNK:
            return out + self._attempt_over(Outcome.NO_TRUNK, Notice.NO_TRUNK)
        if ev.reason in _NEXT_TERMINAL:
            return out + self._seize()
        return out + self._try_centre(self._centre_index + 1)

    def _agent_rang_out(self, ev: e.TimerFired) -> list[c.Command]:
        leg = ev.timer.partition(":")[2]
        self.legs[leg] = LegState.ENDED
        if self._keep_timeline:
            self._log("agent ring timeout", f"{self.terminal} at {self.centre}")
        out: list[c.Command] = [c.Hangup(leg=leg, reason="no_answer"), *self._release_terminal()]
        return out + self._try_centre(self._centre_index + 1)

    def _agent_answered(self, ev: e.LegAnswered) -> list[c.Command]:
        self.legs[ev.leg] = LegState.ANSWERED
        self.times.setdefault("agent_answered", self._now)
        if self._keep_timeline:
            self._log("agent answered", f"{self.terminal} at {self.centre}")
        self.state = State.BRIDGING
        return [*self._stop_ring_timer(ev.leg),
                c.Bridge(person_leg=self._person_leg, agent_leg=ev.leg)]

    def _agent_left_before_bridge(self, ev: e.LegHungUp) -> list[c.Command]:
        self.legs[ev.leg] = LegState.ENDED
        self.ended_by = Role.AGENT
        self._log("agent hung up", "before the bridge")
        return self._attempt_over(Outcome.NO_AGENT, Notice.NO_AGENT)

    def _system_stopping(self, ev: e.SystemStopping) -> list[c.Command]:
        self._log("the system is stopping")
        return self._end(Outcome.SYSTEM_RESTART, Notice.UNAVAILABLE)

    def _bridge_failed(self, ev: e.BridgeFailed) -> list[c.Command]:
        self._log("bridge failed", ev.reason)
        return self._end(Outcome.BRIDGE_FAILED, Notice.UNAVAILABLE)

    # -- connected -----------------------------------------------------------

    def _bridged(self, ev: e.Bridged) -> list[c.Command]:
        assert self.route is not None and self.code is not None
        self.times.setdefault("bridged", self._now)
        self._log("bridged")
        self.state = State.CONNECTED
        self._room_state = RoomState.CREATING
        return [self._notify(Notice.CONNECTED),
                c.CreateRoom(template=self.route.room_template, code=self.code)]

    def _code_entered(self, ev: e.AgentEnteredCode) -> list[c.Command]:
        if ev.code != self.code:
            self._log("wrong code entered", ev.code)  # the agent may try again
            return []
        if self._agent_has_code:
            return []
        self._agent_has_code = True
        self.agent = ev.agent or None
        self.times.setdefault("code_entered", self._now)
        self._log("agent entered the code", ev.agent)
        if self._room_state is RoomState.OPEN and self.room:
            return [c.JoinRoom(room=self.room, who=Role.AGENT)]
        return []

    def _code_too_early(self, ev: e.AgentEnteredCode) -> list[c.Command]:
        self._log("code entered before an agent answered: ignored", ev.code)
        return []

    def _room_created(self, ev: e.RoomCreated) -> list[c.Command]:
        if self._room_state is not RoomState.CREATING:
            self._log("a second room was created: deleted", ev.room)
            return [c.DeleteRoom(room=ev.room)]
        self.room, self._room_state = ev.room, RoomState.OPEN
        self.room_routing = ev.routing or None
        self.times.setdefault("room_created", self._now)
        self._log("room created", ev.room)
        out: list[c.Command] = [self._notify(Notice.ROOM_READY, ev.room),
                                c.JoinRoom(room=ev.room, who=Role.PERSON)]
        if self._agent_has_code:
            out.append(c.JoinRoom(room=ev.room, who=Role.AGENT))
        return out

    def _room_refused(self, ev: e.RoomRefused) -> list[c.Command]:
        self._room_state = RoomState.REFUSED
        self._log("room refused", ev.reason)
        return [self._notify(Notice.ROOM_UNAVAILABLE)]

    def _joined_room(self, ev: e.JoinedRoom) -> list[c.Command]:
        self._mark(_IN_ROOM[ev.who])
        if self._keep_timeline:
            self._log(f"{ev.who.value} joined the room", self.room or "")
        return []

    def _hung_up(self, ev: e.LegHungUp) -> list[c.Command]:
        self.legs[ev.leg] = LegState.ENDED
        self.ended_by = role_of(ev.leg)
        if self._keep_timeline:
            self._log(f"{self.ended_by.value} hung up")
        return self._end(Outcome.CONNECTED, Notice.ENDED)

    # -- resources that came back after the end ------------------------------

    def _late_room(self, ev: e.RoomCreated) -> list[c.Command]:
        self._log("room created after the end: deleted", ev.room)
        return [c.DeleteRoom(room=ev.room)]

    def _late_code(self, ev: e.CodeAllocated) -> list[c.Command]:
        return [c.ReleaseCode(code=ev.code)]

    def _late_terminal(self, ev: e.TerminalSeized) -> list[c.Command]:
        return [c.ReleaseTerminal(terminal=ev.terminal)]


# The table's handler names, resolved once to the methods they name.
_HANDLERS: dict[tuple[State, str], Callable[[Callback, Any], list[c.Command]]] = {
    key: getattr(Callback, name) for key, (name, _) in TRANSITIONS.items()}
