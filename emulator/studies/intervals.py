"""Results per interval over replications, the offered load of each interval, a warm-up hint.

Each replication gives, per centre (and `all`), one row per interval (see
`measure.intervals`); here every field gets its mean over the replications
and a 95 % interval, as every metric does. The offered load is what the
scenario says will reach each centre in an interval (its arrivals, the
people who answer, the services it is first for, the time an agent holds a
desk phone): the start of `staff`'s search and the input of Erlang C and A.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from ..measure.intervals import ALL, FIELDS
from ..models.distributions import Distribution, Exponential
from ..models.people import NEVER
from ..scenario import Scenario, build
from .load import confidence


def aggregate(runs: Sequence[dict[str, list[dict[str, float | None]]]], interval: float,
              warmup: float = 0.0) -> dict[str, Any]:
    """Centre -> one row per interval: `from`, `to`, `warmup`, and each field's mean and ci95."""
    centres: dict[str, list[dict[str, Any]]] = {}
    for centre in runs[0]:
        rows = []
        for index in range(len(runs[0][centre])):
            row: dict[str, Any] = {"from": index * interval, "to": (index + 1) * interval,
                                   "warmup": (index + 1) * interval <= warmup}
            for name in FIELDS:
                values = [float(v) for run in runs
                          if (v := run[centre][index][name]) is not None]
                mean, ci = confidence(values) if values else (None, None)
                row[name] = {"mean": mean, "ci95": ci}
            rows.append(row)
        centres[centre] = rows
    return {"interval": interval, "centres": centres}


# -- what the scenario offers each centre ----------------------------------------

@dataclass(frozen=True)
class Offer:
    """What reaches one centre in one interval, by the scenario's own figures."""

    rate: float          # people who answered, per second, whose service tries it first
    aht: float           # seconds an agent's desk phone is held per call: dial, pickup, talk
    delay: float         # of the time to an agent, what no agent count shortens (dial, pickup)
    patience: float      # mean patience, seconds (math.inf: they wait for ever)

    @property
    def load(self) -> float:
        """The offered load, in erlangs."""
        return self.rate * self.aht


def offers(scenario: Scenario, interval: float) -> dict[str, list[Offer]]:
    """Centre -> the offer of each interval of the arrivals' duration."""
    arrivals = scenario.arrivals
    assert arrivals is not None
    count = max(1, math.ceil(arrivals.duration / interval))
    rates = [_arrival_rate(scenario, i * interval, min((i + 1) * interval, arrivals.duration))
             for i in range(count)]
    person = scenario.person(arrivals.person)
    answers = ((1 - person.invalid_probability) * (1 - person.busy_probability)
               * (1 - person.reject_probability) * person.answer_probability)
    patience = person.patience if isinstance(person.patience, float) else person.patience.mean
    weights = build.services(scenario)
    total = sum(weights.values())
    post_dial = scenario.pbx.post_dial_delay.mean
    out: dict[str, list[Offer]] = {}
    for name, centre in scenario.centres.items():
        share = sum(w for code, w in weights.items()
                    if scenario.services[code].centres[0] == name) / total
        agent = scenario.agent(centre.agent)
        talk = _talk(agent.talk_time, person.talk_time)
        delay = post_dial + agent.pickup_delay.mean
        out[name] = [Offer(rate * answers * share, delay + talk, delay,
                           math.inf if patience >= NEVER else patience) for rate in rates]
    return out


def _talk(agent: Distribution, person: Distribution | None) -> float:
    """The mean talk: whoever hangs up first (exact for two exponentials)."""
    if person is None:
        return agent.mean
    if isinstance(agent, Exponential) and isinstance(person, Exponential):
        return 1.0 / (1.0 / agent.mean + 1.0 / person.mean)
    return min(agent.mean, person.mean)


def configured_rates(scenario: Scenario, interval: float) -> list[float]:
    """The arrivals the scenario configures, per hour, in each interval of its duration."""
    arrivals = scenario.arrivals
    assert arrivals is not None
    count = max(1, math.ceil(arrivals.duration / interval))
    return [_arrival_rate(scenario, i * interval, min((i + 1) * interval, arrivals.duration))
            * 3600.0 for i in range(count)]


def _arrival_rate(scenario: Scenario, start: float, stop: float) -> float:
    """Requests per second over [start, stop): the profile's mean, or the file's count."""
    arrivals = scenario.arrivals
    assert arrivals is not None
    if stop <= start:
        return 0.0
    if arrivals.file is not None:
        return sum(start <= row.at < stop for row in arrivals.file.rows) / (stop - start)
    area = sum(rate * max(0.0, min(hi, stop) - max(lo, start))
               for lo, hi, rate in build.arrival_segments(arrivals))
    return area / (stop - start)


# -- a warm-up hint -----------------------------------------------------------------

def warmup_hint(document: dict[str, Any]) -> str | None:
    """A hint when the first counted interval's mean wait is not the steady state's: the
    run starts with nobody waiting. Compared with the later intervals of the same arrival
    rate (the study's `arrivals_per_hour` profile), beyond 2 standard errors and 10 %."""
    rows = document["intervals"]["centres"][ALL]
    profile = document["intervals"].get("profile") or []
    counted = [i for i, row in enumerate(rows) if not row["warmup"]]
    if len(counted) < 3 or not profile:
        return None
    first = counted[0]
    same = [i for i in counted[1:] if math.isclose(profile[i], profile[first], rel_tol=1e-9)]
    waits = [rows[i]["wait_mean"]["mean"] for i in same if rows[i]["wait_mean"]["mean"] is not None]
    start = rows[first]["wait_mean"]
    if len(waits) < 2 or start["mean"] is None:
        return None
    steady = sum(waits) / len(waits)
    spread = (max(waits) - min(waits)) / 2
    half = (start["ci95"][1] - start["mean"]) if start["ci95"] else 0.0
    if abs(start["mean"] - steady) <= max(2 * half, spread, 0.1 * steady):
        return None
    settled = next((rows[i]["to"] for i in same
                    if rows[i]["wait_mean"]["mean"] is not None
                    and abs(rows[i]["wait_mean"]["mean"] - steady) <= max(spread, 0.1 * steady)),
                   None)
    return (f"warm-up hint: the first interval's mean wait ({start['mean']:.1f} s) is not the "
            f"steady state's ({steady:.1f} s, later intervals of the same arrival rate): the "
            "run starts with nobody waiting" + (f"; try `warmup: {settled:g}s`" if settled else ""))
