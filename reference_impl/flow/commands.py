"""Commands: what the flow asks its driver to do, returned by `handle`.

The driver turns each into an effect on a port (telephony, rooms, codes,
terminals, records, the person's page, timers). Commands marked *reply* must
be answered with an event (`RouteFound`, `CodeAllocated`, ...), at once or later.

Commands are slotted dataclasses that hash by value, but not frozen ones:
nothing changes one after it is made, and a frozen one costs about twice as
much to build (a load run makes some thirty events and commands per callback).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._types import Notice, Outcome, Role


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Command:
    """Base class of every command."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Dial(Command):
    """Place a call leg to `number`, showing `caller_id`; the flow times the ringing."""

    leg: str
    number: str
    caller_id: str            # the connection code on an agent leg
    ring_timeout: float       # informative: the flow runs its own ring timer


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Hangup(Command):
    """BYE an answered leg, CANCEL a ringing one."""

    leg: str
    reason: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Bridge(Command):
    """Join the person's leg and the agent's answered leg; the driver reports `Bridged`."""

    person_leg: str
    agent_leg: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class StartTimer(Command):
    """Fire `timer` after `delay` seconds, as `TimerFired`, unless it is cancelled."""

    timer: str
    delay: float


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CancelTimer(Command):
    """Stop `timer`: the flow no longer wants it to fire."""

    timer: str


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


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class FindRoute(Command):
    """*reply*: `RouteFound` with the centres of the service, in failover order."""

    service_code: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class AllocateCode(Command):
    """*reply*: `CodeAllocated` or `CodesExhausted`."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class ReleaseCode(Command):
    """Give a connection code back to the pool."""

    code: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class SeizeTerminal(Command):
    """*reply*: `TerminalSeized` (a free terminal of `centre` not in `exclude`) or `NoFreeTerminal`."""

    centre: str
    exclude: frozenset[str]


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class AwaitTerminal(Command):
    """*reply*, later: `TerminalSeized` once a terminal of `centre` is free (a queue, FIFO)."""

    centre: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LeaveQueue(Command):
    """Take the callback off the hold queue of `centre`."""

    centre: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class ReleaseTerminal(Command):
    """Free the desk phone the callback held, for the next call at its centre."""

    terminal: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CreateRoom(Command):
    """Open a video room from `template`; the port reports `RoomCreated` or `RoomRefused`."""

    template: str
    code: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class JoinRoom(Command):
    """Admit the person or the agent (`who`) to the room; the port reports `JoinedRoom`."""

    room: str
    who: Role


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class DeleteRoom(Command):
    """Close the room and send away whoever is in it."""

    room: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class NotifyPerson(Command):
    """Tell the person's page `notice` (with the room to open, for `ROOM_READY`)."""

    notice: Notice
    room: str | None = None


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CloseRecord(Command):
    """The callback reached its terminal state: store its record for good."""

    outcome: Outcome


__all__ = [
    "Command", "Dial", "Hangup", "Bridge", "StartTimer", "CancelTimer", "FindRoute",
    "AllocateCode", "ReleaseCode", "SeizeTerminal", "AwaitTerminal", "LeaveQueue", "ReleaseTerminal", "CreateRoom",
    "JoinRoom", "DeleteRoom", "NotifyPerson", "CloseRecord",
]
