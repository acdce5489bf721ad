#!/usr/bin/env python3
"""Simulated callbacks per wall-second: the emulator against two references.

Three figures, measured in one run, on one machine, with the same load:

1. The product: a load scenario (Poisson arrivals of typical people, three
   centres of typical agents with failover, enough terminals, trunks, codes and
   room slots that nothing is starved) run through
   ``emulator.drivers.simulation.Simulation``: the whole flow of
   ``reference_impl`` under SimPy, as ``callback-emu load`` runs it (every
   metric streamed, no record kept). ``--keep-records yes`` keeps every record
   and timeline instead, as a QA run does.
2. The ceiling of SimPy: a bare SimPy model of the same flow, written below
   (``BareFlow``): a person process (post-dial delay, then busy, invalid,
   declines or rings, its answer racing the person ring timer; patience racing
   the bridge) and an agent process (a terminal from a ``simpy.Container``
   of the centre, a trunk, post-dial delay, busy -> next terminal, the pickup
   racing the centre's ring timer, ring-out -> next centre, bridge, talk, hang
   up), with the room (create, joins, delete) and the agent typing the code as
   SimPy callbacks. Same distributions, same probabilities, same load; it
   keeps only counters. ``bare core`` is the same model without the room and
   the code entry (the flow the issue lists), printed for information.
3. Ciw on an M/M/c of equal load: the same arrival rate, c = the number of
   terminals, mean service = the terminal-seconds per callback of the bare
   model (so c * utilisation is the same number of busy terminals).

Each figure is the median of ``--repeats`` timed runs after one warm-up run
of each; the runs of the three are interleaved so that noise from the machine
falls on all alike. An untimed run counts SimPy events per callback for the
product and the bare model (where the time goes, in events). A fourth timed
figure is SimPy stepping through empty events. From it the script derives two
things: the most any SimPy-driven model with the product's events per callback
could reach if its own code cost nothing, and how little time 1.5x Ciw would
leave for that code.

Goal: the product at >= 1.0x the bare SimPy model's speed (floor 0.75x) and
>= 1.5x Ciw's.

    .venv/bin/python benchmarks/sim_speed.py                      # ~1.5 minutes
    .venv/bin/python benchmarks/sim_speed.py --callbacks 10000 --repeats 1   # a quick look
    .venv/bin/python benchmarks/sim_speed.py --json out.json
    .venv/bin/python benchmarks/sim_speed.py --profile 20000       # cProfile of the product only
    .venv/bin/python benchmarks/sim_speed.py --shape failover      # other shapes of the same load

``--shape`` changes the load for all three alike (`SHAPES`): ``failover``,
agents who pick up half the time, so every other agent leg rings out and the
call fails over; ``queue``, 100 desk phones a centre instead of 250, so people
wait on hold (at most 45 s a centre, ``centres.<name>.queue.max_wait``) with
their patience running, and the bare model holds them on its ``Container``
first come first served. The product's compiled modules are used when built
(``make`` builds them); the last lines say which ran.

Needs the project's virtualenv and, for the third figure, Ciw (the ``bench``
extra: ``make bench``). Without Ciw the script says so in one line and skips
that reference; ``--no-ciw`` skips it on purpose.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import simpy  # noqa: E402

import harness  # noqa: E402
from harness import ROOT  # noqa: E402

GOAL_VS_BARE = 1.0           # product / bare SimPy model (the floor: FLOOR_VS_BARE)
FLOOR_VS_BARE = 0.75
GOAL_VS_CIW = 1.5            # product / Ciw M/M/c
DEFAULT_CALLBACKS = 40_000   # the whole default run takes ~1.5 minutes here
CIW_MISSING = ("sim_speed: Ciw is not installed, so the Ciw reference is skipped; "
               "install it with `make bench` (pip install -e '.[bench]')")

# -- the load, shared by the scenario and the bare model ---------------------

RATE = 2.0                   # callbacks/s (7,200/h)
TERMINALS = 250              # per centre; ~35 % busy on average at this load
CENTRES = ("madrid", "barcelona", "valencia")
RING_TIMEOUT = 15.0          # s, every centre
# service -> (share of arrivals, centres in failover order)
SERVICES: dict[str, tuple[float, tuple[str, ...]]] = {
    "mortgages": (0.4, ("madrid", "barcelona", "valencia")),
    "insurance": (0.3, ("barcelona", "valencia", "madrid")),
    "loans": (0.3, ("valencia", "madrid", "barcelona")),
}
TRUNKS = 2000                # ~600 legs up at once at this load
ROOM_SERVERS, ROOMS_PER_SERVER = 4, 250   # ~300 rooms open at once

# The built-in profiles the scenario names (emulator/models/people.py), and the
# PBX and room defaults (emulator/scenario/), written out for the bare model.
PERSON = dict(invalid=0.01, busy=0.05, reject=0.03, answer=0.85,
              answer_median=6.0, answer_sigma=0.6, reject_delay=3.0, patience=90.0)
AGENT = dict(busy=0.05, answer=0.95, pickup_median=4.0, pickup_sigma=0.5,
             talk_mean=180.0, code_low=5.0, code_high=15.0)
PBX = dict(post_dial=0.3, bridge=0.05, person_ring_timeout=30.0)
ROOMS = dict(create=0.2, join=0.5, delete=0.1)
QUEUE_WAIT = 0.0             # s on hold at a centre with every desk phone in use (0: no queue)

# Other shapes of the same flow (`--shape`), each a change to the constants above
# that both the scenario and the bare model read: the product must keep its speed
# whatever the mix of branches.
SHAPES: dict[str, dict[str, Any]] = {
    "typical": {},
    # agents who pick up half the time: every other call rings out and fails over
    "failover": {"AGENT": {"answer": 0.5}},
    # too few desk phones: people wait on hold (45 s at most per centre), their
    # patience running, and fail over when the wait runs out
    "queue": {"TERMINALS": 100, "QUEUE_WAIT": 45.0},
}
SHAPE = "typical"


def apply_shape(name: str) -> None:
    """Set the constants of shape `name` (see SHAPES) for the scenario and the bare model."""
    global SHAPE
    SHAPE = name
    for constant, value in SHAPES[name].items():
        if isinstance(value, dict):
            globals()[constant].update(value)
        else:
            globals()[constant] = value


def agent_profile() -> str:
    """The scenario's agents: the built-in `typical`, or the shape's own version of it."""
    if AGENT["answer"] == 0.95:
        return ""
    return f"""\
profiles:
  agents:
    shaped: {{busy_probability: {AGENT['busy']}, answer_probability: {AGENT['answer']},
              pickup_delay: {{lognormal: {{median: {AGENT['pickup_median']:g}s, sigma: {AGENT['pickup_sigma']}}}}},
              talk_time: {{exponential: {{mean: {AGENT['talk_mean']:g}s}}}},
              code_entry_delay: {{uniform: [{AGENT['code_low']:g}s, {AGENT['code_high']:g}s]}}}}
"""


def scenario_yaml(callbacks: int, seed: int = 1) -> str:
    """The load scenario: `callbacks` expected arrivals (Poisson, RATE/s)."""
    services = "\n".join(f"  {name}: {{centres: [{', '.join(centres)}]}}"
                         for name, (_, centres) in SERVICES.items())
    agent = "shaped" if agent_profile() else "typical"
    queue = f", queue: {{max_wait: {QUEUE_WAIT:g}s}}" if QUEUE_WAIT else ""
    centres = "\n".join(f"  {name}: {{terminals: {TERMINALS}, ring_timeout: {RING_TIMEOUT:g}s, "
                        f"agent: {agent}{queue}}}" for name in CENTRES)
    shares = ", ".join(f"{name}: {share}" for name, (share, _) in SERVICES.items())
    return f"""\
name: simulation speed benchmark
description: Poisson arrivals of typical people, three centres of typical agents with failover
seed: {seed}
services:
{services}
centres:
{centres}
pbx: {{trunks: {TRUNKS}, person_ring_timeout: {PBX['person_ring_timeout']:g}s,
       post_dial_delay: {{fixed: {PBX['post_dial']:g}s}}, bridge_delay: {{fixed: {PBX['bridge']:g}s}}}}
rooms: {{servers: {ROOM_SERVERS}, rooms_per_server: {ROOMS_PER_SERVER}}}
arrivals:
  rate: {RATE:g}/s
  services: {{{shares}}}
  person: typical
  duration: {callbacks / RATE:g}s
""" + agent_profile()


def check_profiles() -> None:
    """Refuse to run if the built-in profiles moved away from what the bare model copies."""
    from emulator.models import distributions as d
    from emulator.models import people as b
    person, agent = b.PEOPLE["typical"], b.AGENTS["typical"]
    same = (person.invalid_probability == PERSON["invalid"]
            and person.busy_probability == PERSON["busy"]
            and person.reject_probability == PERSON["reject"]
            and person.answer_probability == PERSON["answer"]
            and person.answer_delay == d.LogNormal(PERSON["answer_median"], PERSON["answer_sigma"])
            and person.reject_delay == d.Fixed(PERSON["reject_delay"])
            and person.patience == PERSON["patience"] and person.talk_time is None
            and agent.busy_probability == AGENT["busy"]
            and agent.answer_probability == AGENT["answer"]
            and agent.pickup_delay == d.LogNormal(AGENT["pickup_median"], AGENT["pickup_sigma"])
            and agent.talk_time == d.Exponential(AGENT["talk_mean"])
            and agent.code_entry_delay == d.Uniform(AGENT["code_low"], AGENT["code_high"]))
    if not same:
        raise SystemExit("the built-in 'typical' profiles changed: update PERSON/AGENT in "
                         "benchmarks/sim_speed.py so the bare model stays the same flow")


# -- 1. the product ----------------------------------------------------------

class ClosedCounter:
    """Counts the callbacks the switchboard closes (works with or without records)."""

    def __init__(self) -> None:
        self.count = 0

    def closed(self, record: object) -> None:
        """The switchboard's observer hook: one more callback closed."""
        self.count += 1


def load_scenario(callbacks: int, seed: int = 1) -> Any:
    """The load scenario, parsed by the product's own loader."""
    from emulator.scenario import loads
    return loads(scenario_yaml(callbacks, seed)).scenario


def simulate_counted(scenario: Any, keep_records: str = "default") -> tuple[Any, int, float]:
    """One timed run of the scenario: its `SimResult`, the callbacks closed, the wall seconds.

    `keep_records` 'yes'/'no' goes through `Simulation(keep_records=...)`;
    'default' calls `simulate` as is.
    """
    from emulator.drivers.simulation import Simulation, simulate
    closed = ClosedCounter()
    start = time.perf_counter()
    if keep_records == "default":
        result = simulate(scenario, observers=[closed])
    else:
        result = Simulation(scenario, observers=[closed], keep_records=keep_records == "yes").run()
    wall = time.perf_counter() - start
    return result, closed.count or len(result.records), wall


def run_product(scenario: Any, keep_records: str = "default") -> dict[str, Any]:
    """One timed run of the product and what it found (outcomes, occupancy)."""
    gc.collect()
    result, count, wall = simulate_counted(scenario, keep_records)
    metrics = result.metrics
    outcomes = {k.removeprefix("outcomes."): v for k, v in metrics.items()
                if k.startswith("outcomes.") and v}
    out = {"callbacks": count, "wall_s": wall, "per_s": count / wall,
           "records_kept": len(result.records), "outcomes": outcomes,
           "agent_occupancy_mean": metrics.get("agent_occupancy.mean"),
           # busy-terminal seconds per callback (agent legs up, time-weighted over the run)
           "terminal_seconds_per_callback": (metrics.get("agent_occupancy.mean") or 0.0)
           * TERMINALS * len(CENTRES) * result.end / max(1, count),
           "trunk_occupancy_max": metrics.get("trunk_occupancy.max"),
           "failovers_mean": metrics.get("failovers.mean"),
           "open_at_end": result.open_at_end}
    del result
    return out


# -- 2. the bare SimPy model of the same flow --------------------------------

class BareFlow:
    """The callback flow in plain SimPy: processes racing timeouts, counters only."""

    def __init__(self, env: simpy.Environment, seed: int, rooms: bool = True) -> None:
        self.env = env
        self.rng = random.Random(seed)
        self.rooms = rooms
        self.terminals = {name: simpy.Container(env, capacity=TERMINALS, init=TERMINALS)
                          for name in CENTRES}
        self.trunks = simpy.Container(env, capacity=TRUNKS, init=TRUNKS)
        self.room_load = [0] * ROOM_SERVERS
        self.outcomes: dict[str, int] = {}
        self.terminal_seconds = 0.0
        self.failovers = 0
        self.ended = 0
        self.rooms_refused = 0
        names = list(SERVICES)
        weights = [SERVICES[n][0] for n in names]
        cum, total = [], 0.0
        for w in weights:
            total += w
            cum.append(total)
        self._services = [(c / total, SERVICES[n][1]) for c, n in zip(cum, names)]

    def arrivals(self, duration: float):  # type: ignore[no-untyped-def]
        """The arrivals: Poisson at RATE for `duration` seconds, each to a service's route."""
        env, rng, timeout = self.env, self.rng, self.env.timeout
        now = 0.0
        while True:
            gap = rng.expovariate(RATE)
            if now + gap >= duration:
                return
            yield timeout(gap)
            now += gap
            u = rng.random()
            route = next(centres for edge, centres in self._services if u < edge)
            env.process(self.callback(route))

    def _end(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        self.ended += 1

    def callback(self, route: tuple[str, ...]):  # type: ignore[no-untyped-def]
        """One callback: the person's leg, and the flow around it."""
        env, rng, timeout = self.env, self.rng, self.env.timeout
        p = PERSON
        if self.trunks.level < 1:
            self._end("no_trunk")
            return
        self.trunks.get(1)
        try:
            ring_timer = timeout(PBX["person_ring_timeout"])      # started with the dial
            u0, u1, u2, u3 = rng.random(), rng.random(), rng.random(), rng.random()
            yield timeout(PBX["post_dial"])
            if u0 < p["invalid"]:
                self._end("person_invalid_number")
                return
            if u1 < p["busy"]:
                self._end("person_busy")
                return
            if u2 < p["reject"]:
                phone = timeout(p["reject_delay"])
            elif u3 >= p["answer"]:
                yield ring_timer                                  # rings out
                self._end("person_no_answer")
                return
            else:
                phone = timeout(rng.lognormvariate(math.log(p["answer_median"]), p["answer_sigma"]))
            fired = yield phone | ring_timer
            if phone not in fired:
                self._end("person_no_answer")
                return
            if u2 < p["reject"]:
                self._end("person_rejected")
                return
            # answered: find an agent while the person's patience runs
            bridged = env.event()
            agent = env.process(self.agent(route, bridged))
            patience = timeout(p["patience"])
            fired = yield bridged | patience
            if bridged not in fired:
                if agent.is_alive:
                    agent.interrupt()
                self._end("person_abandoned")
                return
            if bridged.value is None or bridged.value is False:
                self._end("no_agent" if bridged.value is None else "no_trunk")
                return
            room = self._room(bridged.value) if self.rooms else None
            yield agent                                           # the agent talks, hangs up
            if room is not None:
                room()
            self._end("connected")
        finally:
            self.trunks.put(1)

    def agent(self, route: tuple[str, ...], bridged: simpy.Event):  # type: ignore[no-untyped-def]
        """The agent's legs: centres in order, terminals within a centre."""
        env, rng, timeout = self.env, self.rng, self.env.timeout
        a = AGENT
        for index, centre in enumerate(route):
            if index:
                self.failovers += 1
            pool = self.terminals[centre]
            while True:
                if pool.level < 1:
                    if not QUEUE_WAIT:
                        break                                     # none free: next centre
                    held = pool.get(1)                            # on hold, first come first served
                    try:
                        fired = yield held | timeout(QUEUE_WAIT)
                    except simpy.Interrupt:
                        if held.triggered:
                            pool.put(1)
                        else:
                            held.cancel()
                        return                                    # the person gave up on hold
                    if held not in fired:
                        held.cancel()
                        break                                     # waited long enough: next centre
                else:
                    pool.get(1)
                if self.trunks.level < 1:
                    pool.put(1)
                    bridged.succeed(False)                        # no trunk for the agent leg
                    return
                self.trunks.get(1)
                seized = env.now
                try:
                    ring_timer = timeout(RING_TIMEOUT)
                    u0, u1 = rng.random(), rng.random()
                    yield timeout(PBX["post_dial"])
                    if u0 < a["busy"]:
                        continue                                  # busy desk phone: next terminal
                    if u1 >= a["answer"]:
                        yield ring_timer
                        break                                     # rang out: next centre
                    phone = timeout(rng.lognormvariate(math.log(a["pickup_median"]), a["pickup_sigma"]))
                    fired = yield phone | ring_timer
                    if phone not in fired:
                        break
                    # answered: the code on the desk phone is typed a while later
                    entry = rng.uniform(a["code_low"], a["code_high"])
                    yield timeout(PBX["bridge"])
                    bridged.succeed(entry)
                    yield timeout(rng.expovariate(1.0 / a["talk_mean"]))
                    return
                except simpy.Interrupt:
                    return                                        # the person hung up
                finally:
                    self.terminals[centre].put(1)
                    self.trunks.put(1)
                    self.terminal_seconds += env.now - seized
        bridged.succeed(None)                                     # every centre tried

    # the room: created at the bridge, joined by the person, and by the agent
    # once the code is typed; deleted at the end
    def _room(self, entry: float) -> Callable[[], None] | None:
        env, load = self.env, self.room_load
        server = min(range(ROOM_SERVERS), key=load.__getitem__)
        if load[server] >= ROOMS_PER_SERVER:
            self.rooms_refused += 1
            return None
        load[server] += 1
        state = {"open": False, "code": False, "alive": True}

        def join(_: object) -> None:
            pass

        def opened(_: object) -> None:
            if state["alive"]:
                state["open"] = True
                env.timeout(ROOMS["join"]).callbacks.append(join)          # the person
                if state["code"]:
                    env.timeout(ROOMS["join"]).callbacks.append(join)      # the agent

        def typed(_: object) -> None:
            if state["alive"]:
                state["code"] = True
                if state["open"]:
                    env.timeout(ROOMS["join"]).callbacks.append(join)

        def free(_: object) -> None:
            load[server] -= 1

        def delete() -> None:
            state["alive"] = False
            env.timeout(ROOMS["delete"]).callbacks.append(free)

        env.timeout(ROOMS["create"]).callbacks.append(opened)
        # typed `entry` after the pickup; the bridge took PBX["bridge"] since
        env.timeout(max(0.0, entry - PBX["bridge"])).callbacks.append(typed)
        return delete




def run_bare(callbacks: int, seed: int = 1, rooms: bool = True,
             env: simpy.Environment | None = None) -> dict[str, Any]:
    """One timed run of the bare model (on `env`, a fresh environment by default)."""
    gc.collect()
    start = time.perf_counter()
    env = env if env is not None else simpy.Environment()
    model = BareFlow(env, seed, rooms)
    env.process(model.arrivals(callbacks / RATE))
    env.run()
    wall = time.perf_counter() - start
    n = model.ended
    return {"callbacks": n, "wall_s": wall, "per_s": n / wall,
            "outcomes": {k: v / n for k, v in sorted(model.outcomes.items())},
            "terminal_seconds_per_callback": model.terminal_seconds / n,
            "failovers_mean": model.failovers / max(1, model.outcomes.get("connected", 0)
                                                    + model.outcomes.get("no_agent", 0)
                                                    + model.outcomes.get("person_abandoned", 0)),
            "rooms_refused": model.rooms_refused}


# -- 3. Ciw on an M/M/c of equal load ----------------------------------------

def ciw_installed() -> bool:
    """Whether Ciw can be imported (it comes with the `bench` extra)."""
    return importlib.util.find_spec("ciw") is not None


def run_ciw(customers: int, servers: int, mean_service: float, seed: int = 1) -> dict[str, Any]:
    """One timed Ciw M/M/c run of `customers` customers at the same arrival rate."""
    import ciw
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RATE)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / mean_service)],
        number_of_servers=[servers])
    gc.collect()
    start = time.perf_counter()
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(customers, method="Finish")
    wall = time.perf_counter() - start
    n = len(sim.get_all_records())
    return {"customers": n, "wall_s": wall, "per_s": n / wall,
            "servers": servers, "mean_service_s": mean_service}


# -- SimPy's own ceiling -----------------------------------------------------

def run_empty_events(events: int, chains: int = 1000, seed: int = 1) -> dict[str, Any]:
    """SimPy's step loop with nothing to do: `chains` callbacks that each only
    schedule the next, the cheapest events SimPy runs. Any model driven by
    SimPy pays at least this per event; divided by the product's events per
    callback it bounds what any SimPy-driven product could reach."""
    rng = random.Random(seed)
    env = simpy.Environment()
    left = [events]

    def again(_: simpy.Event) -> None:
        if left[0] > 0:
            left[0] -= 1
            env.timeout(rng.expovariate(1.0)).callbacks.append(again)

    for _ in range(chains):
        env.timeout(rng.expovariate(1.0)).callbacks.append(again)
    gc.collect()
    start = time.perf_counter()
    env.run()
    wall = time.perf_counter() - start
    return {"events": events + chains, "wall_s": wall, "per_s": (events + chains) / wall}


# -- events per callback -----------------------------------------------------

class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts what goes on its queue (the bare model's events)."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduled = 0

    def schedule(self, event: Any, priority: Any = 1, delay: Any = 0) -> None:
        """SimPy's own `schedule`, counted."""
        self.scheduled += 1
        super().schedule(event, priority, delay)


def count_events(callbacks: int, seed: int) -> dict[str, float]:
    """SimPy events per callback (untimed runs), product and bare."""
    from emulator.drivers.simulation import Simulation
    closed = ClosedCounter()
    simulation = Simulation(load_scenario(callbacks, seed), observers=[closed])
    result = simulation.run()
    out = {"product": simulation.events_scheduled() / (closed.count or len(result.records))}
    for label, rooms in (("bare", True), ("bare_core", False)):
        env = CountingEnvironment()
        bare = run_bare(callbacks, seed, rooms, env)
        out[label] = env.scheduled / bare["callbacks"]
    return out


# -- profile -----------------------------------------------------------------

def profile_area(filename: str, name: str) -> str:
    """Where a profiled function belongs: a file of the repository or a package, or a C function."""
    if filename == "~":
        return "numpy (C methods)" if "numpy" in name else name
    path = Path(filename)
    if "site-packages" in filename:
        return f"{path.parent.name}/{path.name}"
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else filename


def profile(callbacks: int, seed: int, top: int) -> None:
    """cProfile one run of the product: the top functions, then the time by area."""
    import cProfile
    import pstats
    scenario = load_scenario(callbacks, seed)
    run_product(load_scenario(max(1000, callbacks // 10), seed))   # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    result = run_product(scenario)
    profiler.disable()
    print(f"cProfile of simulate, {result['callbacks']:,} callbacks "
          f"({result['wall_s']:.1f} s under the profiler)\n")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    areas: dict[str, float] = {}
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        area = profile_area(filename, name)
        areas[area] = areas.get(area, 0.0) + row[2]       # tottime
    total = sum(areas.values())
    print(f"tottime by area (of {total:.1f} s):")
    for area, seconds in sorted(areas.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {seconds:6.2f} s  {seconds / total:5.1%}  {area}")


# -- the timed runs ----------------------------------------------------------

@dataclass
class Runs:
    """Every timed run of one benchmark, by what ran."""

    servers: int = 0                 # the M/M/c's c: every desk phone of the shape
    mean_service: float = 0.0
    product: list[dict[str, Any]] = field(default_factory=list)
    bare: list[dict[str, Any]] = field(default_factory=list)
    core: list[dict[str, Any]] = field(default_factory=list)
    ciw: list[dict[str, Any]] = field(default_factory=list)
    empty: list[dict[str, Any]] = field(default_factory=list)


def warm_up(n: int, seed: int, keep_records: str, use_ciw: bool, runs: Runs) -> None:
    """A smaller run of each before the timed ones; the M/M/c's load from the bare model's."""
    warm = max(2000, n // 10)
    run_product(load_scenario(warm, seed), keep_records)
    bare_warm = run_bare(warm, seed)
    run_bare(warm, seed, rooms=False)
    runs.mean_service = bare_warm["terminal_seconds_per_callback"]
    if use_ciw:
        run_ciw(warm, runs.servers, runs.mean_service, seed)
    run_empty_events(100_000)


def timed_runs(n: int, seed: int, repeats: int, keep_records: str, use_ciw: bool) -> Runs:
    """The warm-up, then `repeats` interleaved timed runs of each, one line per round."""
    runs = Runs(servers=TERMINALS * len(CENTRES))
    scenario = load_scenario(n, seed)
    warm_up(n, seed, keep_records, use_ciw, runs)
    for i in range(repeats):
        runs.product.append(run_product(scenario, keep_records))
        runs.bare.append(run_bare(n, seed))
        runs.core.append(run_bare(n, seed, rooms=False))
        if i == 0:   # the load of the M/M/c: terminal-seconds per callback at full size
            runs.mean_service = runs.bare[0]["terminal_seconds_per_callback"]
        if use_ciw:
            runs.ciw.append(run_ciw(n, runs.servers, runs.mean_service, seed))
        runs.empty.append(run_empty_events(20 * n))
        print(f"  run {i + 1}: product {runs.product[-1]['per_s']:,.0f}/s, "
              f"bare {runs.bare[-1]['per_s']:,.0f}/s, bare core {runs.core[-1]['per_s']:,.0f}/s"
              + (f", Ciw {runs.ciw[-1]['per_s']:,.0f}/s" if runs.ciw else ""), flush=True)
    return runs


# -- the figures -------------------------------------------------------------

def own_code_us(per_s: float, events: float, empty_per_s: float) -> float:
    """Microseconds a callback spends outside SimPy's loop: all of its time,
    less its events at the cost of an empty one."""
    return 1e6 / per_s - events * 1e6 / empty_per_s


def figures(runs: Runs, events: dict[str, float]) -> dict[str, Any]:
    """The medians, the ratios, the goals and what the events per callback imply."""
    median = harness.median_of
    fig: dict[str, float | None] = {"product": median(runs.product), "bare": median(runs.bare),
                                    "bare_core": median(runs.core),
                                    "ciw": median(runs.ciw) if runs.ciw else None,
                                    "simpy_empty_events": median(runs.empty)}
    product, ciw = fig["product"] or 0.0, fig["ciw"]
    vs_ciw = product / ciw if ciw else None
    out: dict[str, Any] = {
        "per_s": fig, "vs_bare": product / median(runs.bare), "vs_core": product / median(runs.core),
        "vs_ciw": vs_ciw, "ceiling": None, "own": {}, "budget": None}
    out["ok_bare"] = out["vs_bare"] >= GOAL_VS_BARE
    out["ok_ciw"] = vs_ciw is not None and vs_ciw >= GOAL_VS_CIW
    if events:
        empty = median(runs.empty)
        # The most any SimPy-driven model with the product's events could do,
        # even if its own code cost nothing: what the Ciw goal leaves for the model.
        out["ceiling"] = empty / events["product"]
        out["own"] = {name: own_code_us(fig[name], events[name], empty)   # type: ignore[arg-type]
                      for name in ("product", "bare")}
        if ciw:
            out["budget"] = own_code_us(GOAL_VS_CIW * ciw, events["product"], empty)
    return out


def fmt_outcomes(outcomes: dict[str, float]) -> str:
    """Outcome fractions, the most frequent first."""
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1]))


# -- the report --------------------------------------------------------------

def print_speeds(runs: Runs, fig: dict[str, Any], keep_records: str) -> None:
    """The product's and the references' speeds, the ratios and the goals."""
    per_s, p0, b0 = fig["per_s"], runs.product[0], runs.bare[0]
    api = ("simulate()" if keep_records == "default"
           else f"Simulation(keep_records={keep_records == 'yes'})")
    print(f"product    {api}: {per_s['product']:>9,.0f} callbacks/s   "
          f"({p0['callbacks']:,} callbacks in {statistics.median(r['wall_s'] for r in runs.product):.2f} s; "
          f"records kept: {p0['records_kept']:,})")
    print(f"reference  bare SimPy, same flow: {per_s['bare']:>9,.0f} callbacks/s   "
          f"({b0['callbacks']:,} callbacks in {statistics.median(r['wall_s'] for r in runs.bare):.2f} s)")
    print(f"           bare SimPy, no room/code entry: {per_s['bare_core']:,.0f} callbacks/s")
    if per_s["ciw"]:
        print(f"reference  Ciw M/M/c:      {per_s['ciw']:>9,.0f} customers/s   "
              f"(lambda {RATE:g}/s, c = {runs.servers}, mean service {runs.mean_service:.1f} s, "
              f"{runs.ciw[0]['customers']:,} customers)")
    print(f"ratio      product / bare SimPy: {fig['vs_bare']:.2f}   (vs bare core: {fig['vs_core']:.2f})")
    if fig["vs_ciw"] is not None:
        print(f"ratio      product / Ciw:        {fig['vs_ciw']:.2f}")
    floor = "met" if fig["vs_bare"] >= FLOOR_VS_BARE else "not met"
    print(f"goal       product >= {GOAL_VS_BARE:g} x bare SimPy: {'MET' if fig['ok_bare'] else 'NOT MET'} "
          f"(floor {FLOOR_VS_BARE:g}: {floor}); "
          f">= {GOAL_VS_CIW:g} x Ciw: "
          + ("not measured" if fig["vs_ciw"] is None else ("MET" if fig["ok_ciw"] else "NOT MET")))


def print_events(fig: dict[str, Any], events: dict[str, float]) -> None:
    """Events per callback, SimPy's ceiling, and the time the Ciw goal leaves for a model's code."""
    if not events:
        return
    empty, ciw = fig["per_s"]["simpy_empty_events"], fig["per_s"]["ciw"]
    print(f"events     SimPy events per callback: product {events['product']:.1f}, "
          f"bare {events['bare']:.1f}, bare core {events['bare_core']:.1f}")
    print(f"ceiling    SimPy alone, empty events: {empty:,.0f}/s; at "
          f"{events['product']:.1f} events per callback that is at most {fig['ceiling']:,.0f} callbacks/s")
    if ciw:
        goal, own = GOAL_VS_CIW * ciw, fig["own"]
        print(f"budget     {GOAL_VS_CIW:g} x Ciw = {goal:,.0f} callbacks/s = {1e6 / goal:.1f} us a callback; "
              f"SimPy's own {events['product']:.1f} events leave {fig['budget']:.1f} us for the model's code. "
              f"Its code takes {own['product']:.1f} us; the bare model's, {own['bare']:.1f} us")


def print_checks(runs: Runs, info: dict[str, Any], command: str) -> None:
    """That the bare model is the same flow, the machine, and how to run this again."""
    p0, b0 = runs.product[0], runs.bare[0]
    print(f"same flow? outcomes, product: {fmt_outcomes(p0['outcomes'])}")
    print(f"                     bare:    {fmt_outcomes(b0['outcomes'])}")
    print(f"           busy-terminal seconds per callback: product "
          f"{p0['terminal_seconds_per_callback']:.1f}, bare {b0['terminal_seconds_per_callback']:.1f} "
          f"(x {RATE:g}/s = the busy terminals, of {runs.servers}); "
          f"trunks at most {p0['trunk_occupancy_max']:.0%} used")
    print(f"machine    {info['python']}, simpy {info['simpy']}, numpy {info['numpy']}, ciw {info['ciw']}; "
          f"{info['cpu']}, {info['cpus']} CPUs, load average at start "
          f"{' '.join(f'{x:.2f}' for x in info['loadavg_at_start'] or [])}")
    print(f"product    hot modules {info['product_code']}")
    print(f"command    {command}")


def json_doc(args: Any, runs: Runs, fig: dict[str, Any], events: dict[str, float],
             info: dict[str, Any], command: str) -> dict[str, Any]:
    """Every figure and every run, for `--json`."""
    return {"shape": SHAPE, "callbacks": args.callbacks, "repeats": args.repeats, "seed": args.seed,
            "rate_per_s": RATE, "terminals": runs.servers, "trunks": TRUNKS,
            "keep_records": args.keep_records, "figures_per_s": fig["per_s"],
            "ratios": {"product_vs_bare": fig["vs_bare"], "product_vs_bare_core": fig["vs_core"],
                       "product_vs_ciw": fig["vs_ciw"]},
            "goal": {"vs_bare": GOAL_VS_BARE, "vs_ciw": GOAL_VS_CIW, "met_vs_bare": fig["ok_bare"],
                     "met_vs_ciw": fig["ok_ciw"] if fig["vs_ciw"] is not None else None},
            "events_per_callback": events, "simpy_ceiling_callbacks_per_s": fig["ceiling"],
            "own_code_us_per_callback": fig["own"] if events else None,
            "ciw_installed": ciw_installed(),
            "runs": {"product": runs.product, "bare": runs.bare, "bare_core": runs.core,
                     "ciw": runs.ciw, "empty_events": runs.empty},
            "machine": info, "command": command}


# -- main --------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> Any:
    """The command line."""
    parser = harness.make_parser(__doc__, seed=True)
    parser.add_argument("--callbacks", type=int, default=DEFAULT_CALLBACKS,
                        help=f"callbacks (expected arrivals) per timed run (default {DEFAULT_CALLBACKS:,})")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (median; default 3)")
    parser.add_argument("--keep-records", choices=("default", "yes", "no"), default="no",
                        help="'no' (the default) runs as `callback-emu load` does, statistics "
                             "streamed; 'yes' keeps every record and timeline, as a QA run does; "
                             "'default' calls simulate() as is")
    parser.add_argument("--shape", choices=tuple(SHAPES), default="typical",
                        help="the load's shape: 'typical' (the default), 'failover' (agents "
                             "pick up half the time) or 'queue' (too few desk phones: people "
                             "wait on hold)")
    parser.add_argument("--no-ciw", action="store_true", help="skip the Ciw reference")
    parser.add_argument("--no-events", action="store_true", help="skip counting events per callback")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="only cProfile simulate on N callbacks and print the top functions")
    parser.add_argument("--top", type=int, default=15, help="functions shown by --profile")
    return parser.parse_args(argv)


def command_of(args: Any) -> str:
    """The command that repeats this run."""
    return harness.command_line("sim_speed.py", [
        "--callbacks", str(args.callbacks), "--repeats", str(args.repeats), "--seed", str(args.seed),
        *(["--keep-records", args.keep_records] if args.keep_records != "no" else []),
        *(["--shape", args.shape] if args.shape != "typical" else []),
        *(["--no-ciw"] if args.no_ciw else [])])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 once the figures are printed."""
    args = parse_args(argv)
    check_profiles()
    apply_shape(args.shape)
    if args.profile:
        profile(args.profile, args.seed, args.top)
        return 0
    use_ciw = not args.no_ciw and ciw_installed()
    if not args.no_ciw and not use_ciw:
        print(CIW_MISSING, flush=True)
    n, seed = args.callbacks, args.seed
    info, command = harness.machine(("simpy", "numpy", "ciw")), command_of(args)
    print(f"simulation speed, shape {SHAPE}: {n:,} callbacks per run at {RATE:g}/s, "
          f"{len(CENTRES)} centres x {TERMINALS} terminals, {TRUNKS} trunks; "
          f"median of {args.repeats} after a warm-up", flush=True)
    runs = timed_runs(n, seed, args.repeats, args.keep_records, use_ciw)
    events = {} if args.no_events else count_events(min(n, 10_000), seed)
    fig = figures(runs, events)
    print()
    print_speeds(runs, fig, args.keep_records)
    print_events(fig, events)
    print_checks(runs, info, command)
    if args.json:
        harness.write_json(args.json, json_doc(args, runs, fig, events, info, command),
                           note="json       {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
