"""Events: what happened, fed to `Callback.handle(event, now)`.

Events from the world (the PBX, the phones, the rooms, the agent) and replies
from the driver to the flow's own requests (route, code, terminal) are kept
apart: an unexpected world event is the remote side's fault, an unexpected
reply is the driver's (`errors.RemoteProtocolError` / `LocalProtocolError`).

Events are slotted dataclasses that hash by value, but not frozen ones:
nothing changes one after it is made, and a frozen one costs about twice as
much to build (a load run makes some thirty events and commands per callback).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._types import FailReason, Role, ServiceRoute


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Event:
    """Base class of every event."""


# -- the request -------------------------------------------------------------

@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CallbackRequested(Event):
    service_code: str
    person_number: str


# -- the PBX, about one leg --------------------------------------------------

@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LegEvent(Event):
    leg: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LegRinging(LegEvent):
    pass


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LegAnswered(LegEvent):
    pass


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LegFailed(LegEvent):
    reason: FailReason


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class LegHungUp(LegEvent):
    """The far end hung up an answered leg (a BYE from the phone)."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Bridged(Event):
    """The PBX joined the person's and the agent's legs."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class TimerFired(Event):
    timer: str


# -- rooms and the agent's page ----------------------------------------------

@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class RoomCreated(Event):
    room: str
    routing: str = ""        # which room server hosts it


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class RoomRefused(Event):
    """No room server could open the room: the call goes on, audio only."""

    reason: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class JoinedRoom(Event):
    who: Role


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class AgentEnteredCode(Event):
    code: str


# -- replies of the driver to the flow's requests ----------------------------

@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class Reply(Event):
    """Base class of the driver's answers to `FindRoute`, `AllocateCode`, `SeizeTerminal`."""


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class RouteFound(Reply):
    route: ServiceRoute


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CodeAllocated(Reply):
    code: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class CodesExhausted(Reply):
    pass


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class TerminalSeized(Reply):
    terminal: str


@dataclass(kw_only=True, slots=True, unsafe_hash=True)
class NoFreeTerminal(Reply):
    pass
