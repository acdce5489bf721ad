"""The estimated wait: places in the queue, handling times learnt from calls, the error
measured in the emulator (`ewt_error`), and the signed series that holds it."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.drivers.simulation import Simulation, simulate
from emulator.measure.series import EXACT_LIMIT, SignedSeries
from emulator.scenario import loads
from reference_impl import flow as f
from reference_impl.estimate import PRIOR_HANDLE, WaitEstimator
from reference_impl.records import CallbackRecord


def test_places_follow_the_order_people_joined_the_queue() -> None:
    waits = WaitEstimator({"madrid": 2})
    for number, who in enumerate(("a", "b", "c")):
        waits.command(who, f.AwaitTerminal(centre="madrid"), float(number))
    assert [waits.queued(who).position for who in "abc"] == [1, 2, 3]   # type: ignore[union-attr]
    assert waits.queued("c").seconds == pytest.approx(3 * PRIOR_HANDLE / 2)  # type: ignore[union-attr]
    waits.event("a", f.TerminalSeized(terminal="+34910000001"), 5.0)
    assert waits.queued("a") is None and waits.queued("b").position == 1   # type: ignore[union-attr]
    waits.command("c", f.LeaveQueue(centre="madrid"), 6.0)
    assert waits.queued("c") is None


def test_the_wait_divides_by_the_agents_on_duty_not_the_desk_phones() -> None:
    # A centre of 10 desk phones with 2 agents on its shift: the queue moves at 2 calls
    # per handling time. The real switchboard's count, as a shift change sets it.
    from reference_impl.directory import Centre, Directory, Service
    from reference_impl.terminals import TerminalPool

    pool = TerminalPool(Directory(
        services={"s": Service(code="s", centres=("madrid",))},
        centres={"madrid": Centre(name="madrid", ring_timeout=15.0, terminals=tuple(
            f"+3491000000{n}" for n in range(10)))}))
    waits = WaitEstimator({"madrid": 10}, on_duty=pool.on_duty)
    waits.command("a", f.AwaitTerminal(centre="madrid"), 0.0)
    assert waits.queued("a").seconds == pytest.approx(PRIOR_HANDLE / 10)   # type: ignore[union-attr]
    pool.set_on_duty("madrid", 2)
    assert waits.queued("a").seconds == pytest.approx(PRIOR_HANDLE / 2)    # type: ignore[union-attr]
    pool.set_on_duty("madrid", 0)                          # between shifts: as if one
    assert waits.queued("a").seconds == pytest.approx(PRIOR_HANDLE)        # type: ignore[union-attr]


def test_handling_times_are_learnt_from_the_calls_that_end() -> None:
    waits = WaitEstimator({"madrid": 1}, prior=100.0)
    waits.event("x", f.LegAnswered(leg="agent-1"), 10.0)
    record = CallbackRecord(id="x", form={}, service_code="s", person_number="+34600000000",
                            state="ended", centre="madrid", times={"ended": 310.0})
    waits.closed(record)
    assert waits.handle["madrid"] == pytest.approx(100.0 + 0.1 * (300.0 - 100.0))


def test_the_first_estimate_is_compared_with_when_an_agent_answered() -> None:
    told: list[float] = []
    waits = WaitEstimator({"madrid": 1}, prior=60.0, on_error=lambda cid, e, now: told.append(e))
    waits.command("x", f.AwaitTerminal(centre="madrid"), 100.0)      # estimated: 60 s
    waits.command("x", f.AwaitTerminal(centre="madrid"), 120.0)      # a second look: not kept
    waits.event("x", f.LegAnswered(leg="agent-1"), 190.0)            # 90 s after the first
    assert told == [pytest.approx(30.0)]


QUEUE = """\
name: a queue the status page estimates
seed: 3
services:
  s: {centres: [c]}
centres:
  c: {terminals: 3, ring_timeout: 20s, agent: steady, queue: {max_wait: 30min}}
profiles:
  agents:
    steady: {pickup_delay: {fixed: 2s}, talk_time: {exponential: {mean: 3min}}}
arrivals: {rate: 50/h, duration: 4h, services: {s: 1.0}}
"""


def test_the_emulator_measures_the_estimates_error_with_its_sign() -> None:
    result = simulate(loads(QUEUE).scenario)
    metrics = result.metrics
    assert result.collector is not None
    assert metrics["ewt_error.count"] and metrics["ewt_error.count"] > 20
    # The estimate is sometimes early and sometimes late: both signs are seen.
    assert metrics["ewt_error.p50"] is not None and metrics["ewt_error.max"] > 0
    low = result.collector.series["ewt_error"].quantiles([1])[0]
    assert low < 0


def test_a_scenario_without_waits_measures_no_error_and_costs_nothing() -> None:
    plain = QUEUE.replace(", queue: {max_wait: 30min}", "")
    simulation = Simulation(loads(plain).scenario)
    assert simulation.run().metrics["ewt_error.count"] == 0
    hooks = simulation.switchboard._commands._all                    # no estimator watching
    assert not any(isinstance(getattr(hook, "__self__", None), WaitEstimator) for hook, _ in hooks)


@pytest.mark.parametrize("count", [300, EXACT_LIMIT * 3])
def test_signed_series_percentiles_match_numpy_in_both_modes(count: int) -> None:
    values = np.random.default_rng(7).normal(0.0, 60.0, count)
    series = SignedSeries()
    for value in values:
        series.add(float(value))
    exact = np.percentile(values, [1, 25, 50, 75, 99])
    found = series.quantiles([1, 25, 50, 75, 99])
    assert found == pytest.approx(list(exact), rel=0.02, abs=0.5)
    assert series.mean == pytest.approx(float(values.mean()))
    assert series.peak == pytest.approx(float(values.max()), rel=0.01)
    other = SignedSeries()
    other.add(-1000.0)
    series.merge(other)
    assert series.count == count + 1 and series.quantiles([0])[0] == pytest.approx(-1000, rel=0.01)
    histogram = series.histogram(20)
    assert histogram["edges"][0] == pytest.approx(-1000, rel=0.01) and sum(histogram["counts"]) \
        == pytest.approx(count + 1)
