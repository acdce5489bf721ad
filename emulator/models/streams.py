"""Seeded random streams: one per purpose, all derived from the scenario's seed.

Every stream comes from one `numpy.random.SeedSequence` keyed by its
purpose's name, so changing one parameter changes only what it touches
(common random numbers across a sweep); `Draws` takes numbers from numpy a
block at a time.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np


# Named once: compiled, the class cannot read its own `__slots__` back.
_DRAWS_SLOTS = ("generator", "block", "_uniform", "_normal", "_exponential")


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

    __slots__ = _DRAWS_SLOTS

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
        """Exponential of mean `scale`, as numpy's: `scale` times a standard one from the block."""
        if not self._exponential:
            self._exponential = self.generator.standard_exponential(self.block).tolist()[::-1]
        return scale * self._exponential.pop()

    def lognormal(self, mean: float = 0.0, sigma: float = 1.0) -> float:
        """Log-normal as numpy's: exp(mean + sigma · a standard normal from the block)."""
        if not self._normal:
            self._normal = self.generator.standard_normal(self.block).tolist()[::-1]
        return math.exp(mean + sigma * self._normal.pop())

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Copied and pickled with its blocks, so a twin draws what this one would next
        (through `__init__`: compiled, the class has no bare `__new__`)."""
        return _draws, (self.generator, self.block, self._uniform, self._normal,
                        self._exponential)

    def __getattr__(self, name: str) -> Any:
        # Only for numpy's own methods: not our slots (unset while copy or pickle
        # build a Draws) nor dunders, which would loop back here.
        if name.startswith("__") or name in _DRAWS_SLOTS:
            raise AttributeError(name)
        return getattr(self.generator, name)


def _draws(generator: np.random.Generator, block: int, uniform: list[float],
           normal: list[float], exponential: list[float]) -> Draws:
    draws = Draws(generator, block)
    draws._uniform, draws._normal, draws._exponential = uniform, normal, exponential
    return draws


class Streams(dict[str, Draws]):
    """Named random streams, all derived from one seed (purpose -> its `Draws`).

    A dict, made on first use by `__missing__`: the models look a stream up a
    few times per callback, and a hit is then a C-level lookup, no Python call.
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed

    def __missing__(self, purpose: str) -> Draws:
        # The purpose's name, not the order of first use, picks the stream.
        key = zlib.crc32(purpose.encode())
        sequence = np.random.SeedSequence(self.seed, spawn_key=(key,))
        rng = self[purpose] = Draws(np.random.Generator(np.random.PCG64(sequence)))
        return rng
