"""The SimPy driver: determinism, random streams, arrivals, the PBX's branches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emulator.models import distributions as b
from emulator.models.streams import Draws, Streams
from emulator.drivers.simulation import simulate
from emulator.scenario import loads
from emulator.units import parse_duration, parse_rate
from tests.conftest import BASE

LOAD = """\
name: an hour of traffic
seed: 11
services:
  loans: {centres: [north, south]}
centres:
  north: {terminals: 4, ring_timeout: 15s, agent: typical}
  south: {terminals: 4, ring_timeout: 15s, agent: typical}
arrivals: {rate: 120/h, person: typical, duration: 1h}
"""


def run(text: str, seed: int | None = None):  # type: ignore[no-untyped-def]
    return simulate(loads(text).scenario, seed=seed)


def summary(result) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(r.id, r.outcome, r.centre, r.code, tuple(sorted(r.times.items())))
            for r in result.records]


def test_same_seed_same_run() -> None:
    assert summary(run(LOAD)) == summary(run(LOAD))


def test_another_seed_another_run() -> None:
    assert summary(run(LOAD, seed=1)) != summary(run(LOAD, seed=2))


def test_arrivals_follow_the_rate() -> None:
    counts = [len(run(LOAD, seed=s).records) for s in range(5)]
    # 120/h for an hour: Poisson(120) each; the mean of five is within ~3 sd of 120.
    assert abs(np.mean(counts) - 120) < 3 * math.sqrt(120 / 5)


def test_arrivals_follow_each_step_of_a_day_profile() -> None:
    import simpy

    from emulator.models.arrivals import PoissonArrivals
    from emulator.drivers.clock import SimClock
    from emulator.scenario import build, loads as load_text

    arrivals = load_text(LOAD.replace(
        "arrivals: {rate: 120/h, person: typical, duration: 1h}",
        "arrivals: {profile: [{from: 0h, rate: 0/h}, {from: 1h, rate: 3600/h}, "
        "{from: 2h, rate: 360/h}], person: typical, duration: 3h}")).scenario.arrivals
    assert arrivals is not None
    env = simpy.Environment()
    times: list[float] = []
    PoissonArrivals(SimClock(env), build.arrival_segments(arrivals), {"loans": 1.0},
                    Streams(5)["arrivals"],
                    lambda service: times.append(env.now)).start()
    env.run()
    per_hour = np.histogram(times, bins=[0, 3600, 7200, 10800])[0]
    # Poisson counts: 0 in the silent hour, then 3,600 and 360 within 4 sd.
    assert per_hour[0] == 0
    assert abs(per_hour[1] - 3600) < 4 * 60 and abs(per_hour[2] - 360) < 4 * 19
    assert times == sorted(times) and times[-1] < 10800


def test_nothing_is_left_open_after_a_busy_hour() -> None:
    result = run(LOAD)
    assert result.open_at_end == {"live": 0, "rooms": 0, "codes": 0, "legs": 0, "timers": 0}
    assert {r.outcome for r in result.records} >= {"connected"}


def test_streams_are_named_not_ordered() -> None:
    # Using one stream more or less does not shift the others (common random numbers).
    a, c = Streams(5), Streams(5)
    a["agent_talk"].random(100)
    assert a["person_answer"].random() == c["person_answer"].random()
    assert Streams(5)["x"].random() != Streams(6)["x"].random()


def test_changing_agents_does_not_change_when_people_answer() -> None:
    slower = LOAD.replace("agent: typical}", "agent: slow}")
    def answered(result):  # type: ignore[no-untyped-def]
        return [r.times.get("person_answered", -1.0) - r.times["requested"]
                for r in result.records[:10]]
    assert answered(run(LOAD)) == answered(run(slower))


@pytest.mark.parametrize("person,outcome", [
    ("busy", "person_busy"), ("rejects", "person_rejected"), ("invalid", "person_invalid_number"),
    ("never_answers", "person_no_answer"), ("prompt", "connected")])
def test_each_person_profile_ends_as_it_should(person: str, outcome: str) -> None:
    text = BASE.replace("person: prompt", f"person: {person}")
    assert run(text).records[0].outcome == outcome


def test_a_ring_out_ends_at_the_person_ring_timeout() -> None:
    result = run(BASE.replace("person: prompt", "person: never_answers"))
    record = result.records[0]
    assert record.times["ended"] == pytest.approx(30.0)
    assert "no_answer" in record.notices


def test_trunks_run_out() -> None:
    text = BASE.replace("callbacks:", "pbx: {trunks: 1}\ncallbacks:").replace(
        "{at: 1s, service: mortgages, person: busy}", "{at: 1s, service: mortgages, person: prompt}")
    outcomes = [r.outcome for r in run(text).records]
    # Call 1 holds the only trunk; its agent leg finds none, and so does call 2.
    assert outcomes == ["no_trunk", "no_trunk"]


@pytest.mark.parametrize("text,seconds", [("300ms", 0.3), ("4s", 4), ("2min", 120), ("1h", 3600),
                                          (7, 7), ("1.5 s", 1.5), ("1d", 86400)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5m", "-1s", "fast", "1 parsec", True, None, [1]])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("text,per_second", [("120/h", 120 / 3600), ("2/min", 2 / 60),
                                             ("0.5/s", 0.5), (3, 3.0)])
def test_rates(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("dist,mean", [
    (b.Fixed(2.0), 2.0), (b.Uniform(1.0, 3.0), 2.0), (b.Exponential(5.0), 5.0),
    (b.LogNormal(4.0, 0.5), 4.0 * math.exp(0.125)), (b.Gamma(3.0, 0.5), 3.0),
    (b.Empirical((1.0, 2.0, 6.0)), 3.0)])
def test_distributions_sample_around_their_mean(dist: b.Distribution, mean: float) -> None:
    for rng in (np.random.default_rng(1), Draws(np.random.default_rng(1))):
        samples = [dist.sample(rng) for _ in range(20000)]
        assert dist.mean == pytest.approx(mean)
        assert np.mean(samples) == pytest.approx(mean, rel=0.03)
        assert min(samples) >= 0


@pytest.mark.parametrize("dist", [b.Uniform(1.0, 3.0), b.Exponential(5.0), b.LogNormal(4.0, 0.5)])
def test_block_draws_are_the_values_numpy_draws_one_at_a_time(dist: b.Distribution) -> None:
    # 3,000 draws cross two block boundaries.
    one_by_one = np.random.default_rng(7)
    blocks = Draws(np.random.default_rng(7))
    expected = [dist.sample(one_by_one) for _ in range(3000)]
    assert [dist.sample(blocks) for _ in range(3000)] == pytest.approx(expected, rel=1e-12)


def test_block_draws_of_different_kinds_do_not_overlap() -> None:
    draws = Draws(np.random.default_rng(3), block=4)
    uniforms = [draws.random() for _ in range(6)]
    exponentials = [draws.exponential() for _ in range(6)]
    array = draws.random(3)                      # a size goes to numpy itself
    assert len(set(uniforms) | set(exponentials) | set(array.tolist())) == 15
    assert draws.integers(10) in range(10)       # and so does what Draws does not buffer


@pytest.mark.parametrize("runner", ["simpy", "clock"])
def test_sim_clock_steps_run_in_time_order_among_simpy_events(runner: str) -> None:
    import simpy

    from emulator.drivers.clock import SimClock

    env = simpy.Environment()
    clock, seen = SimClock(env), []

    def process():  # type: ignore[no-untyped-def]
        yield env.timeout(1.25)
        seen.append(f"process at {env.now}")

    clock.later(2.0, seen.append, "step at 2")
    clock.later(1.0, seen.append, "step at 1")
    env.timeout(1.5).callbacks.append(lambda _: seen.append("timeout at 1.5"))
    env.process(process())
    clock.later(1.0, seen.append, "second step at 1")    # ties keep the order they were made
    clock.later(0.5, lambda: clock.later(0.0, seen.append, f"nested at {clock.now()}"))
    env.run() if runner == "simpy" else clock.run()
    assert seen == ["nested at 0.5", "step at 1", "second step at 1", "process at 1.25",
                    "timeout at 1.5", "step at 2"]
    assert clock.now() == 2.0
    with pytest.raises(ValueError, match="negative delay"):
        clock.later(-1.0, seen.append, "never")


@pytest.mark.parametrize("make", [lambda: b.Fixed(-1), lambda: b.Uniform(3, 1),
                                  lambda: b.Exponential(0), lambda: b.LogNormal(0, 1),
                                  lambda: b.Gamma(1, 0), lambda: b.Empirical(())])
def test_impossible_distributions_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        make()


def test_draws_copy_and_pickle_with_their_place_in_the_stream() -> None:
    import copy
    import pickle

    draws = Draws(np.random.default_rng(4))
    draws.random()
    twins = [copy.deepcopy(draws), pickle.loads(pickle.dumps(draws))]
    expected = [draws.random() for _ in range(1500)]     # into the next block
    for twin in twins:
        assert [twin.random() for _ in range(1500)] == expected
