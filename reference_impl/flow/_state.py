"""The states of a callback and the one table of its transitions.

Everything that changes state lives here: `TRANSITIONS` names, for each
(state, event kind) pair the flow accepts, the handler of `Callback` that
runs and the states it may lead to (a test holds every handler to them);
`IGNORED` lists the pairs that are legal and change nothing (late or
repeated news). Any other pair is an error (see `errors.py`). An event's
kind is its class name, except for leg events, whose kind also says whose
leg it is (`person_answered`, `agent_failed`, ...), and timers, whose kind
says which timer (`person_ring_timer`, `agent_ring_timer`, `queue_timer`, `dial_timer`).
"""

from __future__ import annotations

from ._types import FlowEnum


class State(FlowEnum):
    """Where one callback is in its call, from the form (IDLE) to the end (ENDED)."""

    IDLE = "idle"                          # nothing asked yet
    SCHEDULING = "scheduling"              # FindDialTime sent: when may the person be called?
    SCHEDULED = "scheduled"                # waiting for the time of the next call (a timer)
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
_LIVE = (*_DIALLING_PERSON, *_WAITING_FOR_AGENT, S.CONNECTED)
_ANSWERED = (*_WAITING_FOR_AGENT, S.CONNECTED)
# An attempt that fails may end the callback or, by the retry policy, schedule the next one.
_OVER = frozenset({S.ENDED, S.SCHEDULING})


Targets = frozenset[State]
SAME: Targets = frozenset()     # the handler leaves the state as it was
_END = frozenset({S.ENDED})


def _to(*states: State) -> Targets:
    return frozenset(states)


def _each(states: tuple[State, ...], kind: str, handler: str,
          leads_to: Targets) -> dict[tuple[State, str], tuple[str, Targets]]:
    return {(state, kind): (handler, leads_to) for state in states}


# (state, event kind) -> (the handler of `Callback` that runs, the states it may lead to).
# `SAME`: it stays in the state it was in. A handler that meets a protocol error
# ends the call (ENDED) whatever it names: that is a named error, not a transition.
TRANSITIONS: dict[tuple[State, str], tuple[str, Targets]] = {
    (S.IDLE, "CallbackRequested"): ("_requested",
                                    _to(S.DIALLING_PERSON, S.SCHEDULING, S.ENDED)),
    (S.SCHEDULING, "DialTimeFound"): ("_dial_time_found",
                                      _to(S.DIALLING_PERSON, S.SCHEDULED, S.ENDED)),
    (S.SCHEDULED, "dial_timer"): ("_dial_due", _to(S.DIALLING_PERSON)),
    # Another time asked for while waiting: the calendar is asked again (slots, hours).
    (S.SCHEDULED, "RescheduleRequested"): ("_reschedule", _to(S.SCHEDULING)),
    (S.DIALLING_PERSON, "person_ringing"): ("_person_ringing", _to(S.PERSON_RINGING)),
    **_each(_DIALLING_PERSON, "person_answered", "_person_answered", _to(S.ROUTING)),
    **_each(_DIALLING_PERSON, "person_failed", "_person_failed", _OVER),
    **_each(_DIALLING_PERSON, "person_ring_timer", "_person_rang_out", _OVER),
    (S.ROUTING, "RouteFound"): ("_route_found", _to(S.ALLOCATING_CODE) | _OVER),
    (S.ALLOCATING_CODE, "CodeAllocated"): ("_code_allocated", _to(S.SEIZING_TERMINAL) | _OVER),
    (S.ALLOCATING_CODE, "CodesExhausted"): ("_codes_exhausted", _OVER),
    **_each((S.SEIZING_TERMINAL, S.QUEUED), "TerminalSeized", "_terminal_seized",
            _to(S.DIALLING_AGENT)),
    (S.SEIZING_TERMINAL, "NoFreeTerminal"): ("_no_free_terminal",
                                             _to(S.SEIZING_TERMINAL, S.QUEUED) | _OVER),
    (S.QUEUED, "queue_timer"): ("_queue_timed_out", _to(S.SEIZING_TERMINAL) | _OVER),
    (S.DIALLING_AGENT, "agent_ringing"): ("_agent_ringing", _to(S.AGENT_RINGING)),
    **_each(_DIALLING_AGENT, "agent_answered", "_agent_answered", _to(S.BRIDGING)),
    **_each(_DIALLING_AGENT, "agent_failed", "_agent_failed", _to(S.SEIZING_TERMINAL) | _OVER),
    **_each(_DIALLING_AGENT, "agent_ring_timer", "_agent_rang_out",
            _to(S.SEIZING_TERMINAL) | _OVER),
    **_each(_WAITING_FOR_AGENT, "person_hung_up", "_person_abandoned", _OVER),
    (S.BRIDGING, "agent_hung_up"): ("_agent_left_before_bridge", _OVER),
    (S.BRIDGING, "Bridged"): ("_bridged", _to(S.CONNECTED)),
    (S.BRIDGING, "BridgeFailed"): ("_bridge_failed", _END),
    **_each((S.BRIDGING, S.CONNECTED), "AgentEnteredCode", "_code_entered", SAME),
    # The code shows on a desk phone while it rings: an agent may type it before
    # anyone answers, even at a centre that has rung out. Nobody joins on it.
    **_each((S.SEIZING_TERMINAL, S.QUEUED, S.DIALLING_AGENT, S.AGENT_RINGING),
            "AgentEnteredCode", "_code_too_early", SAME),
    (S.CONNECTED, "RoomCreated"): ("_room_created", SAME),
    (S.CONNECTED, "RoomRefused"): ("_room_refused", SAME),
    (S.CONNECTED, "JoinedRoom"): ("_joined_room", SAME),
    (S.CONNECTED, "person_hung_up"): ("_hung_up", _END),
    (S.CONNECTED, "agent_hung_up"): ("_hung_up", _END),
    # The person cancels: before they answer, nothing more is dialled; once answered,
    # the call goes on (but no retry follows it).
    **_each((S.SCHEDULING, S.SCHEDULED, *_DIALLING_PERSON), "CancelRequested", "_cancel", _END),
    **_each(_ANSWERED, "CancelRequested", "_cancel_noted", SAME),
    # The system stops: whatever the call was doing, it ends now, politely.
    **_each(_LIVE, "SystemStopping", "_system_stopping", _END),
    # Resources that arrive after the end go straight back.
    (S.ENDED, "RoomCreated"): ("_late_room", SAME),
    (S.ENDED, "CodeAllocated"): ("_late_code", SAME),
    (S.ENDED, "TerminalSeized"): ("_late_terminal", SAME),
}

# States in which a typed connection code lets the agent in (read by the agent page
# through `Switchboard.accepts_code`): derived from the table, not restated.
CODE_ACCEPTED: frozenset[State] = frozenset(
    state for (state, kind), (handler, _) in TRANSITIONS.items()
    if kind == "AgentEnteredCode" and handler == "_code_entered")


# States in which the person may move the call they wait for (read by the switchboard's
# `reschedule`): derived from the table, not restated.
RESCHEDULABLE: frozenset[State] = frozenset(
    state for (state, kind) in TRANSITIONS if kind == "RescheduleRequested")


def leads_to(state: State, kind: str) -> Targets:
    """The states the (state, kind) transition may reach; its own state for `SAME`."""
    targets = TRANSITIONS[(state, kind)][1]
    return targets or frozenset({state})

IGNORED: frozenset[tuple[State, str]] = frozenset({
    # A pending callback waits through a stop: its record brings it back at the next start.
    (S.SCHEDULING, "SystemStopping"), (S.SCHEDULED, "SystemStopping"),
    (S.PERSON_RINGING, "person_ringing"),      # a second 180/183
    (S.AGENT_RINGING, "agent_ringing"),
    *((S.ENDED, kind) for kind in (
        "RouteFound", "CodesExhausted", "NoFreeTerminal", "Bridged", "BridgeFailed", "RoomRefused",
        "SystemStopping", "CancelRequested", "DialTimeFound", "RescheduleRequested",
        "JoinedRoom", "AgentEnteredCode")),
})

# Replies answer our own requests: out of turn, they are the driver's fault.
REPLY_KINDS = frozenset({"RouteFound", "CodeAllocated", "CodesExhausted", "DialTimeFound",
                         "TerminalSeized", "NoFreeTerminal", "CallbackRequested"})
