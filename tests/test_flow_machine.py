"""Many callbacks through one real `Switchboard`, driven by random interleavings.

A hypothesis `RuleBasedStateMachine` plays the world around the switchboard:
a PBX that only reports on legs it was asked to dial (ringing, answered,
failed for every reason, hung up, bridged), a room server that answers each
`create` once (created or refused) and each `join`, ring timers that fire,
agents typing right and wrong codes, late and duplicate news after the end,
and, in one rule of its own, events out of turn. Small code pools make codes
run out. The fake ports keep their own account of what is dialled, running,
open and held; the invariants compare it with the switchboard and its stores
after every step (STYLE.md, "Tests").
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule)

from reference_impl import flow as f
from reference_impl.codes import CodePool
from reference_impl.directory import Centre, Directory, Service
from reference_impl.records import MemoryRecords, SqliteRecords
from reference_impl.switchboard import Ports, Switchboard

CENTRES = {
    "north": Centre(name="north", terminals=("n1",), ring_timeout=15.0),
    "south": Centre(name="south", terminals=("s1", "s2", "s3"), ring_timeout=20.0),
    "east": Centre(name="east", terminals=("e1", "e2"), ring_timeout=10.0),
}
SERVICES = {
    "loans": Service(code="loans", centres=("north", "south"), room_template="advisor"),
    "cards": Service(code="cards", centres=("south", "east")),
    "travel": Service(code="travel", centres=("east",)),
    "closed": Service(code="closed", centres=()),               # no centre serves it
}
DIRECTORY = Directory(services=SERVICES, centres=CENTRES)
CENTRE_OF = DIRECTORY.terminal_owner()
LIVE_STATES = (f.State.DIALLING_PERSON, f.State.PERSON_RINGING, f.State.DIALLING_AGENT,
               f.State.AGENT_RINGING, f.State.BRIDGING, f.State.CONNECTED)
HOLDS_TERMINAL = {f.State.DIALLING_AGENT, f.State.AGENT_RINGING, f.State.BRIDGING,
                  f.State.CONNECTED}
LAST_NOTICES = {f.Notice.ENDED, f.Notice.BUSY, f.Notice.NO_ANSWER, f.Notice.REJECTED,
                f.Notice.INVALID_NUMBER, f.Notice.NO_AGENT, f.Notice.NO_TRUNK,
                f.Notice.UNAVAILABLE}
Leg = tuple[str, str]                                           # (callback id, leg)


# -- the world: fake ports that keep their own account --------------------------------


class FakePbx:
    """Legs as the PBX sees them: dialling, ringing, answered, ended."""

    def __init__(self) -> None:
        self.legs: dict[Leg, str] = {}
        self.bridges: list[str] = []         # Bridge asked, Bridged not yet reported
        self.calls = 0

    def dial(self, callback_id: str, leg: str, number: str, caller_id: str,
             ring_timeout: float) -> None:
        assert (callback_id, leg) not in self.legs, f"{leg} of {callback_id} dialled twice"
        self.legs[(callback_id, leg)] = "dialling"
        self.calls += 1

    def hangup(self, callback_id: str, leg: str, reason: str) -> None:
        assert self.legs[(callback_id, leg)] != "ended", f"hung up dead {leg} of {callback_id}"
        self.legs[(callback_id, leg)] = "ended"
        self.calls += 1

    def bridge(self, callback_id: str, person_leg: str, agent_leg: str) -> None:
        assert self.legs[(callback_id, person_leg)] == "answered"
        assert self.legs[(callback_id, agent_leg)] == "answered"
        self.bridges.append(callback_id)
        self.calls += 1


class FakeRooms:
    def __init__(self) -> None:
        self.creating: list[str] = []        # create asked, not answered yet
        self.joining: list[tuple[str, f.Role]] = []
        self.open: dict[str, str] = {}       # room -> callback id
        self.deleted: set[str] = set()
        self.joined_agents: set[str] = set()
        self.joined: set[tuple[str, f.Role]] = set()
        self.ended: set[str] = set()         # callbacks the port was told are over
        self.calls = 0

    def create(self, callback_id: str, template: str, code: str) -> None:
        self.creating.append(callback_id)
        self.calls += 1

    def join(self, callback_id: str, room: str, who: f.Role) -> None:
        assert self.open.get(room) == callback_id, f"join of {room}, not open for {callback_id}"
        assert (callback_id, who) not in self.joined, f"{who.value} joined {room} twice"
        self.joined.add((callback_id, who))
        self.joining.append((callback_id, who))
        if who is f.Role.AGENT:
            self.joined_agents.add(callback_id)
        self.calls += 1

    def call_ended(self, callback_id: str) -> None:
        assert callback_id not in self.ended, f"told twice that {callback_id} ended"
        self.ended.add(callback_id)

    def delete(self, room: str) -> None:
        assert room in self.open, f"deleted {room}, which is not open"
        del self.open[room]
        self.deleted.add(room)
        self.calls += 1


class FakeTimers:
    def __init__(self) -> None:
        self.alive: set[Leg] = set()         # (callback id, timer)
        self.cancelled: set[Leg] = set()
        self.calls = 0

    def start(self, callback_id: str, timer: str, delay: float) -> None:
        assert (callback_id, timer) not in self.alive
        self.alive.add((callback_id, timer))
        self.calls += 1

    def cancel(self, callback_id: str, timer: str) -> None:
        self.alive.remove((callback_id, timer))
        self.cancelled.add((callback_id, timer))
        self.calls += 1


class FakeNotifier:
    def __init__(self) -> None:
        self.notices: dict[str, list[f.Notice]] = {}

    def notify(self, callback_id: str, notice: f.Notice, room: str | None) -> None:
        self.notices.setdefault(callback_id, []).append(notice)


class TerminalWatch:
    """An observer: which desk phone each callback holds, from Dial and ReleaseTerminal."""

    def __init__(self) -> None:
        self.held: dict[str, str] = {}       # terminal -> callback id

    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        if isinstance(command, f.Dial) and command.leg != f.PERSON_LEG:
            assert command.number not in self.held, f"{command.number} held twice"
            self.held[command.number] = callback_id
        elif isinstance(command, f.ReleaseTerminal):
            assert self.held.pop(command.terminal) == callback_id


# -- the machine ----------------------------------------------------------------------------


class Callbacks(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.pbx, self.rooms, self.timers = FakePbx(), FakeRooms(), FakeTimers()
        self.notifier, self.watch = FakeNotifier(), TerminalWatch()
        self.flows: dict[str, f.Callback] = {}     # every callback ever requested
        self.errors: list[tuple[str, f.Event, f.FlowError]] = []
        self.checked: set[str] = set()             # closed callbacks whose record was read
        self.rooms_made = 0
        self.unruly: set[str] = set()
        self.spied: dict[str, f.Callback] = {}
        self.last_step: tuple[f.Callback, f.State, dict[str, f.LegState], set[str],
                              f.Event] | None = None

    @initialize(pool_size=st.integers(1, 4), store=st.sampled_from(["memory", "sqlite"]))
    def open_switchboard(self, pool_size: int, store: str) -> None:
        self.codes = [str(n) for n in range(10, 10 + pool_size)]
        self.records = MemoryRecords() if store == "memory" else SqliteRecords()
        ports = Ports(telephony=self.pbx, rooms=self.rooms, notifier=self.notifier,
                      timers=self.timers)
        self.sb = Switchboard(directory=DIRECTORY, codes=CodePool(digits=2, first=10,
                                                                  count=pool_size),
                              ports=ports, clock=lambda: self.now, records=self.records,
                              person_ring_timeout=30.0, observers=[self.watch, SimpleNamespace(
                                  event=self.on_event, refused=self.on_refused)])

    def teardown(self) -> None:
        if hasattr(self, "sb"):
            for callback_id in self.flows:
                assert self.records.get(callback_id) is not None
            if isinstance(self.records, SqliteRecords):
                self.records.close()

    # -- helpers --------------------------------------------------------------------------

    def deliver(self, callback_id: str, event: f.Event) -> None:
        self.now += 1.0
        self.sb.deliver(callback_id, event)
        self.check_last_step()

    def spy(self, cb: f.Callback) -> None:
        """Watch the callback's flow: every FlowError the switchboard swallows is kept, to
        tell them from legal steps, and every step is held to the table."""
        self.spied[cb.callback_id] = cb

    # Hooks of an observer of the switchboard: `event` comes before each event is handled and
    # `refused` when the flow raised; the step before is checked when the next begins.
    def on_event(self, callback_id: str, event: f.Event, now: float) -> None:
        self.check_last_step()
        cb = self.spied.get(callback_id)
        if cb is not None:
            self.last_step = (cb, cb.state, dict(cb.legs), set(cb.timers), event)

    def on_refused(self, callback_id: str, event: f.Event, error: f.FlowError,
                   now: float) -> None:
        if callback_id in self.spied:
            self.errors.append((callback_id, event, error))
            self.last_step = None

    def check_last_step(self) -> None:
        if self.last_step is not None:
            cb, before, legs, timers, event = self.last_step
            self.last_step = None
            self.held_to_the_table(before, legs, timers, event, cb.state)

    @staticmethod
    def held_to_the_table(before: f.State, legs: dict[str, f.LegState], timers: set[str],
                          event: f.Event, after: f.State) -> None:
        """A handler moved only to a state the table of `_state.py` names for it."""
        if isinstance(event, f.LegEvent) and legs.get(event.leg) is f.LegState.ENDED:
            assert after is before        # late news of a leg let go: no handler ran
            return
        if isinstance(event, f.TimerFired) and event.timer not in timers:
            assert after is before        # a cancelled timer: no handler ran
            return
        kind = f.event_kind(event)
        if (before, kind) in f.IGNORED:
            assert after is before
            return
        assert after in f.leads_to(before, kind), (
            f"{f.TRANSITIONS[(before, kind)][0]}: {before.value} -> {after.value}")

    def live_legs(self, *states: str) -> list[Leg]:
        return [leg for leg, state in self.pbx.legs.items()
                if state in states and leg[0] in self.sb.live]

    def closed(self) -> list[str]:
        return [cid for cid in self.flows if cid not in self.sb.live]

    def stale(self) -> list[tuple[str, f.Event]]:
        """News a real PBX or timer may still send about a live call: a leg already
        let go (487 after our CANCEL, BYEs crossing), a timer fired as it was cancelled."""
        news: list[tuple[str, f.Event]] = []
        for (cid, leg), state in self.pbx.legs.items():
            if state == "ended" and cid in self.sb.live:
                news += [(cid, f.LegHungUp(leg=leg)),
                         (cid, f.LegFailed(leg=leg, reason=f.FailReason.NO_ANSWER))]
        news += [(cid, f.TimerFired(timer=timer)) for cid, timer in sorted(self.timers.cancelled)
                 if cid in self.sb.live]
        return news

    def port_calls(self) -> tuple[int, int, int, int]:
        return (self.pbx.calls, self.rooms.calls, self.timers.calls,
                sum(map(len, self.notifier.notices.values())))

    # -- requests --------------------------------------------------------------------------

    @precondition(lambda self: len(self.sb.live) < 4)     # a few at once: they go deep
    @rule(service=st.sampled_from(sorted(SERVICES)), number=st.integers(0, 99),
          unruly=st.sampled_from([False, False, False, True]))
    def request(self, service: str, number: int, unruly: bool) -> None:
        """A form is sent; an unruly call's world may also send news out of turn."""
        self.now += 1.0
        cid = self.sb.request({"service": service, "name": "Ada"}, f"+346000000{number:02d}")
        assert cid not in self.flows
        self.flows[cid] = cb = self.sb.live[cid]
        assert cb.state is f.State.DIALLING_PERSON
        assert self.pbx.legs[(cid, f.PERSON_LEG)] == "dialling"
        self.spy(cb)
        if unruly:
            self.unruly.add(cid)

    # -- the PBX ---------------------------------------------------------------------------

    def unanswered(self) -> list[Leg]:
        return self.live_legs("dialling", "ringing")

    def pbx_says(self, leg: Leg, state: str, event: f.Event) -> None:
        self.pbx.legs[leg] = state
        self.deliver(leg[0], event)

    @precondition(lambda self: self.unanswered())
    @rule(data=st.data())
    def leg_rings(self, data: st.DataObject) -> None:
        cid, leg = data.draw(st.sampled_from(self.unanswered()), label="leg")
        self.pbx_says((cid, leg), "ringing", f.LegRinging(leg=leg))   # may be a second 180

    @precondition(lambda self: self.unanswered())
    @rule(data=st.data())
    def leg_answers(self, data: st.DataObject) -> None:
        cid, leg = data.draw(st.sampled_from(self.unanswered()), label="leg")
        self.pbx_says((cid, leg), "answered", f.LegAnswered(leg=leg))
        cb = self.flows[cid]
        if leg == f.PERSON_LEG:
            assert cb.state in (f.State.DIALLING_AGENT, f.State.ENDED)
            assert cb.outcome in (None, f.Outcome.NO_AGENT, f.Outcome.NO_CODE)
        else:
            assert cb.state is f.State.BRIDGING and self.pbx.bridges[-1] == cid

    @precondition(lambda self: self.unanswered())
    @rule(data=st.data(), reason=st.sampled_from(f.FailReason))
    def leg_fails(self, data: st.DataObject, reason: f.FailReason) -> None:
        cid, leg = data.draw(st.sampled_from(self.unanswered()), label="leg")
        terminals = len(self.flows[cid].terminals_dialled)
        self.pbx_says((cid, leg), "ended", f.LegFailed(leg=leg, reason=reason))
        cb = self.flows[cid]
        if leg == f.PERSON_LEG or reason is f.FailReason.NO_TRUNK:
            assert cb.ended and cb.outcome is not f.Outcome.ERROR
        elif not cb.ended:                  # another desk phone rings, here or elsewhere
            assert cb.state is f.State.DIALLING_AGENT
            assert len(cb.terminals_dialled) == terminals + 1

    @precondition(lambda self: self.live_legs("answered"))
    @rule(data=st.data())
    def far_end_hangs_up(self, data: st.DataObject) -> None:
        cid, leg = data.draw(st.sampled_from(self.live_legs("answered")), label="leg")
        was = self.flows[cid].state
        self.pbx.legs[(cid, leg)] = "ended"
        self.deliver(cid, f.LegHungUp(leg=leg))
        assert cid not in self.sb.live
        if was is f.State.CONNECTED:
            expected = f.Outcome.CONNECTED
        else:
            expected = f.Outcome.PERSON_ABANDONED if leg == f.PERSON_LEG else f.Outcome.NO_AGENT
        assert self.flows[cid].outcome is expected

    @precondition(lambda self: self.pbx.bridges)
    @rule(data=st.data())
    def pbx_bridged(self, data: st.DataObject) -> None:
        cid = self.pbx.bridges.pop(data.draw(st.integers(0, len(self.pbx.bridges) - 1)))
        live = cid in self.sb.live
        self.deliver(cid, f.Bridged())
        if live:
            assert self.flows[cid].state is f.State.CONNECTED
            assert self.rooms.creating.count(cid) == 1

    def running_timers(self) -> list[Leg]:
        return sorted(t for t in self.timers.alive if t[0] in self.sb.live)

    @precondition(lambda self: self.running_timers())
    @rule(data=st.data())
    def ring_timer_fires(self, data: st.DataObject) -> None:
        cid, timer = data.draw(st.sampled_from(self.running_timers()), label="timer")
        self.timers.alive.remove((cid, timer))
        self.deliver(cid, f.TimerFired(timer=timer))
        leg = timer.partition(":")[2]
        assert self.pbx.legs[(cid, leg)] == "ended", f"{leg} still up after its ring timer"

    def progressing(self) -> list[str]:
        return sorted({cid for cid, _ in self.unanswered()} | set(self.pbx.bridges)
                      | set(self.rooms.creating))

    @precondition(lambda self: self.progressing())
    @rule(data=st.data())
    def the_world_moves_on(self, data: st.DataObject) -> None:
        """The next step of a good day for one call: its phone answered, its legs
        bridged, its room opened (late news if the call has ended meanwhile)."""
        cid = data.draw(st.sampled_from(self.progressing()), label="callback")
        legs = [leg for c, leg in self.unanswered() if c == cid]
        if legs:
            self.pbx_says((cid, legs[0]), "answered", f.LegAnswered(leg=legs[0]))
        elif cid in self.pbx.bridges:
            self.pbx.bridges.remove(cid)
            self.deliver(cid, f.Bridged())
        else:
            self.rooms.creating.remove(cid)
            self.rooms_made += 1
            room = f"room-{self.rooms_made}"
            self.rooms.open[room] = cid
            self.deliver(cid, f.RoomCreated(room=room, routing="rooms-b"))

    # -- rooms and agents ------------------------------------------------------------------

    @precondition(lambda self: self.rooms.creating)
    @rule(data=st.data(), created=st.booleans())
    def room_server_answers(self, data: st.DataObject, created: bool) -> None:
        cid = self.rooms.creating.pop(data.draw(st.integers(0, len(self.rooms.creating) - 1)))
        live = cid in self.sb.live
        if not created:
            self.deliver(cid, f.RoomRefused(reason="full"))
            return
        self.rooms_made += 1
        room = f"room-{self.rooms_made}"
        self.rooms.open[room] = cid
        self.deliver(cid, f.RoomCreated(room=room, routing="rooms-a"))
        if live:
            assert (cid, f.Role.PERSON) in self.rooms.joining
        else:
            assert room in self.rooms.deleted, "a room made for an ended call was kept"

    @precondition(lambda self: self.rooms.joining)
    @rule(data=st.data())
    def someone_joined(self, data: st.DataObject) -> None:
        cid, who = self.rooms.joining.pop(
            data.draw(st.integers(0, len(self.rooms.joining) - 1)))
        self.deliver(cid, f.JoinedRoom(who=who))

    def code_holders(self) -> list[f.Callback]:
        return [cb for cb in self.sb.live.values()
                if cb.code_held and cb.state in (f.State.BRIDGING, f.State.CONNECTED)]

    @precondition(lambda self: self.code_holders())
    @rule(data=st.data())
    def agent_enters_the_right_code(self, data: st.DataObject) -> None:
        cb = data.draw(st.sampled_from(self.code_holders()), label="callback")
        assert cb.code is not None
        self.now += 1.0
        assert self.sb.enter_code(cb.code)
        if cb.room_open:
            assert cb.callback_id in self.rooms.joined_agents

    @rule(data=st.data())
    def agent_enters_a_wrong_code(self, data: st.DataObject) -> None:
        free = [code for code in self.codes if self.sb.codes.owner(code) is None]
        code = data.draw(st.sampled_from(free + ["", "00", "999", "abc"]), label="code")
        before = self.port_calls()
        assert not self.sb.enter_code(code)
        assert self.port_calls() == before

    # -- late, duplicate and out-of-turn news -------------------------------------------------

    @precondition(lambda self: self.closed())
    @rule(data=st.data())
    def news_after_the_end(self, data: st.DataObject) -> None:
        cid = data.draw(st.sampled_from(self.closed()), label="callback")
        cb = self.flows[cid]
        legs = sorted(leg for c, leg in self.pbx.legs if c == cid)
        leg = data.draw(st.sampled_from(legs), label="leg")
        late: list[f.Event] = [
            f.LegHungUp(leg=leg), f.LegFailed(leg=leg, reason=f.FailReason.NO_ANSWER),
            f.LegAnswered(leg=leg), f.LegRinging(leg=leg), f.Bridged(),
            f.RoomRefused(reason="late"), f.JoinedRoom(who=f.Role.AGENT),
            f.AgentEnteredCode(code=cb.code or "10"), f.TimerFired(timer=f.ring_timer(leg)),
            f.RoomCreated(room="late-room")]
        event = data.draw(st.sampled_from(late), label="event")
        if isinstance(event, f.RoomCreated):
            self.rooms_made += 1
            event = f.RoomCreated(room=f"room-{self.rooms_made}")
            self.rooms.open[event.room] = cid
        before, late_events = self.port_calls(), self.sb.late_events
        self.deliver(cid, event)
        assert self.sb.late_events == late_events + 1
        if isinstance(event, f.RoomCreated):
            assert event.room in self.rooms.deleted
        else:
            assert self.port_calls() == before

    @precondition(lambda self: self.stale())
    @rule(data=st.data())
    def stale_news_of_a_live_call(self, data: st.DataObject) -> None:
        cid, event = data.draw(st.sampled_from(self.stale()), label="news")
        cb = self.flows[cid]
        state, steps, before = cb.state, len(cb.timeline), self.port_calls()
        self.deliver(cid, event)
        assert (cb.state, len(cb.timeline), self.port_calls()) == (state, steps, before)

    def out_of_turn(self, cb: f.Callback) -> list[f.Event]:
        """Events the callback's state does not allow (by the table of `_state.py`)."""
        route = DIRECTORY.route(cb.service_code)
        candidates: list[f.Event] = [
            f.LegAnswered(leg="agent-99"), f.LegHungUp(leg="agent-99"),
            f.CallbackRequested(service_code="loans", person_number="+34600000000"),
            f.RouteFound(route=route), f.CodeAllocated(code="77"), f.CodesExhausted(),
            f.TerminalSeized(terminal="e2"), f.NoFreeTerminal(), f.Bridged(),
            f.RoomCreated(room="bogus"), f.RoomRefused(reason="?"),
            f.JoinedRoom(who=f.Role.PERSON)]
        for leg, state in cb.legs.items():
            if state is not f.LegState.ENDED:
                candidates += [f.LegRinging(leg=leg), f.LegAnswered(leg=leg),
                               f.LegHungUp(leg=leg),
                               f.LegFailed(leg=leg, reason=f.FailReason.BUSY)]
        return [event for event in candidates
                if (isinstance(event, f.LegEvent) and event.leg not in cb.legs)
                or ((cb.state, f.event_kind(event)) not in f.TRANSITIONS
                    and (cb.state, f.event_kind(event)) not in f.IGNORED)]

    def unruly_calls(self) -> list[str]:
        return sorted(self.unruly & set(self.sb.live))

    @precondition(lambda self: self.unruly_calls())
    @rule(data=st.data())
    def event_out_of_turn(self, data: st.DataObject) -> None:
        cid = data.draw(st.sampled_from(self.unruly_calls()), label="callback")
        cb = self.flows[cid]
        event = data.draw(st.sampled_from(self.out_of_turn(cb)), label="event")
        self.deliver(cid, event)
        assert [(c, e) for c, e, _ in self.errors] == [(cid, event)]
        error = self.errors.pop()[2]
        expected: type[f.FlowError] = f.UnexpectedEvent
        if isinstance(event, f.LegEvent) and event.leg not in cb.legs:
            expected = f.UnknownLeg
        elif isinstance(event, (f.Reply, f.CallbackRequested)):
            expected = f.OutOfTurn
        assert type(error) is expected
        assert cid not in self.sb.live and cb.state is f.State.ENDED
        assert cb.outcome is f.Outcome.ERROR
        assert isinstance(error.commands[-1], f.CloseRecord)
        # the clean-up itself is checked by the invariants below

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def no_error_from_legal_news(self) -> None:
        self.check_last_step()
        assert not self.errors, f"legal news raised {self.errors}"

    @invariant()
    def one_record_per_callback(self) -> None:
        if not hasattr(self, "sb"):
            return
        assert len(self.records) == len(self.flows)
        for cid in self.closed():
            if cid in self.checked:
                continue
            record, cb = self.records.get(cid), self.flows[cid]
            assert record is not None and record.state == "ended"
            assert cb.outcome is not None and record.outcome == cb.outcome.value
            assert self.notifier.notices[cid][-1] in LAST_NOTICES
            self.checked.add(cid)
        assert all(cb.state in LIVE_STATES for cb in self.sb.live.values())

    @invariant()
    def the_rooms_port_hears_of_every_end(self) -> None:
        if not hasattr(self, "sb"):
            return
        assert self.rooms.ended == set(self.closed())

    @invariant()
    def codes_belong_to_live_calls_only(self) -> None:
        if not hasattr(self, "sb"):
            return
        held = [cb.code for cb in self.sb.live.values() if cb.code_held]
        assert all(n == 1 for n in Counter(held).values()), f"code shared: {held}"
        for code in self.codes:
            owner = self.sb.codes.owner(code)
            if owner is not None:
                cb = self.sb.live.get(owner)
                assert cb is not None, f"code {code} held by ended callback {owner}"
                assert cb.code_held and cb.code == code
        assert self.sb.codes.in_use == len(held)
        for cid in self.closed():
            assert not self.flows[cid].code_held

    @invariant()
    def rooms_open_only_for_connected_calls(self) -> None:
        if not hasattr(self, "sb"):
            return
        for room, cid in self.rooms.open.items():
            cb = self.sb.live.get(cid)
            assert cb is not None, f"{room} left open by ended callback {cid}"
            assert cb.state is f.State.CONNECTED and cb.room == room and cb.room_open
        assert len(set(self.rooms.open.values())) == len(self.rooms.open)

    @invariant()
    def timers_run_only_for_live_calls(self) -> None:
        if not hasattr(self, "sb"):
            return
        for cid, timer in self.timers.alive:
            assert cid in self.sb.live, f"{timer} still running for ended callback {cid}"
        for cid, cb in self.sb.live.items():
            assert {t for c, t in self.timers.alive if c == cid} == cb.timers

    @invariant()
    def legs_of_ended_calls_are_down(self) -> None:
        if not hasattr(self, "sb"):
            return
        for (cid, leg), state in self.pbx.legs.items():
            cb = self.flows[cid]
            if cid in self.sb.live:
                assert cb.legs[leg].value == state, f"{leg} of {cid}: {cb.legs[leg]} vs {state}"
            else:
                assert state == "ended", f"{leg} of ended callback {cid} is {state}"
        for cid, cb in self.flows.items():
            assert set(cb.legs) == {leg for c, leg in self.pbx.legs if c == cid}

    @invariant()
    def terminals_held_by_live_calls_only(self) -> None:
        if not hasattr(self, "sb"):
            return
        for terminal, cid in self.watch.held.items():
            assert cid in self.sb.live, f"{terminal} still held by ended callback {cid}"
            assert self.sb.live[cid].terminal == terminal
        for centre in CENTRES:
            mine = sum(CENTRE_OF[t] == centre for t in self.watch.held)
            assert self.sb.terminals.busy(centre) == mine
        holders = Counter(self.watch.held.values())
        for cid, cb in self.sb.live.items():
            assert holders[cid] == (1 if cb.state in HOLDS_TERMINAL else 0), (cid, cb.state)


Callbacks.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_callbacks = Callbacks.TestCase


# -- examples the machine found worth keeping, and a bug of the switchboard ---------------------


def switchboard(**kwargs: Any) -> tuple[Switchboard, MemoryRecords, FakePbx]:
    pbx, records = FakePbx(), MemoryRecords()
    ports = Ports(telephony=pbx, rooms=FakeRooms(), notifier=FakeNotifier(),
                  timers=FakeTimers())
    sb = Switchboard(directory=DIRECTORY, codes=CodePool(digits=2, first=10, count=1),
                     ports=ports, clock=lambda: 0.0, records=records, **kwargs)
    return sb, records, pbx


def answer(sb: Switchboard, pbx: FakePbx, cid: str, leg: str) -> None:
    pbx.legs[(cid, leg)] = "answered"
    sb.deliver(cid, f.LegAnswered(leg=leg))


def connect(sb: Switchboard, pbx: FakePbx, cid: str) -> None:
    answer(sb, pbx, cid, f.PERSON_LEG)
    answer(sb, pbx, cid, "agent-1")
    sb.deliver(cid, f.Bridged())


def test_a_code_freed_by_an_ended_call_goes_to_the_next_one() -> None:
    sb, records, pbx = switchboard()
    first, second = (sb.request({"service": "cards"}, "+34600000001") for _ in range(2))
    connect(sb, pbx, first)
    answer(sb, pbx, second, f.PERSON_LEG)
    refused = records.get(second)
    assert refused is not None and refused.outcome == "no_code"
    assert sb.live[first].terminal == "s1"
    pbx.legs[(first, "agent-1")] = "ended"
    sb.deliver(first, f.LegHungUp(leg="agent-1"))
    third = sb.request({"service": "cards"}, "+34600000003")
    connect(sb, pbx, third)
    assert sb.live[third].code == "10" and sb.live[third].terminal == "s1"


def test_every_request_keeps_its_own_record() -> None:
    sb, records, pbx = switchboard()
    sb.request({"service": "loans"}, "+34600000001", callback_id="1")
    sb.deliver("1", f.LegFailed(leg=f.PERSON_LEG, reason=f.FailReason.BUSY))
    pbx.legs.clear()                                          # the PBX forgets ended calls
    try:
        sb.request({"service": "loans"}, "+34600000002")      # automatic id "1" again
    except ValueError:
        pass                                                  # refusing it is fine too
    first = records.get("1")
    assert first is not None and first.outcome == "person_busy", first


def test_the_stored_record_of_a_live_call_says_whom_to_call() -> None:
    sb, records, _ = switchboard()
    cid = sb.request({"service": "loans"}, "+34600000001")
    stored = records.get(cid)
    assert stored is not None
    assert (stored.person_number, stored.service_code) == ("+34600000001", "loans")


def test_a_code_or_desk_phone_that_reaches_an_ended_call_goes_back() -> None:
    """A reply still queued for a callback that closed (a desk phone handed on from the
    queue, a code) is given back by the switchboard, not dropped with the callback."""
    sb, records, pbx = switchboard()
    cid = sb.request({"service": "cards"}, "+34600000001")
    sb.deliver(cid, f.LegFailed(leg=f.PERSON_LEG, reason=f.FailReason.BUSY))
    assert cid not in sb.live
    terminal = sb.terminals.seize("south")
    code = sb.codes.allocate(cid)
    assert terminal is not None and sb.codes.in_use == 1 and sb.terminals.busy("south") == 1
    sb.deliver(cid, f.TerminalSeized(terminal=terminal))
    sb.deliver(cid, f.CodeAllocated(code=code))
    assert sb.codes.in_use == 0 and sb.terminals.busy("south") == 0
    assert sb.late_events == 2
