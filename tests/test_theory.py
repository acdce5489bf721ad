"""The emulator against queueing theory: the loss case against Erlang B.

One centre of N desk phones, people and agents that answer at once, an
exponential talk time and no queue: a callback that finds every terminal
held ends `no_agent`, so the fraction of `no_agent` is the blocking
probability of an M/M/N/N system, Erlang B (Poisson arrivals see time
averages, PASTA).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from emulator.studies.load import run_replications
from emulator.scenario import loads


def erlang_b(servers: int, load: float) -> float:
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def loss_system(terminals: int, load: float, calls: int) -> str:
    talk = 180.0                           # seconds, exponential
    rate = load / talk                     # arrivals per second
    hours = calls / rate / 3600
    return textwrap.dedent(f"""\
        name: Erlang B check, N={terminals}, A={load}
        seed: {terminals * 1000 + int(load * 10)}
        services:
          s: {{centres: [only]}}
        centres:
          only:
            terminals: {terminals}
            ring_timeout: 15s
            agent: {{pickup_delay: {{fixed: 0s}}, talk_time: {{exponential: {{mean: {talk}s}}}},
                     code_entry_delay: {{fixed: 0s}}}}
        profiles:
          people:
            instant: {{answer_delay: {{fixed: 0s}}}}
        pbx: {{trunks: 100000, post_dial_delay: {{fixed: 0s}}, bridge_delay: {{fixed: 0s}}}}
        rooms: {{rooms_per_server: 100000, create_delay: 0s, join_delay: 0s, delete_delay: 0s}}
        codes: {{digits: 6}}
        arrivals: {{rate: {rate * 3600:.6f}/h, person: instant, duration: {hours:.3f}h, warmup: 2h}}
        """)


@pytest.mark.parametrize("terminals,load", [(5, 2.0), (5, 4.0), (8, 8.0)])
def test_no_agent_matches_erlang_b(terminals: int, load: float) -> None:
    scenario = loads(loss_system(terminals, load, calls=6000)).scenario
    runs = run_replications(scenario, 6, workers=2, progress=False)
    blocked = np.array([r.metrics["outcomes.no_agent"] for r in runs], dtype=float)
    expected = erlang_b(terminals, load)
    # Six replications of ~6,000 callbacks: the standard error of their mean
    # is measured from the replications themselves; 4 standard errors (plus a
    # 2 % relative allowance for the small start-up bias left after the 2 h
    # warm-up) keeps a false alarm below 1 in 10,000 while a model error of
    # 10 % (e.g. terminals freed late, or blocked calls counted twice) fails.
    error = blocked.std(ddof=1) / np.sqrt(len(blocked))
    assert abs(blocked.mean() - expected) <= 4 * error + 0.02 * expected, (
        blocked.mean(), expected, error)
    assert error < 0.1 * expected          # the check is sharp enough to mean something


def erlang_c(servers: int, load: float) -> float:
    """Probability that a caller waits in an M/M/N queue."""
    blocking = erlang_b(servers, load)
    return servers * blocking / (servers - load * (1 - blocking))


def queue_system(terminals: int, load: float, calls: int) -> str:
    # The loss system, with an unbounded hold queue at the centre.
    return loss_system(terminals, load, calls).replace(
        "ring_timeout: 15s\n", "ring_timeout: 15s\n    queue: {max_wait: 100000h}\n")


@pytest.mark.parametrize("terminals,load", [(5, 3.0), (5, 4.0), (8, 6.5)])
def test_waiting_matches_erlang_c(terminals: int, load: float) -> None:
    scenario = loads(queue_system(terminals, load, calls=8000)).scenario
    runs = run_replications(scenario, 6, workers=2, progress=False)
    waited = np.array([r.metrics["queued"] for r in runs], dtype=float)
    # Mean wait over every caller = P(wait) x the mean wait of those who waited.
    wait = np.array([r.metrics["queued"] * r.metrics["queue_wait.mean"] for r in runs])
    assert all(r.metrics["outcomes.connected"] == 1.0 for r in runs)   # nobody is turned away
    p_wait = erlang_c(terminals, load)
    mean_wait = p_wait * 180.0 / (terminals - load)       # W_q = C / (N mu - lambda)
    # Same tolerance argument as for Erlang B; the mean wait is noisier (heavy
    # correlation between neighbours in a queue near saturation), hence 5 %.
    for measured, expected, slack in ((waited, p_wait, 0.02), (wait, mean_wait, 0.05)):
        error = measured.std(ddof=1) / np.sqrt(len(measured))
        assert abs(measured.mean() - expected) <= 4 * error + slack * expected, (
            measured.mean(), expected, error)
        assert error < 0.15 * expected
