"""The switchboard: runs one `Callback` flow per request and carries out its commands.

It owns what is shared between callbacks (the directory, the connection-code
pool, the terminals our calls hold, the records) and hands everything timed
to the ports of its driver: the same switchboard runs under SimPy and asyncio.
Replies the flow asks for (route, code, terminal) are answered here at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from itertools import count
from typing import Any, Callable, Iterable, Mapping, Protocol

from . import flow as f
from .codes import CodePool, CodePoolExhausted
from .directory import Directory
from .ports import Clock, Notifier, Rooms, Telephony, Timers
from .records import CallbackRecord, RecordStore, record_of
from .terminals import TerminalPool


class Calendar(Protocol):
    """When people may be called: opening hours, holidays, slots, calling hours."""

    def dial_time(self, service_code: str, person_number: str, not_before: float, *,
                  scheduled: bool, callback_id: str) -> float:
        """The first time at or after `not_before` the person may be called (flow time);
        `scheduled`: a time the person asked for, so a slot is booked for the callback."""
    def release(self, callback_id: str) -> None:
        """The callback is over: its booked slot, if any, is free again."""


class Observer(Protocol):
    """Watches a switchboard: tracing, metrics, desk displays. Every method is optional.

    An observer that only cares for some kinds may say so in `events_watched`
    and `commands_watched` (tuples of classes): it is then told of those alone,
    and a load run pays nothing for the rest.
    """

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """An event about to be fed to the callback's flow."""
    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        """A command of the flow about to be carried out."""
    def closed(self, record: CallbackRecord) -> None:
        """A callback ended; `record` is final."""
    def changed(self, callback_id: str, was: f.State, now_in: f.State, event: f.Event,
                now: float) -> None:
        """A callback's flow moved from state `was` to `now_in` on `event`."""
    def refused(self, callback_id: str, event: f.Event, error: f.FlowError,
                now: float) -> None:
        """The callback's flow refused `event` (out of turn, unknown leg): the call ends."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Ports:
    """Where the switchboard's commands go (see `ports.py`)."""

    telephony: Telephony
    rooms: Rooms
    notifier: Notifier
    timers: Timers


class _Unplugged:
    """Stands in for every port until `Switchboard.plug`: any use says so."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the switchboard has no ports yet ({name}): wiring.wire plugs them")


_NO_PORT: Any = _Unplugged()
UNPLUGGED = Ports(telephony=_NO_PORT, rooms=_NO_PORT, notifier=_NO_PORT, timers=_NO_PORT)


Hook = Callable[..., None]


class _Hooks(dict[type, list[Hook]]):
    """Observers' hooks for one kind of news, by the class of what they are told.

    A dict of class -> hooks, filled on first use (`__missing__`): the loop
    looks a class up in C, with no Python call per event or command.
    """

    def __init__(self, name: str, watched: str) -> None:
        super().__init__()
        self.name, self.watched = name, watched
        self.any = False
        self._all: list[tuple[Hook, tuple[type, ...] | None]] = []

    def add(self, observer: object) -> None:
        """Take the observer's hook for this kind of news, if it has one."""
        hook = getattr(observer, self.name, None)
        if callable(hook):
            self._all.append((hook, getattr(observer, self.watched, None)))
            self.clear()
            self.any = True

    def __missing__(self, cls: type) -> list[Hook]:
        hooks = self[cls] = [hook for hook, classes in self._all
                             if classes is None or cls in classes]
        return hooks

    def of(self, cls: type) -> list[Hook]:
        """The hooks that want news of class `cls`, in the order they were added."""
        return self[cls]


class Switchboard:
    """Every live callback's flow, the resources they share, and the ports they use.

    Drivers call `request`, `enter_code` and `deliver`; pages and reports read
    through `holder`, `accepts_code`, `codes_in_use`, `live_ids`, `is_live`,
    `person_on_line` and `record`, never the flows themselves. Build one with
    `wiring.wire`, which plugs its ports in.
    """

    def __init__(self, *, directory: Directory, codes: CodePool, clock: Clock,
                 ports: Ports | None = None, records: RecordStore | None = None,
                 person_ring_timeout: float = 30.0, caller_id: str = "",
                 observers: Iterable[object] = (), save_every_step: bool = False,
                 timelines: bool = True, policy: f.CallbackPolicy | None = None,
                 calendar: Calendar | None = None, dedupe: bool = False) -> None:
        """`policy`: retries; `calendar`: when people may be called (None: always, at
        once); `dedupe`: one live or pending callback per number and service."""
        self.directory = directory
        self.codes = codes
        self.terminals = TerminalPool(directory)
        self.ports: Ports = UNPLUGGED if ports is None else ports   # until `plug`
        self.clock = clock
        self.records = records
        # Live pages read records as calls move on; a simulation only needs them at the ends.
        self.save_every_step = save_every_step
        self.timelines = timelines          # each callback's step-by-step timeline
        self.person_ring_timeout = person_ring_timeout
        self.caller_id = caller_id
        self.policy, self.calendar, self.dedupe = policy, calendar, dedupe
        # The wall-clock time (epoch seconds) of flow time 0, where the clock is a wall's:
        # records carry it, so a restarted system knows when a pending call is due.
        self.epoch: float | None = None
        self.live: dict[str, f.Callback] = {}
        self.late_events = 0                 # news about callbacks already closed
        self._forms: dict[str, Mapping[str, str]] = {}
        # Not started yet: service, number, and the time the person asked for.
        self._accepted: dict[str, tuple[str, str, float | None]] = {}
        self._numbers: dict[tuple[str, str], str] = {}   # (number, service) -> its callback
        self._ids = count(1)
        self._queue: deque[tuple[str, f.Event]] = deque()
        # Callbacks on hold for a terminal, per centre, first come first served.
        self._holding: dict[str, dict[str, None]] = {name: {} for name in directory.centres}
        self._busy = False
        self._events = _Hooks("event", "events_watched")
        self._commands = _Hooks("command", "commands_watched")
        self._on_closed: list[Hook] = []
        self._on_changed: list[Hook] = []
        self._on_refused: list[Hook] = []
        for observer in observers:
            self.watch(observer)
        # Each runner takes the command type it is registered for (no isinstance check per command).
        self._run: dict[type[f.Command], Callable[[f.Callback, Any], None]] = {
            f.Dial: self._dial, f.Hangup: self._hangup, f.Bridge: self._bridge,
            f.StartTimer: self._start_timer, f.CancelTimer: self._cancel_timer,
            f.FindRoute: self._find_route, f.AllocateCode: self._allocate_code,
            f.FindDialTime: self._find_dial_time,
            f.ReleaseCode: self._release_code, f.SeizeTerminal: self._seize_terminal,
            f.ReleaseTerminal: self._release_terminal, f.AwaitTerminal: self._await_terminal,
            f.LeaveQueue: self._leave_queue, f.CreateRoom: self._create_room,
            f.JoinRoom: self._join_room, f.DeleteRoom: self._delete_room,
            f.NotifyPerson: self._notify, f.CloseRecord: self._close,
        }

    # -- what drivers call ---------------------------------------------------

    def request(self, form: Mapping[str, str], person_number: str,
                callback_id: str | None = None, schedule_at: float | None = None) -> str:
        """Start a callback; raises `directory.UnknownService` for a bad form.

        A callback id is never used twice: a given one that is taken raises
        `ValueError`, an automatic one skips the taken ones. `schedule_at`: the
        person asked to be called then (flow time).
        """
        service_code = self.directory.service_code(form)
        if callback_id is None:
            callback_id = str(next(self._ids))
            while self._taken(callback_id):
                callback_id = str(next(self._ids))
        elif self._taken(callback_id):
            raise ValueError(f"callback id {callback_id} is already used")
        self._open(callback_id, form, service_code, person_number, schedule_at)
        self.start(callback_id)
        return callback_id

    def accept(self, form: Mapping[str, str], person_number: str, callback_id: str,
               schedule_at: float | None = None) -> str:
        """Take a request without starting it: its record (state `idle`) goes to the store,
        and `start` dials once the store has it, so an acknowledged request is never
        lost (a restart dials an `idle` one). `callback_id` must be new (the web's are
        random); raises `directory.UnknownService` for a bad form."""
        service_code = self.directory.service_code(form)
        if callback_id in self.live:
            raise ValueError(f"callback id {callback_id} is already used")
        callback = self._open(callback_id, form, service_code, person_number, schedule_at)
        if self.records is not None:
            record = record_of(callback, form, epoch=self.epoch)
            # The time asked for is part of what was acknowledged: a restart that finds
            # the request still `idle` calls then, not at once.
            self.records.put(record if schedule_at is None
                             else replace(record, next_attempt_at=schedule_at))
        return callback_id

    def _open(self, callback_id: str, form: Mapping[str, str], service_code: str,
              person_number: str, schedule_at: float | None) -> f.Callback:
        callback = f.Callback(callback_id, person_ring_timeout=self.person_ring_timeout,
                              caller_id=self.caller_id, keep_timeline=self.timelines,
                              policy=self.policy)
        self.live[callback_id] = callback
        self._forms[callback_id] = form
        self._accepted[callback_id] = (service_code, person_number, schedule_at)
        return callback

    def start(self, callback_id: str) -> str:
        """Start an accepted request; the id of the callback that will call the person:
        its own, or, for a duplicate (`dedupe`), the one already live or pending."""
        service_code, person_number, schedule_at = self._accepted.pop(callback_id)
        callback = self.live[callback_id]
        key = (person_number, service_code)
        first = self._numbers.get(key) if self.dedupe else None
        if first is None and self.dedupe:
            self._numbers[key] = callback_id
        self.deliver(callback_id, f.CallbackRequested(
            service_code=service_code, person_number=person_number,
            timed=self.calendar is not None, schedule_at=schedule_at,
            duplicate_of=first or ""))
        if self.records is not None and not callback.ended:
            # Stored as soon as it is under way; closed calls were stored by CloseRecord.
            self.records.put(record_of(callback, self._forms[callback_id], epoch=self.epoch))
        return first or callback_id

    def resume(self, record: CallbackRecord, due: float) -> str:
        """A pending callback brought back after a restart, under its own id: its calls so
        far kept, the next one at `due` (flow time; at once if past). The calling id."""
        callback = self._open(record.id, record.form, record.service_code,
                              record.person_number, max(due, self.clock()))
        callback.attempts = [f.Attempt(a.leg, a.dialled, a.outcome, a.ended)
                             for a in record.attempts]
        return self.start(record.id)

    def next_call(self, callback_id: str) -> float | None:
        """When the next call of a waiting callback is due, in epoch seconds (None: not
        waiting, or a clock that is not a wall's)."""
        callback = self.live.get(callback_id)
        if callback is None or callback.next_attempt_at is None or self.epoch is None:
            return None
        return self.epoch + callback.next_attempt_at

    def pending(self) -> list[str]:
        """The callbacks waiting for the time of their next call (scheduled, retrying)."""
        return [cid for cid, cb in self.live.items()
                if cb.state is f.State.SCHEDULED or cb.state is f.State.SCHEDULING]

    def cancel(self, callback_id: str) -> bool:
        """The person cancels: nothing more is dialled (see the flow); False if the
        callback is not live."""
        if callback_id not in self.live or callback_id in self._accepted:
            return False
        self.deliver(callback_id, f.CancelRequested())
        return True

    def reschedule(self, callback_id: str, at: float) -> bool:
        """The person asks for another time (flow time) for the call they wait for: the
        calendar places it again (hours, slots); False unless the callback is waiting
        for a scheduled call or a retry."""
        callback = self.live.get(callback_id)
        if callback is None or callback.state not in f.RESCHEDULABLE:
            return False
        self.deliver(callback_id, f.RescheduleRequested(at=at))
        return True

    def withdraw(self, callback_id: str, why: str) -> None:
        """Drop an accepted request that was never started (the caller was told so)."""
        self._accepted.pop(callback_id)
        callback = self.live.pop(callback_id)
        form = self._forms.pop(callback_id)
        if self.records is not None:
            record = record_of(callback, form, epoch=self.epoch)
            self.records.put(replace(record, state="ended", outcome=f.Outcome.ERROR.value,
                                     timeline=(*record.timeline, f.Step(self.clock(), "withdrawn",
                                                                        why))))

    def accepted(self) -> list[str]:
        """The requests accepted and not started yet."""
        return list(self._accepted)

    def _taken(self, callback_id: str) -> bool:
        return callback_id in self.live or (
            self.records is not None and self.records.get(callback_id) is not None)

    def enter_code(self, code: str, agent: str = "") -> bool:
        """An agent (named, when the page knows who) typed `code`; False if no live call
        holds it."""
        owner = self.holder(code)
        if owner is None:
            return False
        self.deliver(owner, f.AgentEnteredCode(code=code, agent=agent))
        return True

    def deliver(self, callback_id: str, event: f.Event) -> None:
        """Feed an event to a callback's flow; re-entrant calls are queued.

        The replies the flow's commands bring (a route, a code, a terminal)
        arrive while we are busy and wait in the queue, so every flow sees its
        events one at a time and in order.
        """
        queue = self._queue
        if self._busy:
            queue.append((callback_id, event))
            return
        self._busy = True
        try:
            self._step(callback_id, event)
            while queue:
                self._step(*queue.popleft())
        finally:
            self._busy = False

    def staff(self, centre: str, agents: int) -> None:
        """Agents on duty at `centre` from now on (a shift changes): more serve its callers on
        hold at once; fewer finish the calls they have and take no new one."""
        self.terminals.set_on_duty(centre, agents)
        self._serve_holding(centre)

    def plug(self, ports: Ports) -> None:
        """Give the switchboard its ports (once: `wiring.wire` does it)."""
        self.ports = ports

    def watch(self, observer: object) -> None:
        """Add an observer (see `Observer`): whichever of its hooks it has."""
        self._events.add(observer)
        self._commands.add(observer)
        for name, hooks in (("closed", self._on_closed), ("changed", self._on_changed),
                            ("refused", self._on_refused)):
            hook = getattr(observer, name, None)
            if callable(hook):
                hooks.append(hook)

    # -- what pages and reports read -----------------------------------------

    def holder(self, code: str) -> str | None:
        """The live callback that holds connection code `code`, if any."""
        owner = self.codes.owner(code)
        return owner if owner in self.live else None

    def accepts_code(self, code: str) -> bool:
        """Whether an agent typing `code` now would join a call (its agent has answered)."""
        owner = self.holder(code)
        return owner is not None and self.live[owner].accepts_code

    def codes_in_use(self) -> list[str]:
        """The connection codes live callbacks hold, sorted."""
        return sorted(cb.code for cb in self.live.values() if cb.code and cb.code_held)

    def codes_free(self) -> int:
        """How many connection codes can be handed out now."""
        return self.codes.free

    def live_ids(self) -> list[str]:
        """The ids of the callbacks under way, oldest first."""
        return list(self.live)

    def is_live(self, callback_id: str) -> bool:
        """Whether that callback is under way."""
        return callback_id in self.live

    def person_on_line(self, callback_id: str) -> bool:
        """Whether the person of a live callback has answered and not hung up."""
        callback = self.live.get(callback_id)
        return callback is not None and \
            callback.legs.get(callback.person_leg) is f.LegState.ANSWERED

    def person_leg(self, callback_id: str) -> str | None:
        """The leg of the latest call to the person of a live callback; None if not live."""
        callback = self.live.get(callback_id)
        return None if callback is None else callback.person_leg

    def record(self, callback_id: str) -> CallbackRecord | None:
        """The record of a callback, live or stored; None if there is none."""
        callback = self.live.get(callback_id)
        if callback is not None:
            return record_of(callback, self._forms[callback_id], epoch=self.epoch)
        return self.records.get(callback_id) if self.records is not None else None

    # -- the loop ------------------------------------------------------------

    def _step(self, callback_id: str, event: f.Event) -> None:
        callback = self.live.get(callback_id)
        if callback is None:
            self._late(event)
            return
        now = self.clock()
        if self._events.any:
            for hook in self._events[event.__class__]:
                hook(callback_id, event, now)
        was = callback.state
        try:
            commands = callback.handle(event, now)
        except f.FlowError as error:
            commands = error.commands    # the flow ended the call; clean up after it
            for hook in self._on_refused:
                hook(callback_id, event, error, now)
        if self._on_changed and callback.state is not was:
            for hook in self._on_changed:
                hook(callback_id, was, callback.state, event, now)
        run = self._run
        if self._commands.any:
            hooks = self._commands
            for command in commands:
                cls = command.__class__
                for hook in hooks[cls]:
                    hook(callback_id, command, now)
                run[cls](callback, command)
        else:                           # no observer of commands: some twenty a callback
            for command in commands:
                run[command.__class__](callback, command)
        if self.save_every_step and self.records is not None and not callback.ended:
            self.records.put(record_of(callback, self._forms[callback_id], epoch=self.epoch))

    def _late(self, event: f.Event) -> None:
        """News about a closed callback: give back what it brings, drop the rest."""
        self.late_events += 1
        if isinstance(event, f.RoomCreated):
            self.ports.rooms.delete(event.room)
        elif isinstance(event, f.CodeAllocated):
            self.codes.release(event.code)
        elif isinstance(event, f.TerminalSeized):
            # A desk phone handed from the queue to a call that ended meanwhile: the
            # next caller on hold gets it, as at any release.
            self._release_terminal(None, f.ReleaseTerminal(terminal=event.terminal))

    # -- commands to effects -------------------------------------------------

    def _dial(self, cb: f.Callback, cmd: f.Dial) -> None:
        self.ports.telephony.dial(cb.callback_id, cmd.leg, cmd.number, cmd.caller_id,
                                  cmd.ring_timeout)

    def _hangup(self, cb: f.Callback, cmd: f.Hangup) -> None:
        self.ports.telephony.hangup(cb.callback_id, cmd.leg, cmd.reason)

    def _bridge(self, cb: f.Callback, cmd: f.Bridge) -> None:
        self.ports.telephony.bridge(cb.callback_id, cmd.person_leg, cmd.agent_leg)

    def _start_timer(self, cb: f.Callback, cmd: f.StartTimer) -> None:
        self.ports.timers.start(cb.callback_id, cmd.timer, cmd.delay)

    def _cancel_timer(self, cb: f.Callback, cmd: f.CancelTimer) -> None:
        self.ports.timers.cancel(cb.callback_id, cmd.timer)

    def _find_route(self, cb: f.Callback, cmd: f.FindRoute) -> None:
        self.deliver(cb.callback_id, f.RouteFound(route=self.directory.route(cmd.service_code)))

    def _find_dial_time(self, cb: f.Callback, cmd: f.FindDialTime) -> None:
        at = cmd.not_before
        if self.calendar is not None:
            at = self.calendar.dial_time(cmd.service_code, cmd.person_number, cmd.not_before,
                                         scheduled=cmd.scheduled, callback_id=cb.callback_id)
        self.deliver(cb.callback_id, f.DialTimeFound(at=at))

    def _allocate_code(self, cb: f.Callback, cmd: f.Command) -> None:
        try:
            reply: f.Event = f.CodeAllocated(code=self.codes.allocate(cb.callback_id))
        except CodePoolExhausted:
            reply = f.CodesExhausted()
        self.deliver(cb.callback_id, reply)

    def _release_code(self, cb: f.Callback, cmd: f.ReleaseCode) -> None:
        self.codes.release(cmd.code)

    def _seize_terminal(self, cb: f.Callback, cmd: f.SeizeTerminal) -> None:
        terminal = self.terminals.seize(cmd.centre, cmd.exclude)
        reply = f.NoFreeTerminal() if terminal is None else f.TerminalSeized(terminal=terminal)
        self.deliver(cb.callback_id, reply)

    def _release_terminal(self, cb: f.Callback | None, cmd: f.ReleaseTerminal) -> None:
        centre = self.terminals.release(cmd.terminal)
        holding = self._holding[centre]
        if holding:
            self._serve_holding(centre)

    def _serve_holding(self, centre: str) -> None:
        """Callers on hold at `centre`, first come first served, get the phones now free
        (none when the agent who freed one went off duty)."""
        holding = self._holding[centre]
        while holding:
            terminal = self.terminals.seize(centre)
            if terminal is None:
                return
            owner = next(iter(holding))
            del holding[owner]
            self.deliver(owner, f.TerminalSeized(terminal=terminal))

    def _await_terminal(self, cb: f.Callback, cmd: f.AwaitTerminal) -> None:
        self._holding[cmd.centre][cb.callback_id] = None

    def _leave_queue(self, cb: f.Callback, cmd: f.LeaveQueue) -> None:
        self._holding[cmd.centre].pop(cb.callback_id, None)

    def _create_room(self, cb: f.Callback, cmd: f.CreateRoom) -> None:
        self.ports.rooms.create(cb.callback_id, cmd.template, cmd.code)

    def _join_room(self, cb: f.Callback, cmd: f.JoinRoom) -> None:
        self.ports.rooms.join(cb.callback_id, cmd.room, cmd.who)

    def _delete_room(self, cb: f.Callback, cmd: f.DeleteRoom) -> None:
        self.ports.rooms.delete(cmd.room)

    def _notify(self, cb: f.Callback, cmd: f.NotifyPerson) -> None:
        self.ports.notifier.notify(cb.callback_id, cmd.notice, cmd.room)

    def _close(self, cb: f.Callback, cmd: f.Command) -> None:
        if self.dedupe:
            key = (cb.person_number, cb.service_code)
            if self._numbers.get(key) == cb.callback_id:
                del self._numbers[key]
        if self.calendar is not None:
            self.calendar.release(cb.callback_id)
        record = record_of(cb, self._forms.pop(cb.callback_id), final=True, epoch=self.epoch)
        del self.live[cb.callback_id]
        if self.records is not None:
            self.records.put(record)
        self.ports.rooms.call_ended(cb.callback_id)
        for hook in self._on_closed:
            hook(record)
