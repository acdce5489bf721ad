"""The schema of scenario files (docs/scenario-format.md), in pydantic.

Every model forbids unknown keys. Values are parsed by the field types of
`fields.py`; names are checked against each other in `checks.py`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (BaseModel, BeforeValidator, Discriminator, Field, Tag, ValidationInfo,
                      WithJsonSchema, field_validator, model_validator)

from reference_impl.calendar import CalendarError, check_country, parse_hours
from reference_impl.directory import (COLOUR, LOGO_MAX_BYTES, Colours, InvalidEntry, Logo,
                                      RoomTemplate)
from reference_impl.flow import Notice, Outcome

from ..models import distributions as d
from ..models import people as p
from ..models.rooms.capacity import TWO_WAY_FACTOR
from ..units import parse_duration
from .arrival_file import ArrivalFile, read_arrivals
from .fields import (Bitrate, Bound, Dist, Duration, LinkRate, Probability, QueueLimit, Rate, Size,
                     SizeDist, Strict)


# -- profiles ----------------------------------------------------------------

_PERSON, _AGENT = p.PersonProfile(), p.AgentProfile()   # the defaults

class PersonSpec(Strict):
    """A person profile: how the person answers, waits and talks (profiles.people.<name>)."""

    answer_delay: Dist = _PERSON.answer_delay
    answer_probability: Probability = 1.0
    busy_probability: Probability = 0.0
    reject_probability: Probability = 0.0
    invalid_probability: Probability = 0.0
    reject_delay: Dist = _PERSON.reject_delay
    patience: Dist | None = None       # a duration, or a distribution (Erlang A: exponential)
    talk_time: Dist | None = None

    def profile(self) -> p.PersonProfile:
        """The person profile the models take (no patience: they wait for ever; a fixed one
        stays a number, so a file that draws none keeps its seeded results)."""
        fields = _fields(self, exclude="patience")
        patience: float | d.Distribution = p.NEVER if self.patience is None else self.patience
        if isinstance(patience, d.Fixed):
            patience = patience.value
        return p.PersonProfile(**fields, patience=patience)


class AgentSpec(Strict):
    """An agent profile: picking up, talking, typing the code (profiles.agents.<name>)."""

    pickup_delay: Dist = _AGENT.pickup_delay
    answer_probability: Probability = 1.0
    busy_probability: Probability = 0.0
    talk_time: Dist = _AGENT.talk_time
    code_entry_delay: Dist = _AGENT.code_entry_delay

    def profile(self) -> p.AgentProfile:
        """The agent profile the models take."""
        return p.AgentProfile(**_fields(self))


def _fields(model: BaseModel, exclude: str = "") -> dict[str, Any]:
    # Not model_dump(): it would turn the distribution objects into dicts.
    return {name: getattr(model, name) for name in type(model).model_fields if name != exclude}


def _name_or_inline(value: Any) -> str:
    return "profile-name" if isinstance(value, str) else "profile-inline"


PersonRef = Annotated[Union[Annotated[str, Tag("profile-name")], Annotated[PersonSpec, Tag("profile-inline")]],
                      Discriminator(_name_or_inline)]
AgentRef = Annotated[Union[Annotated[str, Tag("profile-name")], Annotated[AgentSpec, Tag("profile-inline")]],
                     Discriminator(_name_or_inline)]


class Profiles(Strict):
    """The file's own person and agent profiles, by name (profiles)."""

    people: dict[str, PersonSpec] = {}
    agents: dict[str, AgentSpec] = {}


# -- the system --------------------------------------------------------------

class Slots(Strict):
    """Bookable callback times of a service: a slot every so long, so many requests each."""

    every: Annotated[Duration, Field(gt=0)]
    capacity: Annotated[int, Field(ge=1)]


def _holidays(value: object) -> object:
    """Holidays: a list of dates, or a country code (ES) for its public holidays."""
    if isinstance(value, str):
        return value.strip().upper()
    return value


class Service(Strict):
    """A service: the centres tried in turn, its room template, its label (services.<name>)."""

    centres: list[str]
    room_template: str = "default"
    label: str = ""
    hours: dict[str, str] | None = None       # {mon-fri: "08:00-20:00"}; none: always open
    holidays: Annotated[list[date] | str, BeforeValidator(_holidays)] = []
    slots: Slots | None = None

    @model_validator(mode="after")
    def _hours_parse(self) -> "Service":
        if self.hours is not None:
            try:
                parse_hours(self.hours)
            except CalendarError as error:
                raise ValueError(str(error)) from None
        if isinstance(self.holidays, str):
            try:
                check_country(self.holidays)
            except CalendarError as error:
                raise ValueError(str(error)) from None
        return self


class Queue(Strict):
    """Holding people when every desk phone is in use: for how long (centres.<name>.queue)."""

    max_wait: Duration


class Terminal(Strict):
    """A desk phone whose agent behaves unlike the rest of its centre."""

    number: str
    agent: AgentRef | None = None        # none: the centre's agent


def _number_or_terminal(value: Any) -> str:
    return "terminal" if isinstance(value, dict) else "number"


TerminalRef = Annotated[Union[Annotated[str, Tag("number")], Annotated[Terminal, Tag("terminal")]],
                        Discriminator(_number_or_terminal)]


MAX_TERMINALS = 100_000        # desk phones in one centre: far beyond any contact centre


class StaffStep(Strict):
    """A step of a centre's shifts: agents on duty from a time of day on (centres.<name>.staffing[])."""

    start: Duration = Field(alias="from")
    agents: Annotated[int, Field(ge=0, le=MAX_TERMINALS)]


class Centre(Strict):
    """A centre: its desk phones, ring timeout, queue and agents (centres.<name>)."""

    terminals: (Annotated[int, Field(ge=1, le=MAX_TERMINALS)]
                | Annotated[list[TerminalRef], Field(min_length=1, max_length=MAX_TERMINALS)]) = 1
    ring_timeout: Annotated[Duration, Field(gt=0)] = 15.0
    queue: Queue | None = None
    agent: AgentRef = "prompt"
    staffing: Annotated[list[StaffStep], Field(min_length=1)] | None = None   # shifts; none: every phone staffed

    @field_validator("staffing")
    @classmethod
    def _staffed_phones(cls, staffing: list[StaffStep] | None,
                        info: ValidationInfo) -> list[StaffStep] | None:
        terminals = info.data.get("terminals")
        phones = terminals if isinstance(terminals, int) else len(terminals or ())
        starts = [step.start for step in staffing or ()]
        if len(set(starts)) != len(starts):
            raise ValueError("two steps of the staffing start at the same time "
                             f"({sorted(t for t in starts if starts.count(t) > 1)[0]:g} s)")
        for step in staffing or ():
            if "terminals" in info.data and step.agents > phones:
                raise ValueError(f"from {step.start:g} s: {step.agents} agents on duty, more "
                                 f"than the centre's {phones} desk phones (terminals)")
        return staffing

    def numbers(self, index: int) -> list[str]:
        """The desk phones' numbers; a count gets numbers +1800<centre><n>."""
        if isinstance(self.terminals, int):
            return [f"+1800{index:03d}{n:04d}" for n in range(1, self.terminals + 1)]
        return [t if isinstance(t, str) else t.number for t in self.terminals]

    def agents(self) -> dict[str, AgentRef]:
        """Desk phone number -> agent profile, for the phones that have their own."""
        if isinstance(self.terminals, int):
            return {}
        return {t.number: t.agent for t in self.terminals
                if isinstance(t, Terminal) and t.agent is not None}


class Pbx(Strict):
    """The PBX: trunks, the person's ring timeout, signalling delays, caller ID (pbx)."""

    trunks: Annotated[int, Field(ge=1, le=10_000_000)] = 60
    person_ring_timeout: Annotated[Duration, Field(gt=0)] = 30.0
    post_dial_delay: Dist = d.Fixed(0.3)
    answer_signalling_delay: Dist = d.Fixed(0.0)   # the phone answers -> the PBX knows
    bridge_delay: Dist = d.Fixed(0.05)
    caller_id: str = ""               # what the person's phone shows


class Rooms(Strict):
    """Room servers: what each holds, what a room takes, what happens when full (rooms)."""

    servers: Annotated[int, Field(ge=1, le=100_000)] = 1
    rooms_per_server: Annotated[int, Field(ge=1, le=10_000_000)] = 200
    egress: Annotated[Bitrate, Field(gt=0)] | None = None      # per server; none: no limit
    egress_per_room: Bitrate = 1.2e6       # the video a one-way room sends out
    cpu: Annotated[float, Field(gt=0)] | None = None            # units per server; none: no limit
    cpu_per_room: Annotated[float, Field(ge=0)] = 0.1
    two_way: bool | list[str] = False      # every room, or these room templates: twice egress and CPU
    when_full: Literal["reject", "queue"] = "reject"
    max_wait: Duration | None = None       # with queue: refused after waiting this long
    placement: Literal["least_loaded", "round_robin", "first_fit"] = "least_loaded"
    create_delay: Dist = d.Fixed(0.2)
    join_delay: Dist = d.Fixed(0.5)
    delete_delay: Dist = d.Fixed(0.1)

    @model_validator(mode="after")
    def _consistent(self) -> "Rooms":
        if self.max_wait is not None and self.when_full != "queue":
            raise ValueError("max_wait only applies with 'when_full: queue'")
        factor = TWO_WAY_FACTOR if self.two_way else 1
        if self.egress is not None and self.egress_per_room * factor > self.egress:
            raise ValueError(f"a room needs {self.egress_per_room * factor:g} bit/s of egress, "
                             f"more than a server has ({self.egress:g} bit/s)")
        if self.cpu is not None and self.cpu_per_room * factor > self.cpu:
            raise ValueError(f"a room needs {self.cpu_per_room * factor:g} CPU units, "
                             f"more than a server has ({self.cpu:g})")
        return self


# -- room templates ------------------------------------------------------------

def _colour(value: object) -> object:
    if value is not None and (not isinstance(value, str) or not COLOUR.match(value)):
        raise ValueError(f"{value!r}: write a colour as \"#rrggbb\" or \"#rgb\" (quoted: "
                         "YAML reads # as a comment)")
    return value


Colour = Annotated[str, BeforeValidator(_colour), WithJsonSchema({
    "type": "string", "pattern": COLOUR.pattern, "description": "#rrggbb or #rgb"})]


def _logo_file(value: object, info: ValidationInfo) -> Logo:
    """`logo`: an image file, relative to the scenario, read (and checked) when it loads."""
    if isinstance(value, Logo):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("give the path of an image file (relative to the scenario)")
    path = (info.context or {}).get("base", Path(".")) / value
    try:
        with path.open("rb") as handle:
            data = handle.read(LOGO_MAX_BYTES + 1)
    except OSError as error:
        raise ValueError(f"{path}: cannot read the logo: {error.strerror}") from None
    try:
        return Logo.of(data)
    except InvalidEntry as error:
        raise ValueError(f"{path}: {error.message}") from None


LogoFile = Annotated[Logo, BeforeValidator(_logo_file), WithJsonSchema({
    "type": "string", "description": "a PNG, JPEG, GIF or WebP file of at most "
    f"{LOGO_MAX_BYTES // 1024} kB, relative to the scenario"})]


class TemplateColours(Strict):
    """A room's colours; none keeps the page's own (room_templates.<name>.colours)."""

    accent: Colour | None = None
    background: Colour | None = None
    text: Colour | None = None


class RoomTemplateSpec(Strict):
    """How the rooms of the services that name it look (room_templates.<name>)."""

    title: str = RoomTemplate().title
    greeting: str = ""
    colours: TemplateColours = TemplateColours()
    logo: LogoFile | None = None
    documents: list[str] | None = None          # none: every catalogue document
    chat: bool = True

    @model_validator(mode="after")
    def _fits(self) -> "RoomTemplateSpec":
        try:
            self.template("checked")
        except InvalidEntry as error:
            raise ValueError(str(error)) from None
        return self

    def template(self, name: str) -> RoomTemplate:
        """The room template the system takes, named `name`."""
        colours = self.colours
        return RoomTemplate(name=name, title=self.title, greeting=self.greeting,
                            colours=Colours(accent=colours.accent, background=colours.background,
                                            text=colours.text),
                            logo=self.logo, chat=self.chat,
                            documents=None if self.documents is None else tuple(self.documents))


class Codes(Strict):
    """The pool of connection codes: their digits, the first code, how many (codes)."""

    digits: Annotated[int, Field(ge=1, le=18)] = 4
    first: Annotated[int, Field(ge=0)] | None = None
    count: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _fits(self) -> "Codes":
        first = 10 ** (self.digits - 1) if self.first is None else self.first
        count = 10 ** self.digits - first if self.count is None else self.count
        if first + count > 10 ** self.digits:
            raise ValueError(f"codes {first}..{first + count - 1} do not fit in "
                             f"{self.digits} digits")
        return self


class LinkModel(Strict):
    """An access written in the file: two rates, and what both directions share."""

    down: LinkRate                     # towards its owner (person, agent, server)
    up: LinkRate                       # away from its owner
    delay: Duration = 0.0              # one way
    jitter: Duration = 0.0
    loss: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    queue: QueueLimit | None = None    # none: no limit
    burst: Size = 0.0                  # bytes that may leave at once after a pause (tc tbf)


AccessRef = Annotated[Union[Annotated[str, Tag("profile-name")], Annotated[LinkModel, Tag("profile-inline")]],
                      Discriminator(_name_or_inline)]


class Video(Strict):
    """The room's video: bit rate ladder, segments, startup, receiver reports (network.video)."""

    ladder: Annotated[list[LinkRate], Field(min_length=1)] = [250e3, 500e3, 1000e3]
    two_way: bool = False              # the person's camera too (the product is one-way)
    segment: Annotated[Duration, Field(gt=0)] = 1.0      # seconds of video per segment
    startup: Duration | None = None    # video buffered before the first frame; none: two segments
    feedback: Bitrate = 4800.0         # receiver reports the person sends while video plays


class Chat(Strict):
    """Chat in the room: how often each side writes, and how big a message is (network.chat)."""

    every: Annotated[Duration, Field(gt=0)] = 30.0      # mean gap between one side's messages
    size: Size = 200.0


class Documents(Strict):
    """Documents the agent pushes to the person: how many, how big, when (network.documents)."""

    count: Annotated[int, Field(ge=0)] = 1
    size: SizeDist = d.Fixed(400e3)
    after: Dist = d.Uniform(10.0, 60.0)   # the agent joined (or the last push) -> the next push


class Network(Strict):
    """Who sits behind which line, and what flows in the room (`network:`)."""

    person_link: AccessRef = "adsl_8m_1m"
    agent_link: AccessRef = "fibre"
    server_link: AccessRef = "datacentre"
    links: dict[str, LinkModel] = {}    # named accesses, used by the *_link keys
    video: Video = Video()
    chat: Chat = Chat()
    documents: Documents = Documents()
    join: Size = 2000.0                # the person's page joining the room (HTTP, websocket, SDP)


# -- traffic -----------------------------------------------------------------

def _schedule(value: object) -> object:
    """`schedule`: a clock time ("15:00": the next one on or after `at`) or a delay (2h)."""
    if isinstance(value, str) and ":" in value:
        return ("clock", parse_duration(value))
    return ("after", parse_duration(value))


Schedule = Annotated[tuple[str, float], BeforeValidator(_schedule), WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
    "description": "a clock time (15:00: the next one on or after `at`) or a delay (2h)"})]


class CallbackSpec(Strict):
    """A callback at a given time, as if a person had sent the form (callbacks[])."""

    at: Duration = 0.0
    service: str
    person: PersonRef | Annotated[list[PersonRef], Field(min_length=1)] = "prompt"
    number: str | None = None
    name: str = ""
    schedule: Schedule | None = None          # "call me at 15:00" / "call me in 2 hours"
    cancel_at: Duration | None = None         # the person cancels on the status page then


class RateStep(Strict):
    """A step of the arrival profile: the rate from a time of day on (arrivals.profile[])."""

    start: Duration = Field(alias="from")
    rate: Rate


def _arrival_file(value: object, info: ValidationInfo) -> ArrivalFile:
    if isinstance(value, ArrivalFile):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("give the path of a CSV file (relative to the scenario)")
    return read_arrivals((info.context or {}).get("base", Path(".")) / value)


MAX_ARRIVALS = 50_000_000      # callbacks one replication may be asked for


class Arrivals(Strict):
    """Callbacks drawn at random, or read from a file, over a duration (arrivals)."""

    rate: Rate | None = None
    profile: Annotated[list[RateStep], Field(min_length=1)] | None = None
    # Recorded traffic: a CSV of times (emulator/scenario/arrival_file.py), replayed as it is.
    file: Annotated[ArrivalFile, BeforeValidator(_arrival_file), WithJsonSchema({
        "type": "string", "description": "a CSV file of recorded requests, relative to the "
        "scenario (columns at, service, person)"})] | None = None
    services: dict[str, Annotated[float, Field(gt=0)]] | None = None
    person: PersonRef = "prompt"
    duration: Duration
    warmup: Duration = 0.0

    @model_validator(mode="after")
    def _one_rate(self) -> "Arrivals":
        if sum(x is not None for x in (self.rate, self.profile, self.file)) != 1:
            raise ValueError("give one of 'rate', 'profile' or 'file'")
        rates = [self.rate or 0.0] + [step.rate for step in self.profile or ()]
        if max(rates) * self.duration > MAX_ARRIVALS:
            raise ValueError(f"{max(rates) * 3600:,.0f}/h for {self.duration / 3600:g} h is more "
                             f"than {MAX_ARRIVALS:,} callbacks: a run would not end; shorten "
                             "the duration or run replications")
        if self.warmup >= self.duration:
            raise ValueError(f"the warm-up ({self.warmup:g} s) is as long as the run "
                             f"({self.duration:g} s): nothing would be counted")
        starts = [step.start for step in self.profile or ()]
        if len(set(starts)) != len(starts):
            raise ValueError("two steps of the profile start at the same time "
                             f"({sorted(t for t in starts if starts.count(t) > 1)[0]:g} s)")
        if self.file is not None and self.file.rows[-1].at >= self.duration:
            last = self.file.rows[-1]
            raise ValueError(f"{self.file.path}:{last.line}: an arrival at {last.at:g} s, "
                             f"past the duration ({self.duration:g} s)")
        return self


# -- expectations ------------------------------------------------------------

class CallExpectation(Strict):
    """What must hold for one call: outcome, centre, desk phone, code, notice (expect[])."""

    call: Annotated[int, Field(ge=1)]
    outcome: Outcome | None = None
    failovers: Annotated[int, Field(ge=0)] | None = None
    centre: str | None = None
    terminal: str | None = None
    code: str | None = None
    ended_by: Literal["person", "agent"] | None = None
    told: Notice | None = None          # the person's page showed this notice
    room: bool | None = None            # a room was opened for the call
    # RTP both ways between bridge and hang-up (sip: measured on the wire; sim: bridged)
    audio: Literal["two_way", "one_way", "none"] | None = None
    attempts: Annotated[int, Field(ge=0)] | None = None   # calls made to the person
    modes: Annotated[list[Literal["sim", "sip"]], Field(min_length=1)] | None = None   # where it applies (default: every mode)


class MetricExpectation(Strict):
    """A bound a metric must meet after the run (expect[] with a `metric` key)."""

    metric: str
    below: Bound | None = None             # value < below
    above: Bound | None = None             # value > above
    at_most: Bound | None = None           # value <= at_most
    at_least: Bound | None = None          # value >= at_least
    between: tuple[Bound, Bound] | None = None     # lo <= value <= hi
    modes: Annotated[list[Literal["sim", "sip"]], Field(min_length=1)] | None = None   # where it applies (default: every mode)

    @model_validator(mode="after")
    def _one_bound(self) -> "MetricExpectation":
        bounds = (self.below, self.above, self.at_most, self.at_least, self.between)
        if sum(x is not None for x in bounds) != 1:
            raise ValueError("give exactly one of 'below', 'above', 'at_most', 'at_least' "
                             "or 'between'")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError(f"between [{self.between[0]:g}, {self.between[1]:g}]: the low "
                             "bound is above the high one")
        return self


def _expectation_kind(value: Any) -> str:
    return "metric-expectation" if isinstance(value, dict) and "metric" in value else "call-expectation"


Expectation = Annotated[Union[Annotated[CallExpectation, Tag("call-expectation")],
                              Annotated[MetricExpectation, Tag("metric-expectation")]],
                        Discriminator(_expectation_kind)]


# Outcomes after which the person may be called again (the others end the callback).
RETRYABLE = (Outcome.PERSON_BUSY, Outcome.PERSON_NO_ANSWER, Outcome.PERSON_REJECTED,
             Outcome.PERSON_INVALID_NUMBER, Outcome.PERSON_ABANDONED, Outcome.NO_AGENT,
             Outcome.NO_TRUNK, Outcome.NO_CODE, Outcome.BRIDGE_FAILED)


class Retry(Strict):
    """Call the person again after an outcome (policy.retry.<outcome>)."""

    after: Duration
    attempts: Annotated[int, Field(ge=1, le=100)]         # counting the first call


class Policy(Strict):
    """What a callback does beyond one call: retries, duplicates, a bound (policy)."""

    retry: dict[Literal[tuple(o.value for o in RETRYABLE)], Retry] = {}   # type: ignore[misc, valid-type]
    dedupe: bool = False
    give_up_after: Annotated[Duration, Field(gt=0)] | None = None


def _clock_start(value: object) -> object:
    """`2026-12-07T00:00` (YAML may already have read it as a datetime)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time (write 2026-12-07T00:00)") from None


def _zone(value: object) -> str:
    from zoneinfo import ZoneInfo
    try:
        ZoneInfo(str(value))
    except (KeyError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (write e.g. Europe/Madrid or UTC)") from None
    return str(value)


class CalendarSpec(Strict):
    """The clock at time 0, its time zone, and when people may be called (calendar)."""

    start: Annotated[datetime, BeforeValidator(_clock_start)] = datetime(2026, 1, 5)
    timezone: Annotated[str, BeforeValidator(_zone)] = "UTC"
    calling_hours: str | None = "09:00-21:00"        # in each person's own local time

    @model_validator(mode="after")
    def _window(self) -> "CalendarSpec":
        if self.calling_hours is not None:
            try:
                parse_hours({"mon-sun": self.calling_hours})
            except CalendarError as error:
                raise ValueError(f"calling_hours: {error}") from None
        return self


class Sla(Strict):
    """The service level's threshold (sla): an agent within this of the person answering."""

    within: Annotated[Duration, Field(gt=0)] = 20.0


class Scenario(Strict):
    """A scenario file of callback-emulator (docs/scenario-format.md)."""

    name: str
    description: str = ""
    seed: Annotated[int, Field(ge=0, lt=2 ** 63)] = 0
    mode: Annotated[list[Literal["sim", "sip"]], Field(min_length=1)] = ["sim"]
    services: dict[str, Service]
    centres: dict[str, Centre]
    profiles: Profiles = Profiles()
    pbx: Pbx = Pbx()
    callbacks: list[CallbackSpec] = []
    arrivals: Arrivals | None = None
    rooms: Rooms = Rooms()
    room_templates: dict[str, RoomTemplateSpec] = {}   # how rooms look (serve); none: the default
    network: Network | None = None     # links and flows in the room; none: not modelled
    codes: Codes = Codes()
    policy: Policy = Policy()
    calendar: CalendarSpec | None = None
    sla: Sla = Sla()
    expect: list[Expectation] = []

    @model_validator(mode="after")
    def _some_traffic(self) -> "Scenario":
        if not self.callbacks and self.arrivals is None:
            raise ValueError("a scenario needs 'callbacks' or 'arrivals'")
        return self

    def person(self, ref: str | PersonSpec) -> p.PersonProfile:
        """The person profile a reference names: in place, the file's own, else a built-in."""
        if isinstance(ref, PersonSpec):
            return ref.profile()
        own = self.profiles.people.get(ref)
        return own.profile() if own else p.PEOPLE[ref]

    def people(self, ref: "str | PersonSpec | list[str | PersonSpec]") -> tuple[p.PersonProfile, ...]:
        """The profiles of a callback's calls, one per attempt (the last one repeats)."""
        refs = ref if isinstance(ref, list) else [ref]
        return tuple(self.person(r) for r in refs)

    def agent(self, ref: str | AgentSpec) -> p.AgentProfile:
        """The agent profile a reference names: in place, the file's own, else a built-in."""
        if isinstance(ref, AgentSpec):
            return ref.profile()
        own = self.profiles.agents.get(ref)
        return own.profile() if own else p.AGENTS[ref]


def schema_models(root: type[BaseModel] = Scenario) -> list[type[BaseModel]]:
    """Every model the schema is made of, reached from `root`, in a stable order."""
    found: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for info in annotation.model_fields.values():
                    visit(info.annotation)
            return
        for arg in get_args(annotation):
            visit(arg)

    visit(root)
    return found
