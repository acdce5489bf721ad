"""Erlang C and Erlang A: the formulas against independent references, and the emulator
against Erlang A.

Erlang C is checked against pyworkforce (an independent implementation,
installed with the test extra). pyworkforce has no Erlang A, so Erlang A is
checked against a textbook computation written here from scratch: the whole
M/M/N+M birth-death chain (truncated) solved as a linear system for its
stationary law, and the tagged caller's race against their patience
integrated with a dense matrix exponential; and it must fall back to Erlang C
as patience grows without bound. Then the emulator, with exponential
patience, against Erlang A at three loads, one of them overloaded (A > N).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
from scipy.linalg import expm

from emulator.scenario import loads
from emulator.studies import erlang
from emulator.studies.load import run_replications

pyworkforce = pytest.importorskip("pyworkforce.queuing")

AHT, WITHIN = 180.0, 20.0
GRID = [(5, 3.0), (8, 6.5), (12, 10.0), (30, 25.0), (60, 52.0)]


def reference_c(agents: int, load: float) -> "pyworkforce.ErlangC":
    # pyworkforce counts transactions per interval and times in the interval's unit.
    return pyworkforce.ErlangC(transactions=load / AHT * 1800, aht=AHT / 60, asa=WITHIN / 60,
                               interval=30)


@pytest.mark.parametrize("agents,load", GRID)
def test_erlang_c_matches_pyworkforce(agents: int, load: float) -> None:
    ref = reference_c(agents, load)
    assert erlang.erlang_c(agents, load) == pytest.approx(ref.waiting_probability(agents), rel=1e-9)
    assert erlang.service_level_c(agents, load, AHT, WITHIN) == pytest.approx(
        ref.service_level(agents), rel=1e-9)


@pytest.mark.parametrize("load", [0.5, 2.0, 6.5, 10.0, 25.0, 52.0])
@pytest.mark.parametrize("target", [0.7, 0.8, 0.9])
def test_erlang_c_staffing_matches_pyworkforce(load: float, target: float) -> None:
    expected = reference_c(1, load).required_positions(target)["raw_positions"]
    assert erlang.agents_c(load, AHT, WITHIN, target) == expected


# -- Erlang A, from the textbook ------------------------------------------------------

def textbook_a(agents: int, load: float, patience: float, within: float) -> tuple[float, ...]:
    """P(wait), P(abandon), service level of M/M/N+M by brute force."""
    lam, mu, theta = load / AHT, 1 / AHT, 1 / patience
    size = agents + 400                               # states 0..size-1, far past any mass
    q = np.zeros((size, size))
    for j in range(size):
        if j + 1 < size:
            q[j, j + 1] = lam
        if j > 0:
            q[j, j - 1] = min(j, agents) * mu + max(0, j - agents) * theta
        q[j, j] = -q[j].sum()
    # pi Q = 0 with sum(pi) = 1: replace one equation by the normalisation
    system = np.vstack([q.T[:-1], np.ones(size)])
    pi = np.linalg.solve(system, np.append(np.zeros(size - 1), 1.0))
    p_wait = pi[agents:].sum()
    queue = np.clip(np.arange(size) - agents, 0, None)
    p_abandon = theta * (queue * pi).sum() / lam
    # The tagged caller with k ahead: states (k ahead, ..., 0 ahead, served, gave up).
    k_max = size - agents
    chain = np.zeros((k_max + 2, k_max + 2))
    served, gone = k_max, k_max + 1
    for k in range(k_max):
        chain[k, k - 1 if k else served] = agents * mu + k * theta
        chain[k, gone] = theta
        chain[k, k] = -chain[k].sum()
    reach = expm(chain * within)[:k_max, served]
    level = pi[:agents].sum() + (pi[agents:agents + k_max] * reach).sum()
    return p_wait, p_abandon, level


@pytest.mark.parametrize("agents,load,patience", [(5, 3.0, 120.0), (10, 12.0, 60.0),
                                                  (8, 6.0, 600.0), (20, 25.0, 180.0)])
def test_erlang_a_matches_the_textbook_chain(agents: int, load: float, patience: float) -> None:
    model = erlang.ErlangA(agents, load, AHT, patience)
    p_wait, p_abandon, level = textbook_a(agents, load, patience, WITHIN)
    assert model.p_wait() == pytest.approx(p_wait, rel=1e-6)
    assert model.p_abandon() == pytest.approx(p_abandon, rel=1e-6)
    assert model.service_level(WITHIN) == pytest.approx(level, rel=1e-6)


@pytest.mark.parametrize("agents,load", GRID[:3])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(agents: int, load: float) -> None:
    model = erlang.ErlangA(agents, load, AHT, patience=1e9)
    assert model.p_wait() == pytest.approx(erlang.erlang_c(agents, load), rel=1e-5)
    assert model.service_level(WITHIN) == pytest.approx(
        reference_c(agents, load).service_level(agents), rel=1e-5)
    assert model.p_abandon() < 1e-5


def test_erlang_a_staffs_fewer_than_c_and_copes_with_overload() -> None:
    # People who give up shorten the queue: fewer agents meet the same target, and a
    # load above the agents has a steady state (Erlang C has none).
    assert erlang.agents_a(10.0, AHT, WITHIN, 0.8, patience=60.0) < erlang.agents_c(10.0, AHT,
                                                                                   WITHIN, 0.8)
    overloaded = erlang.ErlangA(5, 7.0, AHT, 180.0)
    assert 0.2 < overloaded.p_abandon() < 1 and 0.5 < overloaded.p_wait() < 1
    assert erlang.erlang_c(5, 7.0) == 1.0 and erlang.service_level_c(5, 7.0, AHT, WITHIN) == 0.0


# -- the emulator against Erlang A ----------------------------------------------------

def impatient_queue(agents: int, load: float, patience: float, calls: int) -> str:
    rate = load / AHT
    hours = calls / rate / 3600
    return textwrap.dedent(f"""\
        name: Erlang A check, N={agents}, A={load}, patience {patience}
        seed: {agents * 1000 + int(load * 10)}
        services:
          s: {{centres: [only]}}
        centres:
          only:
            terminals: {agents}
            queue: {{max_wait: 100000h}}
            agent: {{pickup_delay: 0s, talk_time: {{exponential: {{mean: {AHT}s}}}},
                     code_entry_delay: 0s}}
        profiles:
          people:
            waiting: {{answer_delay: 0s, patience: {{exponential: {{mean: {patience}s}}}}}}
        pbx: {{trunks: 100000, post_dial_delay: 0s, bridge_delay: 0s}}
        rooms: {{rooms_per_server: 100000, create_delay: 0s, join_delay: 0s, delete_delay: 0s}}
        codes: {{digits: 6}}
        arrivals: {{rate: {rate * 3600:.6f}/h, person: waiting, duration: {hours:.3f}h, warmup: 1h}}
        """)


@pytest.mark.parametrize("agents,load,patience", [(5, 3.0, 180.0), (5, 4.5, 120.0),
                                                  (5, 7.0, 180.0)])
def test_abandonment_and_waiting_match_erlang_a(agents: int, load: float, patience: float) -> None:
    """P(wait) is the share put on hold (`queued`), P(abandon) the share that hung up
    waiting (`outcomes.person_abandoned`): everyone answers at once, so every callback is
    offered to the queue. The last load is above the agents (A > N)."""
    scenario = loads(impatient_queue(agents, load, patience, calls=5000)).scenario
    runs = run_replications(scenario, 6, workers=2, progress=False)
    model = erlang.ErlangA(agents, load, AHT, patience)
    for name, expected in (("queued", model.p_wait()),
                           ("outcomes.person_abandoned", model.p_abandon())):
        measured = np.array([r.metrics[name] for r in runs], dtype=float)
        error = measured.std(ddof=1) / math.sqrt(len(measured))
        # Six replications of ~5,000 callbacks: 4 standard errors of the mean (measured
        # from the replications) keep a false alarm below 1 in 10,000; the 3 % relative
        # allowance covers the start-up left after the 1 h warm-up. A model that let
        # people wait past their patience, or counted abandonment twice, misses by more.
        assert abs(measured.mean() - expected) <= 4 * error + 0.03 * expected, (
            name, measured.mean(), expected, error)
        assert error < 0.1 * expected           # sharp enough to mean something
