"""The small vocabulary shared by events, commands and states."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


class FlowEnum(Enum):
    """An Enum whose members hash by identity, in C: Enum's own `__hash__` is
    Python code, and the transition table hashes a state for every event."""

    __hash__ = object.__hash__


class Role(FlowEnum):
    """Who is at the far end of a call leg, or in a room."""

    PERSON = "person"
    AGENT = "agent"


class FailReason(FlowEnum):
    """Why a leg was never answered (the PBX's final answer to a dial)."""

    BUSY = "busy"                      # SIP 486
    NO_ANSWER = "no_answer"            # rang out: SIP 408/480/487 or our ring timer
    REJECTED = "rejected"              # SIP 603: declined
    INVALID_NUMBER = "invalid_number"  # SIP 404/484/604
    NO_TRUNK = "no_trunk"              # the PBX had no free line to place it


class Outcome(FlowEnum):
    """The terminal state of one callback (`callback-emu metrics` says what each means)."""

    CONNECTED = "connected"
    PERSON_BUSY = "person_busy"
    PERSON_NO_ANSWER = "person_no_answer"
    PERSON_REJECTED = "person_rejected"
    PERSON_INVALID_NUMBER = "person_invalid_number"
    PERSON_ABANDONED = "person_abandoned"
    NO_AGENT = "no_agent"
    NO_TRUNK = "no_trunk"
    NO_CODE = "no_code"        # every connection code was in use
    BRIDGE_FAILED = "bridge_failed"    # both answered, but a phone never took the bridge
    DUPLICATE = "duplicate"            # the number already had a live or pending callback
    CANCELLED = "cancelled"            # the person cancelled before being reached
    SYSTEM_RESTART = "system_restart"  # the system stopped or died while the call was up
    ERROR = "error"            # a protocol error ended the call (see the timeline)


class Notice(FlowEnum):
    """What the person's web page is told, in order of the call."""

    CALLING = "calling"              # we are dialling your phone
    CONNECTING = "connecting"        # you answered; finding an advisor
    CONNECTED = "connected"          # you are talking to an advisor
    ROOM_READY = "room_ready"        # the video room is open: join it
    ROOM_UNAVAILABLE = "room_unavailable"  # the call goes on, audio only
    ENDED = "ended"                  # the call is over; the room is closed
    # Why we could not complete the callback.
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    INVALID_NUMBER = "invalid_number"
    NO_AGENT = "no_agent"
    NO_TRUNK = "no_trunk"
    UNAVAILABLE = "unavailable"
    # When we will call (the status page shows the time: `Callback.next_attempt_at`).
    SCHEDULED = "scheduled"            # we will call you then (asked for, or we are closed)
    RETRY_LATER = "retry_later"        # we could not reach you; we will try again then
    CANCELLED = "cancelled"            # you cancelled: nothing more will be dialled


@dataclass(frozen=True, kw_only=True, slots=True)
class CentreRoute:
    """One contact centre as the flow needs it: where to ring, and for how long."""

    name: str
    ring_timeout: float
    queue_max_wait: float | None = None   # hold for a free terminal this long (None: no queue)


@dataclass(frozen=True, kw_only=True, slots=True)
class ServiceRoute:
    """The directory's answer for a service code: centres in failover order."""

    service_code: str
    centres: tuple[CentreRoute, ...]
    room_template: str = "default"


PERSON_LEG = "person"
DIAL_TIMER = "dial"          # waits for the time of the next call to the person


# The names below are asked for several times per callback, of a few distinct
# legs and timers: remembered (a C-level cache hit, no Python frame) rather than
# built again. The caches are bounded; the names stay the same whatever they hold.
_NAMES = lru_cache(maxsize=4096)


@_NAMES
def person_leg(attempt: int) -> str:
    """The id of the leg of the n-th call to the person (1-based): `person`, `person-2`..."""
    return PERSON_LEG if attempt == 1 else f"{PERSON_LEG}-{attempt}"


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryRule:
    """Call the person again after an outcome: `after` seconds later, up to `attempts`
    calls in all (the first one counts)."""

    after: float
    attempts: int


@dataclass(frozen=True, kw_only=True, slots=True)
class CallbackPolicy:
    """What a callback does beyond one call: retries by outcome, and a bound on them all."""

    retry: tuple[tuple["Outcome", RetryRule], ...] = ()
    give_up_after: float | None = None        # no call starts later than this after the request

    def rule(self, outcome: "Outcome") -> RetryRule | None:
        """The retry rule for an outcome, if any."""
        for which, rule in self.retry:
            if which is outcome:
                return rule
        return None


@_NAMES
def agent_leg(attempt: int) -> str:
    """The id of the n-th agent leg of a callback (1-based)."""
    return f"agent-{attempt}"


@_NAMES
def role_of(leg: str) -> Role:
    """Whose leg it is: a call to the person, or else an agent's."""
    return Role.PERSON if leg.startswith(PERSON_LEG) else Role.AGENT


@_NAMES
def ring_timer(leg: str) -> str:
    """The name of the timer that limits how long a leg rings."""
    return f"ring:{leg}"


@_NAMES
def queue_timer(centre: str) -> str:
    """The name of the timer that limits a wait on hold at a centre."""
    return f"queue:{centre}"
