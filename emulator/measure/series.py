"""A streamed series of values: memory does not grow with the number of callbacks.

`Series` keeps exact values while they are few (QA scenarios, exact
percentiles) and a log-spaced histogram once they are many (load runs:
0.5 % relative resolution from 1 ms to 11 days, in a fixed array).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

_LOW = 1e-3                     # seconds: below this, the first bin
_PER_E = 200                    # bins per factor e: bin width ~0.5 %
_BINS = int(math.log(1e6 / _LOW) * _PER_E) + 2
EXACT_LIMIT = 4096              # values kept exactly before switching to the histogram


class Series:
    """Count, mean, max and percentiles of a stream of non-negative values.

    Values are appended to a short list; only when it is full are they folded
    into the histogram, all at once with numpy (a load run adds seven values
    per callback: one `append` each is all the hot path pays). A series that
    never filled its list keeps every value and gives exact percentiles.
    """

    __slots__ = ("_recent", "_bins", "_count", "_total", "_peak")

    def __init__(self) -> None:
        self._recent: list[float] = []
        self._bins: np.ndarray | None = None     # None: every value is in `_recent`
        self._count = 0                           # of the values folded into `_bins`
        self._total = 0.0
        self._peak = 0.0

    def add(self, value: float) -> None:
        """Count one value; the list is folded into the histogram once it is full."""
        recent = self._recent
        recent.append(value)
        if len(recent) > EXACT_LIMIT:
            self._fold()

    def _fold(self) -> None:
        if self._bins is None:
            self._bins = np.zeros(_BINS, dtype=np.int64)
        if not self._recent:
            return
        values = np.asarray(self._recent, dtype=float)
        if not np.isfinite(values).all():
            raise ValueError(f"a statistic was given {values[~np.isfinite(values)][0]}: "
                             "only finite numbers can be counted")
        self._recent = []
        self._bins += np.bincount(_bins_of(values), minlength=_BINS)
        self._count += len(values)
        self._total += float(values.sum())
        self._peak = max(self._peak, float(values.max()))

    @property
    def count(self) -> int:
        """How many values were counted (added, or pooled by `merge`)."""
        return self._count + len(self._recent)

    @property
    def total(self) -> float:
        """The sum of every value so far."""
        return self._total + sum(self._recent)

    @property
    def peak(self) -> float:
        """The largest value so far (0 while there is none)."""
        return max(self._peak, max(self._recent, default=0.0))

    @property
    def mean(self) -> float | None:
        """The mean of every value; None while there is none."""
        count = self.count
        return self.total / count if count else None

    def quantiles(self, qs: Iterable[float]) -> list[float]:
        """Percentiles (0-100); exact while the values are few."""
        qs = list(qs)
        if self._bins is None:
            return [float(x) for x in np.percentile(self._recent, qs)] if self._recent else []
        self._fold()
        cumulative = np.cumsum(self._bins)
        out = []
        for q in qs:
            rank = q / 100 * (self._count - 1)
            index = int(np.searchsorted(cumulative, rank + 1))
            out.append(min(_centre(index), self._peak))
        return out

    def merge(self, other: "Series") -> None:
        """Pool another series into this one (replications)."""
        self._recent.extend(other._recent)
        if other._bins is not None:
            if self._bins is None:
                self._bins = np.zeros(_BINS, dtype=np.int64)
            self._bins += other._bins
            self._count += other._count
            self._total += other._total
            self._peak = max(self._peak, other._peak)
        if len(self._recent) > EXACT_LIMIT:
            self._fold()

    def histogram(self, bins: int = 60) -> dict[str, list[float]]:
        """Counts over `bins` equal-width bins from 0 to the max (for plots)."""
        if not self.count:
            return {"edges": [], "counts": []}
        top = self.peak if self.peak > 0 else 1.0
        edges = np.linspace(0.0, top, bins + 1)
        if self._bins is None:
            counts, _ = np.histogram(self._recent, edges)
        else:
            self._fold()
            centres = _centre_array()
            counts, _ = np.histogram(np.clip(centres, 0, top), edges, weights=self._bins)
        return {"edges": [float(e) for e in edges], "counts": [float(c) for c in counts]}


def _bins_of(values: np.ndarray) -> np.ndarray:
    """The histogram bin of each value: 0 at or below `_LOW`, then ~0.5 % wide."""
    with np.errstate(divide="ignore"):
        index = np.log(np.maximum(values, _LOW) / _LOW) * _PER_E
    bins = np.minimum(index.astype(np.int64) + 1, _BINS - 1)
    bins[values <= _LOW] = 0
    return bins


def _centre(index: int) -> float:
    if index <= 0:
        return _LOW / 2
    return _LOW * math.exp((index - 0.5) / _PER_E)


def _centre_array() -> np.ndarray:
    return np.array([_centre(i) for i in range(_BINS)])


class SignedSeries:
    """A `Series` of values of either sign (an estimate's error): the positive values
    and the magnitudes of the negative ones in a `Series` each."""

    __slots__ = ("_above", "_below")

    def __init__(self) -> None:
        self._above = Series()             # values >= 0
        self._below = Series()             # -value, for values < 0

    def add(self, value: float) -> None:
        """Count one value."""
        if value < 0:
            self._below.add(-value)
        else:
            self._above.add(value)

    @property
    def count(self) -> int:
        """How many values were counted."""
        return self._above.count + self._below.count

    @property
    def total(self) -> float:
        """The sum of every value so far."""
        return self._above.total - self._below.total

    @property
    def peak(self) -> float:
        """The largest value so far (0 while there is none)."""
        if self._above.count:
            return self._above.peak
        return -self._below.quantiles([0])[0] if self._below.count else 0.0

    @property
    def mean(self) -> float | None:
        """The mean of every value; None while there is none."""
        count = self.count
        return self.total / count if count else None

    def quantiles(self, qs: Iterable[float]) -> list[float]:
        """Percentiles (0-100); exact while the values are few."""
        qs = list(qs)
        below, above, count = self._below, self._above, self.count
        if not count:
            return []
        if below._bins is None and above._bins is None:
            return [float(x) for x in np.percentile(
                [*above._recent, *(-v for v in below._recent)], qs)]
        out = []
        for q in qs:                           # a rank on the negative side, or the positive
            rank = q / 100 * (count - 1)
            if rank < below.count:
                back = (below.count - 1 - rank) / max(1, below.count - 1) * 100
                out.append(-below.quantiles([back])[0])
            else:
                ahead = (rank - below.count) / max(1, above.count - 1) * 100
                out.append(above.quantiles([ahead])[0])
        return out

    def merge(self, other: "SignedSeries") -> None:
        """Pool another series into this one (replications)."""
        self._above.merge(other._above)
        self._below.merge(other._below)

    def histogram(self, bins: int = 60) -> dict[str, list[float]]:
        """Counts over `bins` equal-width bins from the least to the greatest value."""
        if not self.count:
            return {"edges": [], "counts": []}
        low = -self._below.peak if self._below.count else 0.0
        high = self._above.peak if self._above.count else 0.0
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
        values, weights = [], []
        for series, sign in ((self._above, 1.0), (self._below, -1.0)):
            if series._bins is None:
                values += [sign * v for v in series._recent]
                weights += [1.0] * len(series._recent)
            else:
                series._fold()
                values += list(sign * _centre_array())
                weights += [float(w) for w in series._bins]
        counts, _ = np.histogram(np.clip(values, low, edges[-1]), edges, weights=weights)
        return {"edges": [float(e) for e in edges], "counts": [float(c) for c in counts]}
