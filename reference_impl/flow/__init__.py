"""The call flow: a sans-IO state machine, one `Callback` per request.

`Callback.handle(event, now) -> list[Command]` is the one entry point. This
package imports nothing that does IO and nothing from the rest of the project.
"""

from ._state import CODE_ACCEPTED, IGNORED, RESCHEDULABLE, SAME, TRANSITIONS, State, leads_to
from ._types import (DIAL_TIMER, PERSON_LEG, CallbackPolicy, CentreRoute, FailReason, Notice,
                     Outcome, RetryRule, Role, ServiceRoute, agent_leg, person_leg, queue_timer,
                     ring_timer, role_of)
from .callback import Attempt, Callback, LegState, Step, event_kind
from .commands import (AllocateCode, AwaitTerminal, Bridge, CancelTimer, CloseRecord, Command,
                       CreateRoom, DeleteRoom, Dial, FindDialTime, FindRoute, Hangup, JoinRoom,
                       LeaveQueue, NotifyPerson, ReleaseCode, ReleaseTerminal, SeizeTerminal,
                       StartTimer)
from .errors import (CallAlreadyEnded, FlowError, LocalProtocolError, OutOfTurn,
                     RemoteProtocolError, UnexpectedEvent, UnknownLeg)
from .events import (AgentEnteredCode, BridgeFailed, Bridged, CallbackRequested, CancelRequested,
                     CodeAllocated, CodesExhausted, DialTimeFound, Event, JoinedRoom, LegAnswered,
                     LegEvent, LegFailed, LegHungUp, LegRinging, NoFreeTerminal, Reply,
                     RescheduleRequested, RoomCreated, RoomRefused, RouteFound, SystemStopping,
                     TerminalSeized, TimerFired)

__all__ = [
    "State", "TRANSITIONS", "IGNORED", "CODE_ACCEPTED", "RESCHEDULABLE", "SAME", "leads_to",
    "DIAL_TIMER", "PERSON_LEG", "CallbackPolicy", "CentreRoute", "FailReason", "Notice",
    "Outcome", "RetryRule", "Role", "ServiceRoute", "agent_leg", "person_leg", "queue_timer",
    "ring_timer", "role_of",
    "Attempt", "Callback", "LegState", "Step", "event_kind",
    "AllocateCode", "AwaitTerminal", "Bridge", "CancelTimer", "CloseRecord", "Command",
    "CreateRoom", "DeleteRoom", "Dial", "FindDialTime", "FindRoute", "Hangup", "JoinRoom",
    "LeaveQueue", "NotifyPerson", "ReleaseCode", "ReleaseTerminal", "SeizeTerminal",
    "StartTimer",
    "CallAlreadyEnded", "FlowError", "LocalProtocolError", "OutOfTurn",
    "RemoteProtocolError", "UnexpectedEvent", "UnknownLeg",
    "AgentEnteredCode", "BridgeFailed", "Bridged", "CallbackRequested", "CancelRequested",
    "CodeAllocated", "CodesExhausted", "DialTimeFound", "Event", "JoinedRoom", "LegAnswered",
    "LegEvent", "LegFailed", "LegHungUp", "LegRinging", "NoFreeTerminal", "Reply",
    "RescheduleRequested", "RoomCreated", "RoomRefused", "RouteFound", "SystemStopping", "TerminalSeized", "TimerFired",
]
