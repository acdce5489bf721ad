"""How people and agents behave: distributions, profiles and seeded random streams.

Distributions are small classes with `sample(rng)` and `mean` that refuse
impossible parameters when built (as in Ciw). Every random stream derives
from the scenario's seed through one `numpy.random.SeedSequence`, one named
stream per purpose, so changing one parameter only changes what it touches
(common random numbers across a sweep).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union

import numpy as np

# What `Distribution.sample` draws from: a numpy generator, or a stream's `Draws`.
Rng = Union[np.random.Generator, "Draws"]


class Distribution:
    """A non-negative random duration, in seconds."""

    mean: float

    def sample(self, rng: Rng) -> float:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Fixed(Distribution):
    value: float

    def __post_init__(self) -> None:
        _check(self.value >= 0, f"fixed value {self.value} is negative")

    @property
    def mean(self) -> float:  # type: ignore[override]
        return self.value

    def sample(self, rng: Rng) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    low: float
    high: float

    def __post_init__(self) -> None:
        _check(0 <= self.low <= self.high, f"uniform needs 0 <= lo <= hi, got [{self.low}, {self.high}]")

    @property
    def mean(self) -> float:  # type: ignore[override]
        return (self.low + self.high) / 2

    def sample(self, rng: Rng) -> float:
        return self.low + (self.high - self.low) * rng.random()


@dataclass(frozen=True, slots=True)
class Exponential(Distribution):
    mean_value: float

    def __post_init__(self) -> None:
        _check(self.mean_value > 0, f"exponential mean must be > 0, got {self.mean_value}")

    @property
    def mean(self) -> float:  # type: ignore[override]
        return self.mean_value

    def sample(self, rng: Rng) -> float:
        return float(rng.exponential(self.mean_value))


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    median: float
    sigma: float

    def __post_init__(self) -> None:
        _check(self.median > 0, f"lognormal median must be > 0, got {self.median}")
        _check(self.sigma >= 0, f"lognormal sigma must be >= 0, got {self.sigma}")

    @property
    def mean(self) -> float:  # type: ignore[override]
        return self.median * math.exp(self.sigma ** 2 / 2)

    def sample(self, rng: Rng) -> float:
        return float(rng.lognormal(math.log(self.median), self.sigma))


@dataclass(frozen=True, slots=True)
class Gamma(Distribution):
    mean_value: float
    cv: float                 # coefficient of variation: stdev / mean

    def __post_init__(self) -> None:
        _check(self.mean_value > 0, f"gamma mean must be > 0, got {self.mean_value}")
        _check(self.cv > 0, f"gamma cv must be > 0, got {self.cv}")

    @property
    def mean(self) -> float:  # type: ignore[override]
        return self.mean_value

    def sample(self, rng: Rng) -> float:
        shape = 1 / self.cv ** 2
        return float(rng.gamma(shape, self.mean_value / shape))


@dataclass(frozen=True, slots=True)
class Empirical(Distribution):
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        _check(len(self.values) > 0, "an empirical distribution needs at least one value")
        _check(min(self.values) >= 0, "an empirical distribution has a negative value")

    @classmethod
    def from_file(cls, path: Path) -> "Empirical":
        lines = [line.strip() for line in path.read_text().splitlines()]
        return cls(tuple(float(line) for line in lines if line and not line.startswith("#")))

    @property
    def mean(self) -> float:  # type: ignore[override]
        return sum(self.values) / len(self.values)

    def sample(self, rng: Rng) -> float:
        return self.values[int(rng.integers(len(self.values)))]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# -- profiles ----------------------------------------------------------------

NEVER = math.inf


@dataclass(frozen=True, kw_only=True, slots=True)
class PersonProfile:
    answer_delay: Distribution = Uniform(1.0, 4.0)
    answer_probability: float = 1.0
    busy_probability: float = 0.0
    reject_probability: float = 0.0
    invalid_probability: float = 0.0
    reject_delay: Distribution = Fixed(3.0)    # rings this long before declining
    patience: float = NEVER                   # hangs up if no agent within this after answering
    talk_time: Distribution | None = None     # None: the agent decides when the call ends


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentProfile:
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


class Draws:
    """A named stream's numbers, drawn from numpy a block at a time.

    A load run draws a dozen scalars per callback; numpy takes about a
    microsecond per call whatever its size, so uniforms, standard normals and
    standard exponentials come from blocks of 1,024, each kind from its own
    block. `random()`, `exponential(scale)` and `lognormal(mean, sigma)` take
    numpy's scalar signatures and compute what numpy computes, so a stream
    that draws one kind gives the values numpy would; anything else (sizes,
    gamma, integers) goes to the generator itself. Every value comes from its
    own stretch of the stream, so mixing kinds stays independent.
    """

    __slots__ = ("generator", "block", "_uniform", "_normal", "_exponential")

    def __init__(self, generator: np.random.Generator, block: int = 1024) -> None:
        self.generator = generator
        self.block = block
        self._uniform: list[float] = []
        self._normal: list[float] = []
        self._exponential: list[float] = []

    def random(self, size: int | None = None) -> Any:
        """Uniform on [0, 1): a float, or numpy's array when `size` is given."""
        if size is not None:
            return self.generator.random(size)
        if not self._uniform:
            self._uniform = self.generator.random(self.block).tolist()[::-1]
        return self._uniform.pop()

    def exponential(self, scale: float = 1.0) -> float:
        if not self._exponential:
            self._exponential = self.generator.standard_exponential(self.block).tolist()[::-1]
        return scale * self._exponential.pop()

    def lognormal(self, mean: float = 0.0, sigma: float = 1.0) -> float:
        if not self._normal:
            self._normal = self.generator.standard_normal(self.block).tolist()[::-1]
        return math.exp(mean + sigma * self._normal.pop())

    def __getattr__(self, name: str) -> Any:
        # Only for numpy's own methods: not our slots (unset while copy or pickle
        # build a Draws) nor dunders, which would loop back here.
        if name.startswith("__") or name in Draws.__slots__:
            raise AttributeError(name)
        return getattr(self.generator, name)


class Streams:
    """Named random streams, all derived from one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, Draws] = {}

    def __getitem__(self, purpose: str) -> Draws:
        rng = self._streams.get(purpose)
        if rng is None:
            # The purpose's name, not the order of first use, picks the stream.
            key = zlib.crc32(purpose.encode())
            sequence = np.random.SeedSequence(self.seed, spawn_key=(key,))
            rng = self._streams[purpose] = Draws(np.random.Generator(np.random.PCG64(sequence)))
        return rng


def plan_person(profile: PersonProfile, streams: Streams) -> PhonePlan:
    """The order of SCENARIOS.md: invalid, else busy, else declines, else answers or rings out."""
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
    return PhonePlan(Answer.ANSWER, profile.answer_delay.sample(streams["person_answer"]),
                     patience=profile.patience, talk=talk)


def plan_agent(profile: AgentProfile, streams: Streams) -> PhonePlan:
    u = streams["agent_outcome"].random
    busy, answer = u(), u()
    if busy < profile.busy_probability:
        return PhonePlan(Answer.BUSY)
    if answer >= profile.answer_probability:
        return PhonePlan(Answer.RING_OUT)
    return PhonePlan(Answer.ANSWER, profile.pickup_delay.sample(streams["agent_pickup"]),
                     talk=profile.talk_time.sample(streams["agent_talk"]),
                     code_entry=profile.code_entry_delay.sample(streams["code_entry"]))
