"""Erlang C and Erlang A: the planner's closed forms, beside what the simulation finds.

Erlang C is the M/M/N queue (Poisson arrivals, exponential handling, N
agents, nobody gives up); Erlang A (M/M/N+M, Palm's model) adds exponential
patience, so people abandon and a queue stays finite even when the load A
exceeds N. Both give the service level, the share of callers an agent takes
within a threshold, and so the fewest agents that meet a target.

Notation: `load` A = arrival rate x mean handling time, in erlangs; times
are in units of the mean handling time's seconds (`aht`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import diags
from scipy.sparse.linalg import expm_multiply

MAX_AGENTS = 100_000


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of N lines offered A erlangs (the stable recursion)."""
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = load * blocking / (n + load * blocking)
    return blocking


def erlang_c(agents: int, load: float) -> float:
    """Probability of waiting in an M/M/N queue (1 when the load reaches N: it never empties)."""
    if load >= agents:
        return 1.0
    blocking = erlang_b(agents, load)
    return agents * blocking / (agents - load * (1 - blocking))


def service_level_c(agents: int, load: float, aht: float, within: float) -> float:
    """Erlang C's share answered within `within` seconds: 1 - C e^{-(N - A) t / aht}."""
    if load >= agents:
        return 0.0
    return 1.0 - erlang_c(agents, load) * math.exp(-(agents - load) * within / aht)


def agents_c(load: float, aht: float, within: float, target: float) -> int:
    """The fewest agents with which Erlang C's service level reaches `target`."""
    agents = max(1, math.floor(load) + 1)
    while service_level_c(agents, load, aht, within) < target and agents < MAX_AGENTS:
        agents += 1
    return agents


class ErlangA:
    """Palm's M/M/N+M queue: N agents, exponential handling and patience.

    The states are the people in the system; past N each waits, and leaves
    at the rate of their patience. The state probabilities are truncated
    where what is left is below 1e-13 of the whole.
    """

    def __init__(self, agents: int, load: float, aht: float, patience: float) -> None:
        """`patience`: the mean patience, seconds (exponential)."""
        self.agents, self.aht = agents, aht
        self.mu, self.theta = 1.0 / aht, 1.0 / patience
        self.rate = load / aht
        self.p = self._states()

    def _states(self) -> np.ndarray:
        terms = [1.0]
        n, j = self.agents, 0
        while True:
            j += 1
            serving = min(j, n) * self.mu + max(0, j - n) * self.theta
            terms.append(terms[-1] * self.rate / serving)
            if terms[-1] > 1e250:                    # keep the numbers in range
                terms = [t / 1e250 for t in terms]
            if j > n and terms[-1] < 1e-13 * sum(terms):
                break
        p = np.asarray(terms)
        return p / p.sum()

    def p_wait(self) -> float:
        """The share who find every agent busy (PASTA: the time average)."""
        return float(self.p[self.agents:].sum())

    def p_abandon(self) -> float:
        """The share who give up: the abandonment rate theta E[queue] over the arrival rate."""
        waiting = np.arange(len(self.p)) - self.agents
        return float(self.theta * (np.clip(waiting, 0, None) * self.p).sum() / self.rate)

    def service_level(self, within: float) -> float:
        """The share an agent takes within `within` seconds (those who give up count as not)."""
        served = float(self.p[:self.agents].sum())
        ahead = self.p[self.agents:]            # an arrival finds k = 0, 1, ... people ahead
        if within <= 0 or not len(ahead):
            return served
        # The tagged caller with k ahead moves up at n mu + k theta, leaves at theta;
        # the last state is "an agent took them". p0 . exp(Q t) gives where they are at t.
        k = np.arange(len(ahead), dtype=float)
        up = self.agents * self.mu + k * self.theta
        size = len(ahead) + 1
        # [i, i-1] = n mu + i theta; the last state (served) is absorbing.
        generator = diags([np.append(-(up + self.theta), 0.0), np.append(up[1:], 0.0)],
                          [0, -1], shape=(size, size)).tolil()
        generator[0, size - 1] = self.agents * self.mu
        start = np.append(ahead, 0.0)
        at = expm_multiply(generator.T.tocsr() * within, start)
        return served + float(at[-1])


def agents_a(load: float, aht: float, within: float, target: float, patience: float) -> int:
    """The fewest agents with which Erlang A's service level reaches `target`."""
    agents = 1
    while ErlangA(agents, load, aht, patience).service_level(within) < target \
            and agents < MAX_AGENTS:
        agents += 1
    return agents
