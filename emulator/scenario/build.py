"""A scenario -> the plain arguments of the models, and the system's directory.

The drivers build their world from these; no model sees the schema.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from reference_impl.calendar import Calendar, ServiceHours, parse_hours
from reference_impl.codes import CodePool
from reference_impl.directory import Centre, Directory, RoomTemplate, Service
from reference_impl.flow import CallbackPolicy, Outcome, RetryRule

from ..models.arrivals import Segment, segments
from ..models.network.link import LinkSpec
from ..models.network.profiles import PROFILES, Access
from ..models.network.setup import ChatSetup, DocumentsSetup, NetworkSetup, VideoSetup
from ..models.pbx.sim import PbxSetup
from ..models.people import AgentProfile, PersonProfile
from ..models.rooms.servers import RoomsSetup
from .schema import AccessRef, Arrivals, CalendarSpec, CallbackSpec, LinkModel, Network, Scenario
from .schema import Service as ServiceSpec


def directory(scenario: Scenario) -> Directory:
    """The services (with their hours) and centres, with each centre's desk phones and
    timeouts, and the room templates."""
    centres = {}
    for index, (name, spec) in enumerate(scenario.centres.items(), start=1):
        centres[name] = Centre(name=name, terminals=tuple(spec.numbers(index)),
                               ring_timeout=spec.ring_timeout,
                               queue_max_wait=spec.queue.max_wait if spec.queue else None)
    services = {code: _service(code, s) for code, s in scenario.services.items()}
    return Directory(services=services, centres=centres, templates=room_templates(scenario))


def _service(code: str, spec: ServiceSpec) -> Service:
    holidays = spec.holidays
    return Service(code=code, centres=tuple(spec.centres), room_template=spec.room_template,
                   label=spec.label or code,
                   hours=None if spec.hours is None else tuple(spec.hours.items()),
                   holidays=tuple(holidays) if isinstance(holidays, list) else (),
                   holiday_country=holidays if isinstance(holidays, str) else None,
                   slot_every=spec.slots.every if spec.slots else None,
                   slot_capacity=spec.slots.capacity if spec.slots else 0)


def room_templates(scenario: Scenario) -> dict[str, RoomTemplate]:
    """The room templates the file defines, by name (none: every room looks the default)."""
    return {name: spec.template(name) for name, spec in scenario.room_templates.items()}


def staffing(scenario: Scenario) -> dict[str, list[tuple[float, int]]]:
    """Centre -> its shifts as (from, agents on duty) steps in time order; only the centres
    that have `staffing` (the others keep every desk phone staffed)."""
    return {name: sorted((step.start, step.agents) for step in spec.staffing)
            for name, spec in scenario.centres.items() if spec.staffing is not None}


def code_pool(scenario: Scenario) -> CodePool:
    """The connection-code pool `codes:` sizes."""
    spec = scenario.codes
    return CodePool(digits=spec.digits, first=spec.first, count=spec.count)


def agent_profiles(scenario: Scenario) -> dict[str, AgentProfile]:
    """Desk phone number -> the profile of the agent who answers it."""
    profiles: dict[str, AgentProfile] = {}
    for index, centre in enumerate(scenario.centres.values(), start=1):
        default, own = scenario.agent(centre.agent), centre.agents()
        for number in centre.numbers(index):
            profiles[number] = scenario.agent(own[number]) if number in own else default
    return profiles


def first_person(scenario: Scenario) -> PersonProfile:
    """How a person behaves when nobody says: the first callback's, else the arrivals'."""
    if scenario.callbacks:
        return scenario.people(scenario.callbacks[0].person)[0]
    assert scenario.arrivals is not None       # a scenario has one or the other
    return scenario.people(scenario.arrivals.person)[0]   # a list: its first call's


def pbx(scenario: Scenario) -> PbxSetup:
    """The PBX's lines and signalling delays."""
    spec = scenario.pbx
    return PbxSetup(trunks=spec.trunks, post_dial_delay=spec.post_dial_delay,
                    answer_signalling_delay=spec.answer_signalling_delay,
                    bridge_delay=spec.bridge_delay)


def rooms(scenario: Scenario) -> RoomsSetup:
    """The room servers, what a room takes and what happens when they are full."""
    spec = scenario.rooms
    return RoomsSetup(servers=spec.servers, rooms_per_server=spec.rooms_per_server,
                      egress=spec.egress, egress_per_room=spec.egress_per_room, cpu=spec.cpu,
                      cpu_per_room=spec.cpu_per_room, two_way=spec.two_way,
                      when_full=spec.when_full, max_wait=spec.max_wait,
                      placement=spec.placement, create_delay=spec.create_delay,
                      join_delay=spec.join_delay, delete_delay=spec.delete_delay)


def network(scenario: Scenario) -> NetworkSetup | None:
    """The lines and the traffic in the room; None when the scenario models no network."""
    spec = scenario.network
    if spec is None:
        return None
    video = spec.video
    return NetworkSetup(
        person=access(spec.person_link, spec), agent=access(spec.agent_link, spec),
        server=access(spec.server_link, spec),
        video=VideoSetup(ladder=tuple(video.ladder), two_way=video.two_way,
                         segment=video.segment, startup=video.startup,
                         feedback=video.feedback),
        chat=ChatSetup(every=spec.chat.every, size=spec.chat.size),
        documents=DocumentsSetup(count=spec.documents.count, size=spec.documents.size,
                                 after=spec.documents.after),
        join=spec.join)


def access(ref: AccessRef, spec: Network) -> Access:
    """A `*_link` value: a name in `links`, a profile's name, or a line written inline."""
    if isinstance(ref, str):
        return _line(spec.links[ref]) if ref in spec.links else PROFILES[ref]
    return _line(ref)


def _line(model: LinkModel) -> Access:
    kind, limit = model.queue or ("bytes", math.inf)
    shared: dict[str, Any] = dict(
        delay=model.delay, jitter=model.jitter, loss=model.loss, burst=model.burst,
        queue_bytes=limit if kind == "bytes" else math.inf,
        queue_packets=limit if kind == "packets" else math.inf)
    return Access(down=LinkSpec(rate=model.down, **shared), up=LinkSpec(rate=model.up, **shared))


def arrival_segments(arrivals: Arrivals) -> list[Segment]:
    """The constant-rate stretches of the arrival process (`rate` or `profile`)."""
    profile = [(step.start, step.rate) for step in arrivals.profile] if arrivals.profile else None
    return segments(arrivals.rate, profile, arrivals.duration)


def services(scenario: Scenario) -> dict[str, float]:
    """The arrivals' service weights (every service alike when none are given)."""
    arrivals = scenario.arrivals
    if arrivals is not None and arrivals.services:
        return dict(arrivals.services)
    return {code: 1.0 for code in scenario.services}


def policy(scenario: Scenario) -> CallbackPolicy | None:
    """The retries and their bound; None when the file asks for neither."""
    spec = scenario.policy
    if not spec.retry and spec.give_up_after is None:
        return None
    rules = tuple((Outcome(name), RetryRule(after=rule.after, attempts=rule.attempts))
                  for name, rule in spec.retry.items())
    return CallbackPolicy(retry=rules, give_up_after=spec.give_up_after)


def timed(scenario: Scenario) -> bool:
    """Whether the scenario keeps a calendar: its own, or a service's hours, holidays, slots."""
    return scenario.calendar is not None or any(
        s.hours is not None or s.holidays or s.slots is not None
        for s in scenario.services.values())


def waits_estimated(scenario: Scenario) -> bool:
    """Whether some callbacks wait where the person is told an estimate: on hold at a
    centre, or for the time of a call (a calendar, a time asked for, a retry)."""
    return any(c.queue is not None for c in scenario.centres.values()) or timed(scenario) \
        or bool(scenario.policy.retry) or any(c.schedule is not None for c in scenario.callbacks)


def desks(directory: Directory) -> dict[str, int]:
    """Each centre's desk phones, for the wait estimate."""
    return {name: len(centre.terminals) for name, centre in directory.centres.items()}


def calendar(scenario: Scenario) -> Calendar | None:
    """The calendar people are called by; None when the scenario keeps none."""
    if not timed(scenario):
        return None
    spec = scenario.calendar or CalendarSpec()
    zone = ZoneInfo(spec.timezone)
    epoch = spec.start.replace(tzinfo=zone) if spec.start.tzinfo is None else spec.start
    services = {code: ServiceHours(
        hours=parse_hours(s.hours) if s.hours is not None else None,
        holidays=frozenset(s.holidays) if isinstance(s.holidays, list) else frozenset(),
        holiday_country=s.holidays if isinstance(s.holidays, str) else None,
        slot_every=s.slots.every if s.slots else None,
        slot_capacity=s.slots.capacity if s.slots else 0) for code, s in scenario.services.items()}
    window = parse_hours({"mon": spec.calling_hours})[0][0] if spec.calling_hours else None
    return Calendar(epoch=epoch, zone=zone, services=services, calling_hours=window)


def calendar_of(scenario: Scenario, directory: Directory) -> Calendar | None:
    """The calendar of a directory's opening hours (serve's, kept in the database) on the
    file's clock and calling hours; None when neither the file nor the directory keeps one."""
    if scenario.calendar is None and not any(s.timed for s in directory.services.values()):
        return None
    spec = scenario.calendar or CalendarSpec()
    zone = ZoneInfo(spec.timezone)
    epoch = spec.start.replace(tzinfo=zone) if spec.start.tzinfo is None else spec.start
    window = parse_hours({"mon": spec.calling_hours})[0][0] if spec.calling_hours else None
    return Calendar(epoch=epoch, zone=zone, calling_hours=window,
                    services={code: s.opening() for code, s in directory.services.items()})


def schedule_at(spec: CallbackSpec, epoch: datetime | None) -> float | None:
    """When a callback asks to be called (flow time): a clock time is the next such time of
    day on or after `at` (in the calendar's zone), a delay counts from `at`."""
    if spec.schedule is None:
        return None
    kind, seconds = spec.schedule
    if kind == "after":
        return spec.at + seconds
    base = (epoch or datetime(2026, 1, 5, tzinfo=timezone.utc)).astimezone(timezone.utc)
    zone = (epoch or base).tzinfo
    # Through UTC: times of one zone add on the wall clock, an hour out across a change
    # of daylight saving time; the clock time asked for is the zone's own.
    local = (base + timedelta(seconds=spec.at)).astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    wanted = (midnight + timedelta(seconds=seconds)).replace(tzinfo=zone)
    if wanted < local:
        wanted = (midnight + timedelta(days=1, seconds=seconds)).replace(tzinfo=zone)
    return (wanted.astimezone(timezone.utc) - base).total_seconds()
