"""The SimPy driver: runs reference_impl's call flow in simulated time.

`Simulation` builds the world a scenario describes (directory, PBX, phones,
room servers, timers) around one `Switchboard`, feeds it the scenario's
callbacks and arrivals, and runs until every call has ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from itertools import count
from typing import Callable, Iterable

import simpy

from reference_impl import flow as f
from reference_impl.codes import CodePool
from reference_impl.directory import Centre, Directory, Service
from reference_impl.flow import Role, role_of
from reference_impl.ports import NoNotifier
from reference_impl.records import CallbackRecord, MemoryRecords
from reference_impl.switchboard import Ports, Switchboard

from . import behaviour as b
from .clock import Clock, SimClock
from .metrics import Level, Levels, compute
from .stats import Collector
from .pbx import SimPbx
from .rooms import RoomServers
from .network import RoomSessions
from .scenario import Scenario
from .arrivals import FileArrivals, PoissonArrivals


Deliver = Callable[[str, f.Event], None]


class SimTimers:
    """Timers as scheduled steps; a cancelled one fires into nothing."""

    def __init__(self, clock: SimClock, deliver: Deliver) -> None:
        self.clock = clock
        self.deliver = deliver
        self._live: dict[tuple[str, str], int] = {}
        self._starts = count()

    def start(self, callback_id: str, timer: str, delay: float) -> None:
        # Each start has its own number: a restarted timer's old step finds another.
        key, start = (callback_id, timer), next(self._starts)
        self._live[key] = start
        self.clock.later(delay, self._fire, key, start)

    def _fire(self, key: tuple[str, str], start: int) -> None:
        if self._live.get(key) == start:
            del self._live[key]
            self.deliver(key[0], f.TimerFired(timer=key[1]))

    def cancel(self, callback_id: str, timer: str) -> None:
        self._live.pop((callback_id, timer), None)

    @property
    def live(self) -> int:
        return len(self._live)


class AgentDesk:
    """Agents at their desks: after pickup, each types the code shown as caller ID."""

    def __init__(self, clock: Clock, switchboard: Switchboard) -> None:
        self.clock = clock
        self.switchboard = switchboard

    def picked_up(self, callback_id: str, code: str, delay: float) -> None:
        self.clock.later(delay, self._type, callback_id, code)

    def _type(self, callback_id: str, code: str) -> None:
        if callback_id in self.switchboard.live:   # still on the call
            self.switchboard.enter_code(code)


class People:
    """The phone book of the emulator: each person's profile, each desk phone's agent.

    Every plan it draws is kept in `plans` (by callback and leg) when asked, so
    the same calls can be replayed over real SIP.
    """

    def __init__(self, scenario: Scenario, streams: b.Streams, keep_plans: bool = False) -> None:
        self.streams = streams
        self.person_profiles: dict[str, b.PersonProfile] = {}
        self.agent_profiles = agent_profiles(scenario)
        self.plans: dict[tuple[str, str], b.PhonePlan] | None = {} if keep_plans else None
        self.desk: AgentDesk | None = None

    def plan(self, callback_id: str, leg: str, number: str) -> b.PhonePlan:
        if role_of(leg) is Role.PERSON:
            plan = b.plan_person(self.person_profiles[callback_id], self.streams)
        else:
            plan = b.plan_agent(self.agent_profiles[number], self.streams)
        if self.plans is not None:
            self.plans[(callback_id, leg)] = plan
        return plan

    def answered(self, callback_id: str, leg: str, caller_id: str, plan: b.PhonePlan) -> None:
        if role_of(leg) is Role.AGENT and self.desk is not None:
            self.desk.picked_up(callback_id, caller_id, plan.code_entry)


def agent_profiles(scenario: Scenario) -> dict[str, b.AgentProfile]:
    """Desk phone number -> the profile of the agent who answers it."""
    profiles: dict[str, b.AgentProfile] = {}
    for index, centre in enumerate(scenario.centres.values(), start=1):
        default, own = scenario.agent(centre.agent), centre.agents()
        for number in centre.numbers(index):
            profiles[number] = scenario.agent(own[number]) if number in own else default
    return profiles


@dataclass
class SimResult:
    scenario: Scenario
    seed: int
    records: list[CallbackRecord]
    metrics: dict[str, float | None]
    end: float
    late_events: int = 0
    open_at_end: dict[str, int] = field(default_factory=dict)
    plans: dict[tuple[str, str], b.PhonePlan] = field(default_factory=dict)  # with keep_plans
    collector: Collector | None = None
    samples: list[tuple[float, int, int, int, int, int]] = field(default_factory=list)


def build_directory(scenario: Scenario) -> Directory:
    centres = {}
    for index, (name, spec) in enumerate(scenario.centres.items(), start=1):
        centres[name] = Centre(name=name, terminals=tuple(spec.numbers(index)),
                               ring_timeout=spec.ring_timeout,
                               queue_max_wait=spec.queue.max_wait if spec.queue else None)
    services = {code: Service(code=code, centres=tuple(s.centres), room_template=s.room_template,
                              label=s.label or code)
                for code, s in scenario.services.items()}
    return Directory(services=services, centres=centres)


def room_servers(scenario: Scenario, clock: Clock, rng: b.Rng, deliver: Deliver,
                 level: Level, levels: Levels | None = None) -> RoomServers:
    """The scenario's room servers, in either time domain (`levels`: egress and waits too)."""
    warmup = scenario.arrivals.warmup if scenario.arrivals else 0.0
    # Two-way video in the network model is two-way on the servers too.
    two_way = scenario.network is not None and scenario.network.video.two_way
    return RoomServers.from_spec(scenario.rooms, clock, rng=rng, deliver=deliver, level=level,
                                 every_room_two_way=two_way,
                                 egress_level=levels.egress if levels else None,
                                 waits=levels.room_wait if levels else None, warmup=warmup)


def code_pool(scenario: Scenario) -> CodePool:
    spec = scenario.codes
    return CodePool(digits=spec.digits, first=spec.first, count=spec.count)


class Simulation:
    def __init__(self, scenario: Scenario, *, seed: int | None = None,
                 observers: Iterable[object] = (), keep_plans: bool = False,
                 keep_records: bool = True, interval: float = 0.0,
                 progress: Callable[[float], None] | None = None) -> None:
        """`keep_records=False` streams statistics only (load runs: memory stays flat);
        `interval` > 0 also samples the levels and counts callbacks per interval."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.env = env = simpy.Environment()
        self.streams = streams = b.Streams(self.seed)
        self.directory = directory = build_directory(scenario)
        self.records = MemoryRecords() if keep_records else None
        arrivals = scenario.arrivals
        self.warmup = arrivals.warmup if arrivals else 0.0
        self.collector = Collector(self.warmup, interval)
        # t, agents, rooms, live, trunks, room egress (bit/s)
        self.samples: list[tuple[float, int, int, int, int, int]] = []
        self.levels = Levels(terminals=sum(len(c.terminals) for c in directory.centres.values()),
                             trunk_capacity=scenario.pbx.trunks)
        self.people = People(scenario, streams, keep_plans)
        deliver = self._deliver
        self.clock = clock = SimClock(env)
        self.pbx = SimPbx(clock, trunks=scenario.pbx.trunks,
                          post_dial_delay=scenario.pbx.post_dial_delay,
                          answer_signalling_delay=scenario.pbx.answer_signalling_delay,
                          bridge_delay=scenario.pbx.bridge_delay, rng=streams["pbx"],
                          phones=self.people, deliver=deliver, agents=self.levels.agents,
                          trunk_level=self.levels.trunks)
        self.rooms = room_servers(scenario, clock, streams["rooms"], deliver,
                                  self.levels.rooms, self.levels)
        self.timers = SimTimers(clock, deliver)
        if scenario.network is not None:     # links and room traffic cost nothing unless asked for
            observers = (*observers, RoomSessions(clock, scenario.network, streams["network"],
                                                  self.collector, two_way=scenario.rooms.two_way))
        self.switchboard = Switchboard(
            directory=directory, codes=code_pool(scenario),
            ports=Ports(telephony=self.pbx, rooms=self.rooms, notifier=NoNotifier(),
                        timers=self.timers),
            clock=partial(getattr, env, "now"), records=self.records,
            person_ring_timeout=scenario.pbx.person_ring_timeout,
            caller_id=scenario.pbx.caller_id, observers=[self.collector, self, self.rooms, *observers],
            timelines=keep_records)
        # The ports were built before the switchboard, through `_deliver`; from now
        # on they call it straight (one call less for every event of the run).
        self.pbx.deliver = self.rooms.deliver = self.timers.deliver = self.switchboard.deliver
        self._last_end = 0.0
        self._progress = progress       # told the fraction of the arrivals' duration done
        self.people.desk = AgentDesk(clock, self.switchboard)
        self._arrived = len(scenario.callbacks)   # arrivals are numbered after the explicit calls

    def _deliver(self, callback_id: str, event: f.Event) -> None:
        self.switchboard.deliver(callback_id, event)

    def closed(self, record: CallbackRecord) -> None:
        self._last_end = max(self._last_end, record.times.get("ended", 0.0))
        if self.records is None:               # streaming: keep nothing per finished call
            self.people.person_profiles.pop(record.id, None)

    def _end_warmup(self) -> None:
        for level in (self.levels.rooms, self.levels.agents, self.levels.trunks,
                      self.levels.egress):
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
        while True:
            levels = self.levels
            self.samples.append((self.env.now, levels.agents.value, levels.rooms.value,
                                 len(self.switchboard.live), levels.trunks.value,
                                 levels.egress.value))
            if self.env.now >= horizon and not self.switchboard.live:
                return
            yield self.env.timeout(self.collector.interval)

    # -- traffic -------------------------------------------------------------

    def _request(self, number: int, service: str, person: b.PersonProfile,
                 phone: str | None, name: str = "") -> None:
        callback_id = str(number)
        self.people.person_profiles[callback_id] = person
        self.switchboard.request({"service": service, "name": name},
                                 phone or f"+1555{number:07d}", callback_id)

    def _explicit(self):  # type: ignore[no-untyped-def]
        """The scenario's `callbacks`, each at its time (call N is the N-th in the file)."""
        specs = self.scenario.callbacks
        now = 0.0
        for i in sorted(range(len(specs)), key=lambda i: specs[i].at):
            spec = specs[i]
            yield self.env.timeout(spec.at - now)
            now = spec.at
            self._request(i + 1, spec.service, self.scenario.person(spec.person),
                          spec.number, spec.name)

    def _arrival(self, person: b.PersonProfile, service: str, row_person: str | None = None) -> None:
        """One arrival: `row_person` names the profile a file's row gives, if any."""
        self._arrived += 1
        self._request(self._arrived, service,
                      person if row_person is None else self.scenario.person(row_person), None)

    # -- running -------------------------------------------------------------

    def run(self) -> SimResult:
        if self.scenario.callbacks:
            self.env.process(self._explicit())
        arrivals = self.scenario.arrivals
        if arrivals is not None:
            services = arrivals.services or {code: 1.0 for code in self.scenario.services}
            arrive = partial(self._arrival, self.scenario.person(arrivals.person))
            source = (PoissonArrivals(self.clock, arrivals, services, self.streams["arrivals"],
                                      arrive) if arrivals.file is None else
                      FileArrivals(self.clock, arrivals.file, services, self.streams["arrivals"],
                                   arrive))
            source.start()
        if self.warmup > 0:
            self.env.timeout(self.warmup).callbacks.append(lambda _: self._end_warmup())
        if self.collector.interval > 0:
            self.env.process(self._sampler())
        if self._progress is not None and self.scenario.arrivals is not None:
            self.env.process(self._ticker(self.scenario.arrivals.duration))
        self.clock.run()
        records = list(self.records) if self.records is not None else []
        arrivals = self.scenario.arrivals
        # The run ends when the last call does (stale cancelled timers may fire later).
        end = max(self._last_end, arrivals.duration if arrivals else 0.0)
        return SimResult(
            scenario=self.scenario, seed=self.seed, records=records,
            metrics=compute(self.collector, self.levels, end), end=end,
            collector=self.collector, samples=self.samples,
            late_events=self.switchboard.late_events,
            open_at_end={"live": len(self.switchboard.live), "rooms": len(self.rooms.rooms),
                         "codes": self.switchboard.codes.in_use, "legs": self.pbx.legs_up,
                         "timers": self.timers.live},
            plans=self.people.plans or {})


def simulate(scenario: Scenario, *, seed: int | None = None,
             observers: Iterable[object] = (), keep_plans: bool = False) -> SimResult:
    return Simulation(scenario, seed=seed, observers=observers, keep_plans=keep_plans).run()
