"""The SimPy driver: runs reference_impl's call flow in simulated time.

`Simulation` builds the world a scenario describes (the phone book and the
desks, the emulated PBX, room servers and links, the flow's timers) around
one switchboard wired by `reference_impl.wiring`, feeds it the scenario's
callbacks and arrivals, and runs until every call has ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable

import simpy

from reference_impl.estimate import WaitEstimator
from reference_impl.directory import Directory
from reference_impl.ports import Deliver, NoNotifier
from reference_impl.records import CallbackRecord, MemoryRecords
from reference_impl.wiring import wire

from ..measure.collector import Collector
from ..measure.intervals import IntervalStats
from ..measure.levels import Level, Levels
from ..measure.summary import compute
from ..models.arrivals import FileArrivals, PoissonArrivals
from ..models.clock import Clock
from ..models.desks import Desks, Rota
from ..models.network import NetworkSetup, RoomSessions
from ..models.pbx import SimPbx
from ..models.people import PersonProfile, PhonePlan
from ..models.phonebook import People
from ..models.rooms import RoomServers
from ..models.streams import Draws, Streams
from ..scenario import MetricExpectation, Scenario, build
from .clock import SimClock
from .heap import fewer_collections
from .timers import SimTimers

Sample = tuple[float, int, int, int, int, int]   # t, agents, rooms, live, trunks, egress (bit/s)


@dataclass
class SimResult:
    """What a run gives back: records (unless streamed), metrics, and what was left open."""

    scenario: Scenario
    seed: int
    records: list[CallbackRecord]
    metrics: dict[str, float | None]
    end: float
    late_events: int = 0
    open_at_end: dict[str, int] = field(default_factory=dict)
    plans: dict[tuple[str, str], PhonePlan] = field(default_factory=dict)  # with keep_plans
    collector: Collector | None = None
    samples: list[Sample] = field(default_factory=list)
    intervals: dict[str, list[dict[str, float | None]]] | None = None   # with `per_interval`
    per_interval: float = 0.0

    def __init__(self, scenario: Scenario, seed: int, records: list[CallbackRecord],
                 metrics: dict[str, float | None], end: float, late_events: int = 0,
                 open_at_end: dict[str, int] | None = None,
                 plans: dict[tuple[str, str], PhonePlan] | None = None,
                 collector: Collector | None = None, samples: list[Sample] | None = None,
                 intervals: dict[str, list[dict[str, float | None]]] | None = None,
                 per_interval: float = 0.0) -> None:
        self.scenario = scenario
        self.seed = seed
        self.records = records
        self.metrics = metrics
        self.end = end
        self.late_events = late_events
        self.open_at_end = {} if open_at_end is None else open_at_end
        self.plans = {} if plans is None else plans
        self.collector = collector
        self.samples = [] if samples is None else samples
        self.intervals = intervals
        self.per_interval = per_interval


def room_servers(scenario: Scenario, clock: Clock, rng: Draws, deliver: Deliver,
                 level: Level, levels: Levels | None = None) -> RoomServers:
    """The scenario's room servers, in either time domain (`levels`: egress and waits too)."""
    warmup = scenario.arrivals.warmup if scenario.arrivals else 0.0
    # Two-way video in the network model is two-way on the servers too.
    two_way = scenario.network is not None and scenario.network.video.two_way
    return RoomServers.from_setup(build.rooms(scenario), clock, rng=rng, deliver=deliver,
                                  level=level, every_room_two_way=two_way,
                                  egress_level=levels.egress if levels else None,
                                  waits=levels.room_wait if levels else None, warmup=warmup)


def expected_metrics(scenario: Scenario) -> list[str]:
    """The metrics the scenario's expectations name."""
    return [e.metric for e in scenario.expect if isinstance(e, MetricExpectation)]


def levels_of(scenario: Scenario) -> Levels:
    """The levels a run keeps, sized by the scenario's desk phones and trunks."""
    terminals = sum(len(c.numbers(i)) for i, c in enumerate(scenario.centres.values(), start=1))
    return Levels(terminals=terminals, trunk_capacity=scenario.pbx.trunks)


class Simulation:
    """One run of a scenario in simulated time."""

    def __init__(self, scenario: Scenario, *, seed: int | None = None,
                 observers: Iterable[object] = (), keep_plans: bool = False,
                 keep_records: bool = True, interval: float = 0.0,
                 progress: Callable[[float], None] | None = None,
                 metrics: Iterable[str] = (), per_interval: float = 0.0) -> None:
        """`keep_records=False` streams statistics only (load runs: memory stays flat);
        `interval` > 0 also samples the levels and counts callbacks per interval;
        `metrics` names percentiles wanted beyond the standard ones (`.p80`);
        `per_interval` > 0 keeps each centre's results per interval that long."""
        self.scenario = scenario
        self.extra = [*expected_metrics(scenario), *metrics]
        self.seed = scenario.seed if seed is None else seed
        self.env = env = simpy.Environment()
        self.streams = streams = Streams(self.seed)
        self.directory = directory = build.directory(scenario)
        self.records = MemoryRecords() if keep_records else None
        arrivals = scenario.arrivals
        self.warmup = arrivals.warmup if arrivals else 0.0
        self.collector = Collector(self.warmup, interval, scenario.sla.within)
        self.samples: list[Sample] = []
        self.levels = levels_of(scenario)
        self.clock = clock = SimClock(env)
        self.staffing = build.staffing(scenario)
        self.by_interval = _interval_stats(scenario, directory, per_interval) \
            if per_interval > 0 else None
        self.desks = Desks(directory.terminal_owner(), clock,
                           busy=self.by_interval.busy if self.by_interval else None)
        self.people = People(build.agent_profiles(scenario), streams, keep_plans, self.desks)
        self.calendar = build.calendar(scenario)
        network = build.network(scenario)
        estimator = None
        if build.waits_estimated(scenario):     # what the status page would say, measured
            estimator = WaitEstimator(build.desks(directory),
                                      on_error=self.collector.estimate_error)
            observers = (*observers, estimator)
        if network is not None:     # links and room traffic cost nothing unless asked for
            observers = (*observers, self._sessions(network))
        extra_observers = [self.by_interval] if self.by_interval else []
        self.switchboard = wire(
            directory=directory, codes=build.code_pool(scenario), clock=clock.now,
            telephony=self._pbx, rooms=self._rooms, timers=partial(SimTimers, clock),
            notifier=NoNotifier(), records=self.records,
            person_ring_timeout=scenario.pbx.person_ring_timeout,
            caller_id=scenario.pbx.caller_id, observers=[self.collector, self, *observers,
                                                         self.desks, *extra_observers],
            timelines=keep_records, policy=build.policy(scenario),
            calendar=self.calendar, dedupe=scenario.policy.dedupe)
        self.desks.enter_code = self.switchboard.enter_code
        if estimator is not None:                # agents on duty, as shifts change them
            estimator.on_duty = self.switchboard.terminals.on_duty
        self._last_end = 0.0
        self._progress = progress       # told the fraction of the arrivals' duration done
        self._arrived = len(scenario.callbacks)   # arrivals are numbered after the explicit calls
        self.rota = self._rota() if self.staffing else None

    # -- the world's parts, built for the switchboard ------------------------

    def _pbx(self, deliver: Deliver) -> SimPbx:
        self.pbx = SimPbx(self.clock, build.pbx(self.scenario), rng=self.streams["pbx"],
                          phones=self.people, deliver=deliver, agents=self.levels.agents,
                          trunk_level=self.levels.trunks)
        return self.pbx

    def _rooms(self, deliver: Deliver) -> RoomServers:
        self.rooms = room_servers(self.scenario, self.clock, self.streams["rooms"], deliver,
                                  self.levels.rooms, self.levels)
        return self.rooms

    def _rota(self) -> Rota:
        """The shifts: the switchboard told of each step, the on-duty levels kept."""
        phones = {name: len(c.terminals) for name, c in self.directory.centres.items()}
        duty = OnDuty(self.levels, phones, self.staffing,
                      self.by_interval.on_duty if self.by_interval else None)
        return Rota(self.clock, self.staffing, self.switchboard.staff, duty.counts)

    def _sessions(self, network: NetworkSetup) -> RoomSessions:
        return RoomSessions(self.clock, network, self.streams["network"], self.collector,
                            two_way=self.scenario.rooms.two_way)

    # -- the Observer protocol -----------------------------------------------

    def closed(self, record: CallbackRecord) -> None:
        """A callback ended: note when, and keep nothing of it in a streamed run."""
        self._last_end = max(self._last_end, record.times.get("ended", 0.0))
        if self.records is None:
            self.people.forget(record.id)

    # -- processes -----------------------------------------------------------

    def _end_warmup(self) -> None:
        for level in (self.levels.rooms, self.levels.agents, self.levels.trunks,
                      self.levels.egress, self.levels.on_duty):
            if level is not None:
                level.restart(self.env.now)

    def _ticker(self, duration: float):  # type: ignore[no-untyped-def]
        assert self._progress is not None
        for step in range(1, 101):
            yield self.env.timeout(duration / 100)
            self._progress(step / 100)

    def _sampler(self):  # type: ignore[no-untyped-def]
        """The levels at every interval, while traffic may still come or calls are up."""
        arrivals = self.scenario.arrivals
        horizon = arrivals.duration if arrivals else 0.0
        live = self.switchboard.live
        while True:
            levels = self.levels
            self.samples.append((self.env.now, levels.agents.value, levels.rooms.value,
                                 len(live), levels.trunks.value, levels.egress.value))
            if self.env.now >= horizon and not live:
                return
            yield self.env.timeout(self.collector.interval)

    # -- traffic -------------------------------------------------------------

    def _request(self, number: int, service: str,
                 person: PersonProfile | tuple[PersonProfile, ...], phone: str | None,
                 name: str = "", schedule_at: float | None = None) -> None:
        callback_id = str(number)
        self.people.person_profiles[callback_id] = person
        self.switchboard.request({"service": service, "name": name},
                                 phone or f"+1555{number:07d}", callback_id,
                                 schedule_at=schedule_at)

    def _explicit(self):  # type: ignore[no-untyped-def]
        """The scenario's `callbacks`, each at its time (call N is the N-th in the file)."""
        specs = self.scenario.callbacks
        now = 0.0
        for i in sorted(range(len(specs)), key=lambda i: specs[i].at):
            spec = specs[i]
            yield self.env.timeout(spec.at - now)
            now = spec.at
            people = self.scenario.people(spec.person)
            self._request(i + 1, spec.service, people[0] if len(people) == 1 else people,
                          spec.number, spec.name,
                          build.schedule_at(spec, self.calendar.epoch if self.calendar else None))
            if spec.cancel_at is not None:
                self.clock.later(spec.cancel_at - spec.at, self.switchboard.cancel, str(i + 1))

    def _arrival(self, person: PersonProfile, service: str, row_person: str | None = None) -> None:
        """One arrival: `row_person` names the profile a file's row gives, if any."""
        self._arrived += 1
        self._request(self._arrived, service,
                      person if row_person is None else self.scenario.person(row_person), None)

    def _start_arrivals(self) -> None:
        arrivals = self.scenario.arrivals
        if arrivals is None:
            return
        services = build.services(self.scenario)
        arrive = partial(self._arrival, self.scenario.person(arrivals.person))
        draws = self.streams["arrivals"]
        if arrivals.file is None:
            PoissonArrivals(self.clock, build.arrival_segments(arrivals), services, draws,
                            arrive).start()
        else:
            FileArrivals(self.clock, arrivals.file.rows, services, draws, arrive).start()

    # -- running -------------------------------------------------------------

    def run(self) -> SimResult:
        """Run until every call has ended; the result of the run."""
        if self.scenario.callbacks:
            self.env.process(self._explicit())
        self._start_arrivals()
        if self.rota is not None:
            self.rota.start()
        if self.warmup > 0:
            self.env.timeout(self.warmup).callbacks.append(lambda _: self._end_warmup())
        if self.collector.interval > 0:
            self.env.process(self._sampler())
        if self._progress is not None and self.scenario.arrivals is not None:
            self.env.process(self._ticker(self.scenario.arrivals.duration))
        with fewer_collections():
            self.clock.run()
        return self._result()

    def events_scheduled(self) -> int:
        """How many events the run has put on SimPy's queue so far."""
        return self.clock.events_scheduled()

    def _result(self) -> SimResult:
        records = list(self.records) if self.records is not None else []
        arrivals = self.scenario.arrivals
        # The run ends when the last call does (stale cancelled timers may fire later).
        end = max(self._last_end, arrivals.duration if arrivals else 0.0)
        sb = self.switchboard
        timers = sb.ports.timers
        assert isinstance(timers, SimTimers)
        return SimResult(
            scenario=self.scenario, seed=self.seed, records=records,
            metrics=compute(self.collector, self.levels, end, self.extra), end=end,
            collector=self.collector, samples=self.samples, late_events=sb.late_events,
            intervals=self.by_interval.values(arrivals.duration if arrivals else end)
            if self.by_interval else None,
            per_interval=self.by_interval.interval if self.by_interval else 0.0,
            open_at_end={"live": len(sb.live), "rooms": len(self.rooms.rooms),
                         "codes": sb.codes.in_use, "legs": self.pbx.legs_up,
                         "timers": timers.live},
            plans=self.people.plans or {})


def _interval_stats(scenario: Scenario, directory: Directory, interval: float) -> IntervalStats:
    """Each centre's callers and agents per interval: callers under their service's first centre."""
    home = {code: service.centres[0] for code, service in directory.services.items()}
    phones = {name: len(c.terminals) for name, c in directory.centres.items()}
    return IntervalStats(interval, scenario.sla.within, home, phones)


class OnDuty:
    """The agents on duty, as the rota sets them: the run's level and each centre's count."""

    def __init__(self, levels: Levels, phones: dict[str, int],
                 staffing: dict[str, list[tuple[float, int]]],
                 per_interval: dict[str, Any] | None) -> None:
        self.total = levels.on_duty = Level()
        # Centres without shifts have every phone staffed, all the time.
        self.total.change(0.0, sum(n for c, n in phones.items() if c not in staffing))
        self.now = {centre: 0 for centre in staffing}
        self.per_interval = per_interval
        if per_interval is not None:
            for centre in staffing:
                per_interval[centre].set(0.0, 0)
        self.counts = {centre: _CentreDuty(self, centre) for centre in staffing}

    def set(self, centre: str, now: float, agents: int) -> None:
        """`centre` has `agents` on duty from `now`."""
        self.total.change(now, agents - self.now[centre])
        self.now[centre] = agents
        if self.per_interval is not None:
            self.per_interval[centre].set(now, agents)


class _CentreDuty:
    """One centre's on-duty count, as the rota's `Count`."""

    def __init__(self, duty: OnDuty, centre: str) -> None:
        self.duty, self.centre = duty, centre

    def set(self, now: float, value: int) -> None:
        """The centre has `value` agents on duty from `now`."""
        self.duty.set(self.centre, now, value)

    def change(self, now: float, delta: int) -> None:
        """The centre's agents on duty move by `delta` at `now`."""
        self.set(now, self.duty.now[self.centre] + delta)


def simulate(scenario: Scenario, *, seed: int | None = None,
             observers: Iterable[object] = (), keep_plans: bool = False) -> SimResult:
    """Run a scenario once in simulated time, keeping every record."""
    return Simulation(scenario, seed=seed, observers=observers, keep_plans=keep_plans).run()
