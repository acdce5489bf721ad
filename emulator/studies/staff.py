"""`staff`: the fewest agents on duty per interval and centre that meet a target.

The search goes interval by interval in time order. For interval k the plan
of the intervals before it is kept, and the day is simulated from `CARRY`
before k's start to the end of k (replications, common seeds), so what
earlier intervals leave waiting or talking is carried over; a backlog older
than that is what the whole-day check at the end catches. The search starts
from the Erlang figure of k's offered load (Erlang A where people's patience
is finite, else C), adds an agent where a centre misses the target, then
takes agents away from a centre that meets it while every centre still
does. "Meets" means with 95 % confidence (the whole interval on the right
side). Where one more agent makes no difference the replications can tell
apart (two in a row while the mean is on the wrong side), more agents cannot
help (too few calls to be sure, or a limit agents do not lift: ring-outs,
failover), and the search stops there: the interval stays "unsure" when its
95 % interval holds the target (too few calls to tell either way). At the
end the whole day runs with the plan; an interval past the warm-up that
slipped (judged worse, or unsure with its mean short of the target) gets one
agent more, once, and the day runs again (at most `REPAIRS` times); what the
last run measured is what the plan reports (and what `load` of the written
plan prints with the same replications).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..scenario import Scenario
from ..scenario.schema import Arrivals, RateStep, StaffStep
from . import erlang
from .intervals import Offer, aggregate, offers
from .load import confidence, replicate, replication_seeds
from .targets import _OPS, Condition

# Target metrics `staff` judges per interval, and the field of an interval's row each is.
FIELDS = {"service_level": "service_level", "time_to_agent.mean": "wait_mean",
          "time_to_agent.p95": "wait_p95"}
MET, UNSURE, MISSED, QUIET = "met", "unsure", "missed", "no_calls"
RANK = {MISSED: 0, QUIET: 1, UNSURE: 1, MET: 2}
REPAIRS = 3                   # whole-day checks that may add agents to slipped intervals
# How far before an interval its trials start simulating: queues and talks older than
# this have drained (holds are minutes, talks minutes); it keeps a trial's cost flat
# over the day instead of growing with the interval's hour.
CARRY = 7200.0


def check_target(conditions: list[Condition]) -> str | None:
    """None if `staff` can judge every condition per interval; else what is wrong."""
    for condition in conditions:
        if condition.metric not in FIELDS:
            return (f"staff judges {', '.join(FIELDS)} per interval, not {condition.metric}")
    return None


@dataclass
class Row:
    """One interval of one centre's plan."""

    centre: str
    start: float
    stop: float
    agents: int
    offer: Offer
    erlang_c: int | None = None
    erlang_a: int | None = None
    status: str = QUIET
    values: dict[str, Any] = field(default_factory=dict)      # the interval's row, aggregated
    searched: str = QUIET      # the status the search found, before the whole day ran
    topped_up: bool = False    # given an agent by the whole-day check

    def json(self, shrinkage: float) -> dict[str, Any]:
        """The plan's entry (SCENARIOS.md's format, with what else the search knows)."""
        return {"centre": self.centre, "from": self.start, "to": self.stop, "agents": self.agents,
                "scheduled": scheduled(self.agents, shrinkage), "erlang_c": self.erlang_c,
                "erlang_a": self.erlang_a, "offered_load": self.offer.load,
                "status": self.status, **{k: self.values.get(k) for k in
                                          ("service_level", "wait_mean", "wait_p95", "abandoned",
                                           "arrivals", "answered", "busy", "occupancy")}}


def scheduled(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that `agents` are on duty after shrinkage (breaks, training)."""
    return math.ceil(agents / (1.0 - shrinkage) - 1e-9)


class StaffSearch:
    """The search of one scenario's plan (see the module's docstring)."""

    def __init__(self, scenario: Scenario, interval: float, target: list[Condition], *,
                 replications: int, centres: list[str] | None = None,
                 workers: int | None = None,
                 on_row: Callable[[Row], None] | None = None) -> None:
        assert scenario.arrivals is not None
        self.scenario, self.interval, self.target = scenario, interval, target
        self.replications = replications
        self.seeds = replication_seeds(scenario.seed, replications)
        self.centres = centres or list(scenario.centres)
        self.offers = offers(scenario, interval)
        self.count = len(next(iter(self.offers.values())))
        self.cap = {c: _cap(scenario, c, max(o.load for o in self.offers[c]))
                    for c in self.centres}
        self.workers = workers or min(replications, os.cpu_count() or 1)
        self.on_row = on_row
        self.plan: dict[str, list[int]] = {c: [] for c in self.centres}
        self.rows: dict[str, list[Row]] = {c: [] for c in self.centres}
        self.evaluations = 0

    # -- running ---------------------------------------------------------------

    def run(self) -> dict[str, list[Row]]:
        """The plan, every interval and centre; verified over the whole day."""
        pool: Executor | None = ProcessPoolExecutor(self.workers) if self.workers > 1 else None
        self.pool = pool
        try:
            for index in range(self.count):
                self._interval(index)
            self._verify()
        finally:
            if pool is not None:
                pool.shutdown()
        return self.rows

    def _interval(self, index: int) -> None:
        offered = [c for c in self.centres if self.offers[c][index].rate > 0]
        agents = {c: self._start(c, index) if c in offered else 0 for c in self.centres}
        found = self._evaluate(index, agents) if offered else {}
        agents, found = self._grow(index, agents, found, offered)
        agents, found = self._shrink(index, agents, found, offered)
        for centre in self.centres:
            self.plan[centre].append(agents[centre])
            row = self._row(centre, index, agents[centre], found.get(centre))
            self.rows[centre].append(row)
            if self.on_row is not None:
                self.on_row(row)

    def _start(self, centre: str, index: int) -> int:
        figure_c, figure_a = self._erlang(self.offers[centre][index])
        start = figure_a if figure_a is not None else figure_c
        return min(self.cap[centre], max(1, start or 1))

    def _grow(self, index: int, agents: dict[str, int], found: dict[str, Any],
              offered: list[str]) -> tuple[dict[str, int], dict[str, Any]]:
        """Add an agent where a centre misses the target, while it helps."""
        stuck: set[str] = set()
        # Each centre's last state that an added agent improved (or the start): an agent
        # tried on a short mean that the next one shows was no help is taken back too.
        helped = {c: (agents[c], found[c]) for c in offered}
        while True:
            growing = [c for c in offered if c not in stuck and self._status(found[c]) != MET
                       and agents[c] < self.cap[c]]
            if not growing:
                return agents, found
            trial = {**agents, **{c: agents[c] + 1 for c in growing}}
            after = self._evaluate(index, trial)
            for centre in growing:
                if self._helps(helped[centre][1], after[centre]):
                    helped[centre] = (trial[centre], after[centre])
                    continue
                # A mean on the wrong side gets a second agent before giving up: one
                # agent's effect can hide in the noise of a short interval.
                if trial[centre] - helped[centre][0] >= 2 or not self._short(found[centre]):
                    stuck.add(centre)            # more agents change nothing we can tell
                    trial[centre], after[centre] = helped[centre]
            if all(c in stuck for c in growing):
                return {**agents, **{c: helped[c][0] for c in growing}}, {
                    **found, **{c: helped[c][1] for c in growing}}
            agents, found = trial, after

    def _shrink(self, index: int, agents: dict[str, int], found: dict[str, Any],
                offered: list[str]) -> tuple[dict[str, int], dict[str, Any]]:
        """Take agents away while every centre keeps what it met."""
        kept = {c: self._status(found[c]) for c in offered}
        for centre in offered:
            # An unsure centre keeps what growing gave it: taking agents away while its
            # interval still holds the target would walk its mean down below it.
            while kept[centre] == MET and agents[centre] > 1:
                trial = {**agents, centre: agents[centre] - 1}
                after = self._evaluate(index, trial)
                if any(RANK[self._status(after[c])] < RANK[kept[c]] for c in offered):
                    break
                agents, found = trial, after
        return agents, found

    def _verify(self) -> None:
        """The whole day with the plan: an interval that slipped gets one more agent."""
        for centre in self.centres:
            for row in self.rows[centre]:
                row.searched = row.status
        assert self.scenario.arrivals is not None
        warmup = self.scenario.arrivals.warmup
        for repair in range(REPAIRS + 1):
            day = self._simulate(self.count - 1, self.plan, final=True)
            slipped = []
            for centre in self.centres:
                for index, row in enumerate(self.rows[centre]):
                    row.values = day[centre][index]
                    if row.searched != QUIET:
                        row.status = self._status(row.values)
                    # Slipped: judged worse than the search found, or left unsure with
                    # its mean short of the target once the whole day runs before it.
                    # One agent more at most per interval: a slip may be the noise of a
                    # few calls (at night), which more agents would not cure.
                    short = row.status == UNSURE and self._short(row.values)
                    if (RANK[row.status] < RANK[row.searched] or short) and not row.topped_up \
                            and row.stop > warmup and row.agents < self.cap[centre]:
                        slipped.append((centre, index))
                        row.topped_up = True
            if not slipped or repair == REPAIRS:
                return
            for centre, index in slipped:
                self.plan[centre][index] += 1
                self.rows[centre][index].agents += 1

    # -- judging -----------------------------------------------------------------

    def _status(self, values: dict[str, Any]) -> str:
        """Met (its 95 % interval on the right side), missed (on the wrong side), unsure
        (the interval holds the target), or no callers to judge."""
        if any(values[FIELDS[c.metric]]["mean"] is None for c in self.target):
            return QUIET
        metrics = {c.metric: values[FIELDS[c.metric]] for c in self.target}
        if all(c.holds(metrics) for c in self.target):
            return MET
        for condition in self.target:
            value = metrics[condition.metric]
            ci = value["ci95"] or [value["mean"], value["mean"]]
            if not _OPS[condition.op](ci[0] if condition.below else ci[1], condition.value):
                return MISSED
        return UNSURE

    def _short(self, values: dict[str, Any]) -> bool:
        """Whether a target metric's mean is on the wrong side of the target."""
        for condition in self.target:
            mean = values[FIELDS[condition.metric]]["mean"]
            if mean is not None and not _OPS[condition.op](mean, condition.value):
                return True
        return False

    def _helps(self, before: dict[str, Any], after: dict[str, Any]) -> bool:
        """Whether one more agent moved a target metric, beyond what chance explains
        (paired over the replications, 95 %)."""
        for condition in self.target:
            name = FIELDS[condition.metric]
            pairs = [(b, a) for b, a in zip(before["_runs"][name], after["_runs"][name])
                     if b is not None and a is not None]
            if len(pairs) < 2:
                continue
            mean, ci = confidence([(b - a) if condition.below else (a - b) for b, a in pairs])
            if ci is not None and ci[0] > 0:
                return True
        return False

    def _erlang(self, offer: Offer) -> tuple[int | None, int | None]:
        """Erlang C's and (finite patience) Erlang A's agents for a service-level target."""
        level = next((c for c in self.target if c.metric == "service_level"), None)
        if level is None or offer.rate <= 0:
            return None, None
        within = max(0.0, self.scenario.sla.within - offer.delay)
        figure_c = erlang.agents_c(offer.load, offer.aht, within, level.value)
        figure_a = None if math.isinf(offer.patience) else erlang.agents_a(
            offer.load, offer.aht, within, level.value, offer.patience)
        return figure_c, figure_a

    def _row(self, centre: str, index: int, agents: int, values: dict[str, Any] | None) -> Row:
        offer = self.offers[centre][index]
        figure_c, figure_a = self._erlang(offer)
        row = Row(centre, index * self.interval, (index + 1) * self.interval, agents, offer,
                  figure_c, figure_a)
        if values is not None:
            row.values, row.status = values, self._status(values)
        return row

    # -- simulating ----------------------------------------------------------------

    def _evaluate(self, index: int, agents: dict[str, int]) -> dict[str, Any]:
        """Interval `index` of each centre with these agents, the plan before it kept."""
        plan = {c: [*self.plan[c], agents[c]] for c in self.centres}
        day = self._simulate(index, plan)
        return {c: day[c][index] for c in self.centres}

    def _simulate(self, last: int, plan: dict[str, list[int]],
                  final: bool = False) -> dict[str, list[dict[str, Any]]]:
        """Replications of the day up to the end of interval `last`, or (`final`) the
        whole day as the written plan will run it."""
        self.evaluations += 1
        scenario = self.planned(plan, None if final else (last + 1) * self.interval, final)
        args = [(scenario, seed, self.interval, None, (), self.interval) for seed in self.seeds]
        if self.pool is None:
            runs = [replicate(*a) for a in args]
        else:
            runs = list(self.pool.map(_replicate, args))
        intervals = [r.intervals for r in runs if r.intervals is not None]
        rows = aggregate(intervals, self.interval)["centres"]
        for centre, centre_rows in rows.items():       # each replication's values, for pairing
            for i, row in enumerate(centre_rows):
                row["_runs"] = {name: [run[centre][i][name] for run in intervals]
                                for name in set(FIELDS.values())}
        return rows

    def planned(self, plan: dict[str, list[int]], until: float | None = None,
                final: bool = True) -> Scenario:
        """The scenario with the plan as its centres' staffing and enough desk phones (while
        searching, as many as the search may use); `until`: arrivals stop then."""
        centres = dict(self.scenario.centres)
        for name, agents in plan.items():
            centre = centres[name]
            steps = [StaffStep.model_validate({"from": i * self.interval, "agents": n})
                     for i, n in enumerate(agents)]
            update: dict[str, Any] = {"staffing": steps}
            if isinstance(centre.terminals, int):
                update["terminals"] = max(centre.terminals,
                                          max(agents) if final else self.cap[name])
            centres[name] = centre.model_copy(update=update)
        arrivals = self.scenario.arrivals
        assert arrivals is not None
        if until is not None and until < arrivals.duration:
            arrivals = from_time(arrivals.model_copy(update={"duration": until}),
                                 until - self.interval - CARRY)
        return self.scenario.model_copy(update={"centres": centres, "arrivals": arrivals})


def from_time(arrivals: Arrivals, start: float) -> Arrivals:
    """The same arrivals with none before `start` (the run's clock unchanged)."""
    if start <= 0:
        return arrivals
    if arrivals.file is not None:
        rows = tuple(row for row in arrivals.file.rows if row.at >= start)
        return arrivals.model_copy(update={"file": replace(arrivals.file, rows=rows)})
    steps = ([(0.0, arrivals.rate or 0.0)] if arrivals.profile is None
             else sorted((step.start, step.rate) for step in arrivals.profile))
    at_start = [rate for t, rate in steps if t <= start][-1:] or [0.0]
    profile = [(0.0, 0.0), (start, at_start[0])] + [(t, r) for t, r in steps if t > start]
    return arrivals.model_copy(update={"rate": None, "profile": [
        RateStep.model_validate({"from": t, "rate": r}) for t, r in profile]})


def _replicate(args: tuple[Any, ...]) -> Any:
    return replicate(*args)


def _cap(scenario: Scenario, centre: str, peak_load: float) -> int:
    """The most agents the search may put on duty at a centre: its desk phones when listed
    one by one, else far above its busiest interval's load (desk phones are added)."""
    terminals = scenario.centres[centre].terminals
    if not isinstance(terminals, int):
        return len(terminals)
    return max(terminals, math.ceil(2 * peak_load) + 10)


def steps(agents: list[int], interval: float) -> list[tuple[float, int]]:
    """A plan's staffing steps: one where the number of agents changes."""
    out: list[tuple[float, int]] = []
    for index, count in enumerate(agents):
        if not out or out[-1][1] != count:
            out.append((index * interval, count))
    return out
