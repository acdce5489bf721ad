"""Commands: what the flow asks its driver to do, returned by `handle`.

The driver turns each into an effect on a port (telephony, rooms, codes,
terminals, records, the person's page, timers). Commands marked *reply* must
be answered with an event (`RouteFound`, `CodeAllocated`, ...), at once or later.

Commands are slotted dataclasses that hash by value, but not frozen ones:
nothing changes one after it is made, and a frozen one costs about twice as
much to build (a load run makes some thirty events and commands per callback).
Each writes its own `__init__` (or takes its parent's, `init=False`): mypyc
compiles the methods a class writes, not the ones `dataclasses` generates, and
an interpreted `__init__` per command was a fifth of a load run. The parameters are
the fields, in order; `tests/test_native.py` checks that they stay so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._types import Notice, Outcome, Role


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Command:
    """Base class of every command."""

    def __init__(self) -> None:
        pass


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Dial(Command):
    """Place a call leg to `number`, showing `caller_id`; the flow times the ringing."""

    leg: str
    number: str
    caller_id: str            # the connection code on an agent leg
    ring_timeout: float       # informative: the flow runs its own ring timer

    def __init__(self, *, leg: str, number: str, caller_id: str, ring_timeout: float) -> None:
        self.leg = leg
        self.number = number
        self.caller_id = caller_id
        self.ring_timeout = ring_timeout


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Hangup(Command):
    """BYE an answered leg, CANCEL a ringing one."""

    leg: str
    reason: str

    def __init__(self, *, leg: str, reason: str) -> None:
        self.leg = leg
        self.reason = reason


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Bridge(Command):
    """Join the person's leg and the agent's answered leg; the driver reports `Bridged`."""

    person_leg: str
    agent_leg: str

    def __init__(self, *, person_leg: str, agent_leg: str) -> None:
        self.person_leg = person_leg
        self.agent_leg = agent_leg


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class StartTimer(Command):
    """Fire `timer` after `delay` seconds, as `TimerFired`, unless it is cancelled."""

    timer: str
    delay: float

    def __init__(self, *, timer: str, delay: float) -> None:
        self.timer = timer
        self.delay = delay


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CancelTimer(Command):
    """Stop `timer`: the flow no longer wants it to fire."""

    timer: str

    def __init__(self, *, timer: str) -> None:
        self.timer = timer


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class FindDialTime(Command):
    """*reply*: `DialTimeFound`, the first time at or after `not_before` when the person
    may be called for this service (its opening hours, holidays and slots; the person's
    calling hours). `scheduled`: the person asked for the time, so a slot is booked."""

    service_code: str
    person_number: str
    not_before: float
    attempt: int
    scheduled: bool = False

    def __init__(self, *, service_code: str, person_number: str, not_before: float, attempt: int,
                 scheduled: bool = False) -> None:
        self.service_code = service_code
        self.person_number = person_number
        self.not_before = not_before
        self.attempt = attempt
        self.scheduled = scheduled


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class FindRoute(Command):
    """*reply*: `RouteFound` with the centres of the service, in failover order."""

    service_code: str

    def __init__(self, *, service_code: str) -> None:
        self.service_code = service_code


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class AllocateCode(Command):
    """*reply*: `CodeAllocated` or `CodesExhausted`."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class ReleaseCode(Command):
    """Give a connection code back to the pool."""

    code: str

    def __init__(self, *, code: str) -> None:
        self.code = code


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class SeizeTerminal(Command):
    """*reply*: `TerminalSeized` (a free terminal of `centre` not in `exclude`) or `NoFreeTerminal`."""

    centre: str
    exclude: frozenset[str]

    def __init__(self, *, centre: str, exclude: frozenset[str]) -> None:
        self.centre = centre
        self.exclude = exclude


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class AwaitTerminal(Command):
    """*reply*, later: `TerminalSeized` once a terminal of `centre` is free (a queue, FIFO)."""

    centre: str

    def __init__(self, *, centre: str) -> None:
        self.centre = centre


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LeaveQueue(Command):
    """Take the callback off the hold queue of `centre`."""

    centre: str

    def __init__(self, *, centre: str) -> None:
        self.centre = centre


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class ReleaseTerminal(Command):
    """Free the desk phone the callback held, for the next call at its centre."""

    terminal: str

    def __init__(self, *, terminal: str) -> None:
        self.terminal = terminal


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CreateRoom(Command):
    """Open a video room from `template`; the port reports `RoomCreated` or `RoomRefused`."""

    template: str
    code: str

    def __init__(self, *, template: str, code: str) -> None:
        self.template = template
        self.code = code


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class JoinRoom(Command):
    """Admit the person or the agent (`who`) to the room; the port reports `JoinedRoom`."""

    room: str
    who: Role

    def __init__(self, *, room: str, who: Role) -> None:
        self.room = room
        self.who = who


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class DeleteRoom(Command):
    """Close the room and send away whoever is in it."""

    room: str

    def __init__(self, *, room: str) -> None:
        self.room = room


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class NotifyPerson(Command):
    """Tell the person's page `notice` (with the room to open, for `ROOM_READY`)."""

    notice: Notice
    room: str | None = None

    def __init__(self, *, notice: Notice, room: str | None = None) -> None:
        self.notice = notice
        self.room = room


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CloseRecord(Command):
    """The callback reached its terminal state: store its record for good."""

    outcome: Outcome

    def __init__(self, *, outcome: Outcome) -> None:
        self.outcome = outcome


__all__ = [
    "Command", "Dial", "Hangup", "Bridge", "StartTimer", "CancelTimer", "FindRoute",
    "AllocateCode", "ReleaseCode", "SeizeTerminal", "AwaitTerminal", "LeaveQueue", "ReleaseTerminal", "CreateRoom",
    "JoinRoom", "DeleteRoom", "NotifyPerson", "CloseRecord",
]
