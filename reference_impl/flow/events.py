"""Events: what happened, fed to `Callback.handle(event, now)`.

Events from the world (the PBX, the phones, the rooms, the agent) and replies
from the driver to the flow's own requests (route, code, terminal) are kept
apart: an unexpected world event is the remote side's fault, an unexpected
reply is the driver's (`errors.RemoteProtocolError` / `LocalProtocolError`).

Events are slotted dataclasses that hash by value, but not frozen ones:
nothing changes one after it is made, and a frozen one costs about twice as
much to build (a load run makes some thirty events and commands per callback).
Each writes its own `__init__` (or takes its parent's, `init=False`): mypyc
compiles the methods a class writes, not the ones `dataclasses` generates, and
an interpreted `__init__` per event was a fifth of a load run. The parameters are
the fields, in order; `tests/test_native.py` checks that they stay so.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._types import FailReason, Role, ServiceRoute


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Event:
    """Base class of every event."""

    def __init__(self) -> None:
        pass


# -- the request -------------------------------------------------------------

@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CallbackRequested(Event):
    """A person asked to be called back at `person_number` about a service.

    `timed`: the driver keeps a calendar, so the flow asks it when to call
    (`FindDialTime`); `schedule_at`: the person asked for a time; `duplicate_of`:
    the number already has that callback, so this one ends at once.
    """

    service_code: str
    person_number: str
    timed: bool = False
    schedule_at: float | None = None
    duplicate_of: str = ""

    def __init__(self, *, service_code: str, person_number: str, timed: bool = False,
                 schedule_at: float | None = None, duplicate_of: str = "") -> None:
        self.service_code = service_code
        self.person_number = person_number
        self.timed = timed
        self.schedule_at = schedule_at
        self.duplicate_of = duplicate_of


# -- the PBX, about one leg --------------------------------------------------

@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LegEvent(Event):
    """Base class of the PBX's news about one leg (`leg`: its id)."""

    leg: str

    def __init__(self, *, leg: str) -> None:
        self.leg = leg


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class LegRinging(LegEvent):
    """The far end of a leg is ringing (a SIP 180 or 183)."""
    pass


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class LegAnswered(LegEvent):
    """The far end answered a leg (a 200 OK to the INVITE)."""
    pass


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LegFailed(LegEvent):
    """A leg ended unanswered, for `reason` (the PBX's final answer to the dial)."""

    reason: FailReason

    def __init__(self, *, leg: str, reason: FailReason) -> None:
        self.leg = leg
        self.reason = reason


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class LegHungUp(LegEvent):
    """The far end hung up an answered leg (a BYE from the phone)."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class Bridged(Event):
    """The PBX joined the person's and the agent's legs."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class CancelRequested(Event):
    """The person cancelled (the status page or the API): nothing more is dialled."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class RescheduleRequested(Event):
    """The person asked for another time for the call they wait for (flow time)."""

    at: float

    def __init__(self, *, at: float) -> None:
        self.at = at


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class SystemStopping(Event):
    """The system is stopping (a drain ran out of time): end the call politely now."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class BridgeFailed(Event):
    """The PBX could not join the legs: a phone did not take the other's media in time."""

    reason: str

    def __init__(self, *, reason: str) -> None:
        self.reason = reason


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class TimerFired(Event):
    """A timer the flow started ran out."""

    timer: str

    def __init__(self, *, timer: str) -> None:
        self.timer = timer


# -- rooms and the agent's page ----------------------------------------------

@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class RoomCreated(Event):
    """The room server opened the room the flow asked for."""

    room: str
    routing: str = ""        # which room server hosts it

    def __init__(self, *, room: str, routing: str = "") -> None:
        self.room = room
        self.routing = routing


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class RoomRefused(Event):
    """No room server could open the room: the call goes on, audio only."""

    reason: str

    def __init__(self, *, reason: str) -> None:
        self.reason = reason


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class JoinedRoom(Event):
    """The person or the agent is in the room: admitted, and their page connected."""

    who: Role

    def __init__(self, *, who: Role) -> None:
        self.who = who


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class AgentEnteredCode(Event):
    """An agent typed a connection code on the agent page (`agent`: who, when known)."""

    code: str
    agent: str = ""

    def __init__(self, *, code: str, agent: str = "") -> None:
        self.code = code
        self.agent = agent


# -- replies of the driver to the flow's requests ----------------------------

@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class Reply(Event):
    """Base class of the driver's answers to `FindRoute`, `AllocateCode`, `SeizeTerminal`."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class DialTimeFound(Reply):
    """The reply to `FindDialTime`: when the person may be called (now or later)."""

    at: float

    def __init__(self, *, at: float) -> None:
        self.at = at


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class RouteFound(Reply):
    """The reply to `FindRoute`: the service's centres, in failover order."""

    route: ServiceRoute

    def __init__(self, *, route: ServiceRoute) -> None:
        self.route = route


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CodeAllocated(Reply):
    """The reply to `AllocateCode`: the code the callback now holds."""

    code: str

    def __init__(self, *, code: str) -> None:
        self.code = code


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class CodesExhausted(Reply):
    """The reply to `AllocateCode` when every connection code is in use."""
    pass


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class TerminalSeized(Reply):
    """The reply to `SeizeTerminal` or `AwaitTerminal`: a desk phone now held."""

    terminal: str

    def __init__(self, *, terminal: str) -> None:
        self.terminal = terminal


@dataclass(kw_only=True, slots=True, unsafe_hash=True, init=False)
class NoFreeTerminal(Reply):
    """The reply to `SeizeTerminal` when the centre has no free desk phone to try."""
    pass
