"""The quality metrics of the room (`measure.catalogue.QUALITY`), streamed as rooms end (bounded memory).

The series live in the switchboard collector's `series` mapping, beside the
stage latencies, so that they travel with it out of a replication and are
computed, pooled and reported the same way.
"""

from __future__ import annotations

from typing import MutableMapping

from ...measure.catalogue import QUALITY
from ...measure.series import Series


class Quality:
    """One series per `QUALITY` metric, in the mapping given (the collector's `series`)."""

    def __init__(self, series: MutableMapping[str, Series] | None = None) -> None:
        self.series: MutableMapping[str, Series] = {} if series is None else series
        for name in QUALITY:
            self.series.setdefault(name, Series())

    def add(self, name: str, value: float) -> None:
        """Count one value of the quality metric `name`."""
        self.series[name].add(value)
