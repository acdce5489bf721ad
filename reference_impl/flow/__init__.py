"""The call flow: a sans-IO state machine, one `Callback` per request.

`Callback.handle(event, now) -> list[Command]` is the one entry point. This
package imports nothing that does IO and nothing from the rest of the project.
"""

from ._state import CODE_ACCEPTED, IGNORED, SAME, TRANSITIONS, State, leads_to
from ._types import (PERSON_LEG, CentreRoute, FailReason, Notice, Outcome, Role,
                     ServiceRoute, agent_leg, queue_timer, ring_timer, role_of)
from .callback import Callback, LegState, Step, event_kind
from .commands import (AllocateCode, AwaitTerminal, Bridge, LeaveQueue, CancelTimer, CloseRecord, Command,
                       CreateRoom, DeleteRoom, Dial, FindRoute, Hangup, JoinRoom,
                       NotifyPerson, ReleaseCode, ReleaseTerminal, SeizeTerminal,
                       StartTimer)
from .errors import (CallAlreadyEnded, FlowError, LocalProtocolError, OutOfTurn,
                     RemoteProtocolError, UnexpectedEvent, UnknownLeg)
from .events import (AgentEnteredCode, BridgeFailed, Bridged, CallbackRequested, SystemStopping, CodeAllocated,
                     CodesExhausted, Event, JoinedRoom, LegAnswered, LegEvent,
                     LegFailed, LegHungUp, LegRinging, NoFreeTerminal, Reply,
                     RoomCreated, RoomRefused, RouteFound, TerminalSeized, TimerFired)

__all__ = [
    "State", "TRANSITIONS", "IGNORED", "CODE_ACCEPTED", "SAME", "leads_to", "PERSON_LEG", "CentreRoute", "FailReason",
    "Notice", "Outcome", "Role", "ServiceRoute", "agent_leg", "queue_timer", "ring_timer",
    "role_of", "AwaitTerminal", "LeaveQueue",
    "Callback", "LegState", "Step", "event_kind",
    "AllocateCode", "Bridge", "CancelTimer", "CloseRecord", "Command", "CreateRoom",
    "DeleteRoom", "Dial", "FindRoute", "Hangup", "JoinRoom", "NotifyPerson",
    "ReleaseCode", "ReleaseTerminal", "SeizeTerminal", "StartTimer",
    "CallAlreadyEnded", "FlowError", "LocalProtocolError", "OutOfTurn",
    "RemoteProtocolError", "UnexpectedEvent", "UnknownLeg",
    "AgentEnteredCode", "BridgeFailed", "Bridged", "SystemStopping", "CallbackRequested", "CodeAllocated",
    "CodesExhausted", "Event", "JoinedRoom", "LegAnswered", "LegEvent", "LegFailed",
    "LegHungUp", "LegRinging", "NoFreeTerminal", "Reply", "RoomCreated", "RoomRefused",
    "RouteFound", "TerminalSeized", "TimerFired",
]
