"""What an operations team watches: Prometheus metrics and one log line per state change.

`SystemMetrics` is a switchboard observer with a registry of its own
(prometheus-client): callbacks by outcome, stage latencies as histograms
(the stages of `stages.py`), and gauges read when scraped (live calls, rooms
open, codes in use and free, records waiting to be written, SIP
retransmissions). `StateLog` writes one JSON line per state change of a
callback, the person's number masked, to the `callback.flow` logger.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from . import flow as f
from .records import CallbackRecord
from .stages import STAGE_MARKS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: from a loopback bridge (tens of ms) to a long wait on hold.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)

log = logging.getLogger("callback.flow")


def masked(number: str) -> str:
    """A phone number as logs and operators see it: enough to tell calls apart."""
    return number[:4] + "•" * max(0, len(number) - 7) + number[-3:] if len(number) > 7 else number


class SystemMetrics:
    """Counters and histograms fed by the switchboard, gauges read when scraped."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.outcomes = Counter("callbacks", "Callbacks ended, by outcome", ["outcome"],
                                registry=self.registry)
        self.stages = Histogram("callback_stage_seconds", "Stage latencies of ended callbacks",
                                ["stage"], buckets=BUCKETS, registry=self.registry)
        self.requests = Counter("callback_requests", "Callback requests started",
                                registry=self.registry)
        for outcome in f.Outcome:                 # every series exists from the start, at 0
            self.outcomes.labels(outcome.value)
        for stage in STAGE_MARKS:
            self.stages.labels(stage)

    def gauge(self, name: str, what: str, read: Callable[[], float]) -> None:
        """A value read at each scrape (live calls, rooms open, the write queue, a count
        kept elsewhere such as the SIP PBX's retransmissions)."""
        Gauge(name, what, registry=self.registry).set_function(read)

    # -- the Observer protocol -----------------------------------------------

    events_watched = (f.CallbackRequested,)
    commands_watched = ()

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """A request starts."""
        self.requests.inc()

    def closed(self, record: CallbackRecord) -> None:
        """An ended callback: its outcome and its stages."""
        self.outcomes.labels(record.outcome or "unknown").inc()
        times = record.times
        for stage, (start, stop) in STAGE_MARKS.items():
            if start in times and stop in times:
                self.stages.labels(stage).observe(max(0.0, times[stop] - times[start]))

    def text(self) -> bytes:
        """The exposition, Prometheus text format."""
        return generate_latest(self.registry)


class StateLog:
    """One JSON line per state change of a callback, the person's number masked."""

    events_watched = (f.CallbackRequested,)
    commands_watched = ()

    def __init__(self, logger: logging.Logger = log) -> None:
        self.logger = logger
        self._numbers: dict[str, str] = {}

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """Keep the number of a request, masked, for its lines."""
        self._numbers[callback_id] = masked(event.person_number)   # type: ignore[attr-defined]

    def changed(self, callback_id: str, was: f.State, now_in: f.State, event: f.Event,
                now: float) -> None:
        """Log the change."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        self.logger.info(json.dumps({
            "at": round(time.time(), 3), "callback": callback_id, "from": was.value,
            "to": now_in.value, "on": f.event_kind(event),
            "number": self._numbers.get(callback_id, "")}, ensure_ascii=False))

    def closed(self, record: CallbackRecord) -> None:
        """Keep nothing of an ended callback."""
        self._numbers.pop(record.id, None)
