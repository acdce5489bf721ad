"""Distributions of durations and sizes: small classes with `sample(rng)` and `mean`.

As in Ciw, each refuses impossible parameters when it is built, so a bad
scenario fails at load time, not halfway through a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np

from reference_impl import frozen

if TYPE_CHECKING:
    from .streams import Draws

# What `Distribution.sample` draws from: a numpy generator, or a stream's `Draws`.
Rng = Union[np.random.Generator, "Draws"]


class Distribution(frozen.Pickled):
    """A non-negative random duration, in seconds."""

    mean: float

    def sample(self, rng: Rng) -> float:
        """Draw one value from `rng`: a numpy generator or a stream's `Draws`."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Fixed(Distribution):
    """Always `value` (a bare value in a file, or `fixed:`)."""

    value: float

    def __post_init__(self) -> None:
        _check(self.value >= 0, f"fixed value {self.value} is negative")

    @property
    def mean(self) -> float:  # type: ignore[override]
        """The value itself."""
        return self.value

    def sample(self, rng: Rng) -> float:
        """The value: nothing is drawn, so the stream does not move."""
        return self.value


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    """Uniform between `low` and `high` (`uniform: [lo, hi]` in a file)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _check(0 <= self.low <= self.high, f"uniform needs 0 <= lo <= hi, got [{self.low}, {self.high}]")

    @property
    def mean(self) -> float:  # type: ignore[override]
        """Halfway between low and high."""
        return (self.low + self.high) / 2

    def sample(self, rng: Rng) -> float:
        """Draw `low` plus a uniform fraction of the span."""
        return self.low + (self.high - self.low) * rng.random()


@dataclass(frozen=True, slots=True)
class Exponential(Distribution):
    """Exponential, of mean `mean_value`: memoryless, as gaps between arrivals are."""

    mean_value: float

    def __post_init__(self) -> None:
        _check(self.mean_value > 0, f"exponential mean must be > 0, got {self.mean_value}")

    @property
    def mean(self) -> float:  # type: ignore[override]
        """The mean it was given."""
        return self.mean_value

    def sample(self, rng: Rng) -> float:
        """Draw one exponential value of that mean."""
        return float(rng.exponential(self.mean_value))


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    """Log-normal: half the draws below `median`; `sigma` is the deviation of the log."""

    median: float
    sigma: float

    def __post_init__(self) -> None:
        _check(self.median > 0, f"lognormal median must be > 0, got {self.median}")
        _check(self.sigma >= 0, f"lognormal sigma must be >= 0, got {self.sigma}")

    @property
    def mean(self) -> float:  # type: ignore[override]
        """median · exp(sigma²/2): above the median, the more so the larger sigma."""
        return self.median * math.exp(self.sigma ** 2 / 2)

    def sample(self, rng: Rng) -> float:
        """Draw one value: the exp of a normal of mean log(median) and deviation sigma."""
        return float(rng.lognormal(math.log(self.median), self.sigma))


@dataclass(frozen=True, slots=True)
class Gamma(Distribution):
    """Gamma: a mean of `mean_value` and a spread `cv` (stdev / mean; 1 is exponential)."""

    mean_value: float
    cv: float                 # coefficient of variation: stdev / mean

    def __post_init__(self) -> None:
        _check(self.mean_value > 0, f"gamma mean must be > 0, got {self.mean_value}")
        _check(self.cv > 0, f"gamma cv must be > 0, got {self.cv}")

    @property
    def mean(self) -> float:  # type: ignore[override]
        """The mean it was given."""
        return self.mean_value

    def sample(self, rng: Rng) -> float:
        """Draw one value: numpy's gamma of shape 1/cv² and scale mean/shape."""
        shape = 1 / self.cv ** 2
        return float(rng.gamma(shape, self.mean_value / shape))


@dataclass(frozen=True, slots=True)
class Empirical(Distribution):
    """Recorded durations, in seconds (`empirical: {file: ...}`): each draw is one of them."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        _check(len(self.values) > 0, "an empirical distribution needs at least one value")
        _check(min(self.values) >= 0, "an empirical distribution has a negative value")

    @property
    def mean(self) -> float:  # type: ignore[override]
        """The mean of the recorded values."""
        return sum(self.values) / len(self.values)

    def sample(self, rng: Rng) -> float:
        """Draw one of the recorded values, each as likely as the next."""
        return self.values[int(rng.integers(len(self.values)))]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
