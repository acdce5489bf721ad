"""The states of a callback and the one table of its transitions.

Everything that changes state lives here: `TRANSITIONS` names, for each
(state, event kind) pair the flow accepts, the handler of `Callback` that
runs; `IGNORED` lists the pairs that are legal and change nothing (late or
repeated news). Any other pair is an error (see `errors.py`). An event's
kind is its class name, except for leg events, whose kind also says whose
leg it is (`person_answered`, `agent_failed`, ...), and timers, whose kind
says which timer (`person_ring_timer`, `agent_ring_timer`).
"""

from __future__ import annotations

from ._types import FlowEnum


class State(FlowEnum):
    IDLE = "idle"                          # nothing asked yet
    DIALLING_PERSON = "dialling_person"    # Dial(person) sent
    PERSON_RINGING = "person_ringing"
    ROUTING = "routing"                    # the person answered; FindRoute sent
    ALLOCATING_CODE = "allocating_code"    # AllocateCode sent
    SEIZING_TERMINAL = "seizing_terminal"  # SeizeTerminal sent
    QUEUED = "queued"                      # on hold for a free terminal (AwaitTerminal sent)
    DIALLING_AGENT = "dialling_agent"      # Dial(agent) sent, code as caller ID
    AGENT_RINGING = "agent_ringing"
    BRIDGING = "bridging"                  # the agent answered; Bridge sent
    CONNECTED = "connected"                # bridged: room, code entry, talk
    ENDED = "ended"                        # terminal


S = State

# Stages where the person is on the line, waiting for an agent.
_WAITING_FOR_AGENT = (S.ROUTING, S.ALLOCATING_CODE, S.SEIZING_TERMINAL, S.QUEUED,
                      S.DIALLING_AGENT, S.AGENT_RINGING, S.BRIDGING)
_DIALLING_PERSON = (S.DIALLING_PERSON, S.PERSON_RINGING)
_DIALLING_AGENT = (S.DIALLING_AGENT, S.AGENT_RINGING)


def _each(states: tuple[State, ...], kind: str, handler: str) -> dict[tuple[State, str], str]:
    return {(state, kind): handler for state in states}


TRANSITIONS: dict[tuple[State, str], str] = {
    (S.IDLE, "CallbackRequested"): "_requested",
    (S.DIALLING_PERSON, "person_ringing"): "_person_ringing",
    **_each(_DIALLING_PERSON, "person_answered", "_person_answered"),
    **_each(_DIALLING_PERSON, "person_failed", "_person_failed"),
    **_each(_DIALLING_PERSON, "person_ring_timer", "_person_rang_out"),
    (S.ROUTING, "RouteFound"): "_route_found",
    (S.ALLOCATING_CODE, "CodeAllocated"): "_code_allocated",
    (S.ALLOCATING_CODE, "CodesExhausted"): "_codes_exhausted",
    **_each((S.SEIZING_TERMINAL, S.QUEUED), "TerminalSeized", "_terminal_seized"),
    (S.SEIZING_TERMINAL, "NoFreeTerminal"): "_no_free_terminal",
    (S.QUEUED, "queue_timer"): "_queue_timed_out",
    (S.DIALLING_AGENT, "agent_ringing"): "_agent_ringing",
    **_each(_DIALLING_AGENT, "agent_answered", "_agent_answered"),
    **_each(_DIALLING_AGENT, "agent_failed", "_agent_failed"),
    **_each(_DIALLING_AGENT, "agent_ring_timer", "_agent_rang_out"),
    **_each(_WAITING_FOR_AGENT, "person_hung_up", "_person_abandoned"),
    (S.BRIDGING, "agent_hung_up"): "_agent_left_before_bridge",
    (S.BRIDGING, "Bridged"): "_bridged",
    **_each((S.BRIDGING, S.CONNECTED), "AgentEnteredCode", "_code_entered"),
    # The code shows on a desk phone while it rings: an agent may type it before
    # anyone answers, even at a centre that has rung out. Nobody joins on it.
    **_each((S.SEIZING_TERMINAL, S.QUEUED, S.DIALLING_AGENT, S.AGENT_RINGING),
            "AgentEnteredCode", "_code_too_early"),
    (S.CONNECTED, "RoomCreated"): "_room_created",
    (S.CONNECTED, "RoomRefused"): "_room_refused",
    (S.CONNECTED, "JoinedRoom"): "_joined_room",
    (S.CONNECTED, "person_hung_up"): "_hung_up",
    (S.CONNECTED, "agent_hung_up"): "_hung_up",
    # Resources that arrive after the end go straight back.
    (S.ENDED, "RoomCreated"): "_late_room",
    (S.ENDED, "CodeAllocated"): "_late_code",
    (S.ENDED, "TerminalSeized"): "_late_terminal",
}

IGNORED: frozenset[tuple[State, str]] = frozenset({
    (S.PERSON_RINGING, "person_ringing"),      # a second 180/183
    (S.AGENT_RINGING, "agent_ringing"),
    *((S.ENDED, kind) for kind in (
        "RouteFound", "CodesExhausted", "NoFreeTerminal", "Bridged", "RoomRefused",
        "JoinedRoom", "AgentEnteredCode")),
})

# Replies answer our own requests: out of turn, they are the driver's fault.
REPLY_KINDS = frozenset({"RouteFound", "CodeAllocated", "CodesExhausted",
                         "TerminalSeized", "NoFreeTerminal", "CallbackRequested"})
