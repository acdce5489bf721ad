"""How people and agents behave: their profiles, and the plan drawn when a phone is dialled.

A profile holds distributions and probabilities (a scenario's people and
agents); `plan_person` and `plan_agent` draw what one phone will do from the
named random streams, in a fixed order of draws (common random numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from reference_impl import frozen

from .distributions import Distribution, Exponential, Fixed, LogNormal, Uniform
from .streams import Streams

# -- profiles ----------------------------------------------------------------

NEVER = math.inf


@dataclass(frozen=True, kw_only=True, slots=True)
class PersonProfile(frozen.Pickled):
    """How a person behaves when the callback dials them: answering, waiting, talking."""

    answer_delay: Distribution = Uniform(1.0, 4.0)
    answer_probability: float = 1.0
    busy_probability: float = 0.0
    reject_probability: float = 0.0
    invalid_probability: float = 0.0
    reject_delay: Distribution = Fixed(3.0)    # rings this long before declining
    patience: float | Distribution = NEVER    # hangs up if no agent within this after answering
    talk_time: Distribution | None = None     # None: the agent decides when the call ends


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentProfile(frozen.Pickled):
    """How an agent at a desk phone behaves: picking up, talking, typing the connection code."""

    pickup_delay: Distribution = LogNormal(4.0, 0.5)
    answer_probability: float = 1.0
    busy_probability: float = 0.0             # the desk phone is on another call
    talk_time: Distribution = Exponential(180.0)
    code_entry_delay: Distribution = Uniform(5.0, 15.0)


# Built-in profiles a scenario can name without defining them; a scenario's
# own `profiles:` take precedence.
PEOPLE: dict[str, PersonProfile] = {
    "prompt": PersonProfile(),
    "slow": PersonProfile(answer_delay=Uniform(8.0, 20.0)),
    "busy": PersonProfile(busy_probability=1.0),
    "rejects": PersonProfile(reject_probability=1.0),
    "invalid": PersonProfile(invalid_probability=1.0),
    "never_answers": PersonProfile(answer_probability=0.0),
    "impatient": PersonProfile(patience=20.0),
    "typical": PersonProfile(answer_delay=LogNormal(6.0, 0.6), answer_probability=0.85,
                             busy_probability=0.05, reject_probability=0.03,
                             invalid_probability=0.01, patience=90.0),
}

AGENTS: dict[str, AgentProfile] = {
    "prompt": AgentProfile(),
    "never_answers": AgentProfile(answer_probability=0.0),
    "busy": AgentProfile(busy_probability=1.0),
    "slow": AgentProfile(pickup_delay=Uniform(10.0, 25.0)),
    "typical": AgentProfile(answer_probability=0.95, busy_probability=0.05),
}


# -- what a phone will do when it is dialled ---------------------------------

class Answer(Enum):
    """What a dialled phone does: no such number, busy, declines, answers, or rings out."""

    # Hashed in C, not by Enum's Python `__hash__`: the PBX looks one up per dial.
    __hash__ = object.__hash__

    INVALID = "invalid"
    BUSY = "busy"
    REJECT = "reject"
    ANSWER = "answer"
    RING_OUT = "ring_out"


@dataclass(slots=True)            # not frozen: one per dial, on a load run's hot path
class PhonePlan:
    """Drawn when a phone is dialled: what it will do and after how long."""

    answer: Answer
    delay: float = 0.0          # ringing before answering or declining
    patience: float = NEVER     # on the line, waiting for the bridge
    talk: float = NEVER         # after the bridge, until this side hangs up
    code_entry: float = 0.0     # an agent: from pickup to typing the connection code

    def __init__(self, answer: Answer, delay: float = 0.0, patience: float = NEVER,
                 talk: float = NEVER, code_entry: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.patience = patience
        self.talk = talk
        self.code_entry = code_entry


def plan_person(profile: PersonProfile, streams: Streams) -> PhonePlan:
    """The order of the format: invalid, else busy, else declines, else answers or rings out."""
    u = streams["person_outcome"].random
    # Always four draws, in this order: common random numbers across a sweep.
    invalid, busy, reject, answer = u(), u(), u(), u()
    if invalid < profile.invalid_probability:
        return PhonePlan(Answer.INVALID)
    if busy < profile.busy_probability:
        return PhonePlan(Answer.BUSY)
    if reject < profile.reject_probability:
        return PhonePlan(Answer.REJECT, profile.reject_delay.sample(streams["person_answer"]))
    if answer >= profile.answer_probability:
        return PhonePlan(Answer.RING_OUT)
    talk = profile.talk_time.sample(streams["person_talk"]) if profile.talk_time else NEVER
    patience = profile.patience
    if isinstance(patience, Distribution):       # drawn from a stream of its own (Erlang A)
        patience = patience.sample(streams["person_patience"])
    return PhonePlan(Answer.ANSWER, profile.answer_delay.sample(streams["person_answer"]),
                     patience=patience, talk=talk)


def plan_agent(profile: AgentProfile, streams: Streams) -> PhonePlan:
    """Draw what a desk phone will do: busy, else the agent picks up or it rings out."""
    u = streams["agent_outcome"].random
    busy, answer = u(), u()
    if busy < profile.busy_probability:
        return PhonePlan(Answer.BUSY)
    if answer >= profile.answer_probability:
        return PhonePlan(Answer.RING_OUT)
    return PhonePlan(Answer.ANSWER, profile.pickup_delay.sample(streams["agent_pickup"]),
                     talk=profile.talk_time.sample(streams["agent_talk"]),
                     code_entry=profile.code_entry_delay.sample(streams["code_entry"]))
