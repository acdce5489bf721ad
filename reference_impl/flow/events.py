"""Events: what happened, fed to `Callback.handle(event, now)`.

Events from the world (the PBX, the phones, the rooms, the agent) and replies
from the driver to the flow's own requests (route, code, terminal) are kept
apart: an unexpected world event is the remote side's fault, an unexpected
reply is the driver's (`errors.RemoteProtocolError` / `LocalProtocolError`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._types import FailReason, Role, ServiceRoute


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """Base class of every event."""


# -- the request -------------------------------------------------------------

@dataclass(frozen=True, kw_only=True, slots=True)
class CallbackRequested(Event):
    service_code: str
    person_number: str


# -- the PBX, about one leg --------------------------------------------------

@dataclass(frozen=True, kw_only=True, slots=True)
class LegEvent(Event):
    leg: str


@dataclass(frozen=True, kw_only=True, slots=True)
class LegRinging(LegEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class LegAnswered(LegEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class LegFailed(LegEvent):
    reason: FailReason


@dataclass(frozen=True, kw_only=True, slots=True)
class LegHungUp(LegEvent):
    """The far end hung up an answered leg (a BYE from the phone)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Bridged(Event):
    """The PBX joined the person's and the agent's legs."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TimerFired(Event):
    timer: str


# -- rooms and the agent's page ----------------------------------------------

@dataclass(frozen=True, kw_only=True, slots=True)
class RoomCreated(Event):
    room: str
    routing: str = ""        # which room server hosts it


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomRefused(Event):
    """No room server could open the room: the call goes on, audio only."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class JoinedRoom(Event):
    who: Role


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentEnteredCode(Event):
    code: str


# -- replies of the driver to the flow's requests ----------------------------

@dataclass(frozen=True, kw_only=True, slots=True)
class Reply(Event):
    """Base class of the driver's answers to `FindRoute`, `AllocateCode`, `SeizeTerminal`."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RouteFound(Reply):
    route: ServiceRoute


@dataclass(frozen=True, kw_only=True, slots=True)
class CodeAllocated(Reply):
    code: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CodesExhausted(Reply):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class TerminalSeized(Reply):
    terminal: str


@dataclass(frozen=True, kw_only=True, slots=True)
class NoFreeTerminal(Reply):
    pass
