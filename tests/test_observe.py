"""Metrics in Prometheus text and one log line per state change, numbers masked."""

from __future__ import annotations

import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from reference_impl import flow as f
from reference_impl.codes import CodePool
from reference_impl.directory import Centre, Directory, Service
from reference_impl.observe import StateLog, SystemMetrics
from reference_impl.ports import NoNotifier
from reference_impl.records import MemoryRecords
from reference_impl.wiring import wire

DIRECTORY = Directory(services={"loans": Service(code="loans", centres=("north",))},
                      centres={"north": Centre(name="north", terminals=("+34910000001",),
                                               ring_timeout=15.0)})


class Quiet:
    """Ports that take every command and report nothing (the test feeds the events)."""

    def dial(self, *args: object) -> None: ...
    def hangup(self, *args: object) -> None: ...
    def bridge(self, *args: object) -> None: ...
    def create(self, *args: object) -> None: ...
    def join(self, *args: object) -> None: ...
    def delete(self, *args: object) -> None: ...
    def call_ended(self, *args: object) -> None: ...
    def start(self, *args: object) -> None: ...
    def cancel(self, *args: object) -> None: ...


def samples(metrics: SystemMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.text().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_outcomes_stages_and_gauges_are_exposed(caplog) -> None:  # type: ignore[no-untyped-def]
    metrics, states = SystemMetrics(), StateLog()
    clock = iter(range(100))
    sb = wire(directory=DIRECTORY, codes=CodePool(), clock=lambda: float(next(clock)),
              telephony=lambda d: Quiet(), rooms=lambda d: Quiet(), timers=lambda d: Quiet(),
              notifier=NoNotifier(), records=MemoryRecords(), observers=[metrics, states])
    metrics.gauge("live_calls", "Callbacks under way", lambda: len(sb.live_ids()))
    with caplog.at_level(logging.INFO, logger="callback.flow"):
        busy = sb.request({"service": "loans"}, "+34600123456")
        sb.deliver(busy, f.LegFailed(leg=f.PERSON_LEG, reason=f.FailReason.BUSY))
        up = sb.request({"service": "loans"}, "+34600999888")
        sb.deliver(up, f.LegRinging(leg=f.PERSON_LEG))
    got = samples(metrics)
    assert got[("callbacks_total", (("outcome", "person_busy"),))] == 1.0
    assert got[("callbacks_total", (("outcome", "connected"),))] == 0.0
    assert got[("callback_requests_total", ())] == 2.0
    assert got[("live_calls", ())] == 1.0
    assert got[("callback_stage_seconds_count", (("stage", "time_to_ring"),))] == 0.0
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "callback.flow"]
    assert [(l["from"], l["to"]) for l in lines] == [
        ("idle", "dialling_person"), ("dialling_person", "ended"), ("idle", "dialling_person"),
        ("dialling_person", "person_ringing")]
    assert all("600123456" not in r.getMessage() and "600999888" not in r.getMessage()
               for r in caplog.records)
    assert lines[0]["number"].startswith("+346") and lines[0]["number"].endswith("456")


def test_stage_histograms_count_ended_callbacks() -> None:
    metrics = SystemMetrics()
    from reference_impl.records import CallbackRecord
    metrics.closed(CallbackRecord(id="1", form={}, person_number="", service_code="loans",
                                  state="ended", outcome="connected",
                                  times={"requested": 0.0, "person_ringing": 0.4,
                                         "person_answered": 2.0, "agent_answered": 7.0,
                                         "bridged": 7.1, "ended": 60.0}))
    got = samples(metrics)
    assert got[("callback_stage_seconds_count", (("stage", "callback_latency"),))] == 1.0
    assert got[("callback_stage_seconds_sum", (("stage", "time_to_agent"),))] == 5.0
    assert got[("callback_stage_seconds_bucket", (("le", "0.5"), ("stage", "time_to_ring")))] == 1.0
