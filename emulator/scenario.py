"""Scenario files (SCENARIOS.md): schema, loading, and errors that name file, line and key.

A file is parsed with YAML (keeping the line of every key), validated with
pydantic (unknown keys refused), then checked for references (profiles,
centres, services). Any fault becomes one `ScenarioError` whose text says
where and what, with a hint; the command line prints it and exits 2.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Union

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag,
                      ValidationError, ValidationInfo, model_validator)

from . import behaviour as b
from .arrival_file import ArrivalFile, read_arrivals
from .rooms.capacity import TWO_WAY_FACTOR
from .units import parse_bitrate, parse_duration, parse_rate, parse_size
from reference_impl.flow import Notice, Outcome


# -- errors ------------------------------------------------------------------

@dataclass
class ScenarioError(Exception):
    file: str
    line: int | None
    key: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{where}:{key} {self.message}{hint}"


# -- field types -------------------------------------------------------------

def _duration(value: object) -> float:
    return parse_duration(value)


def _distribution(value: object, info: ValidationInfo) -> b.Distribution:
    if isinstance(value, b.Distribution):
        return value
    if not isinstance(value, dict):
        return b.Fixed(parse_duration(value))      # a bare duration is a fixed value
    if len(value) != 1:
        raise ValueError(f"a distribution has exactly one kind, got {sorted(value)} "
                         f"(one of {', '.join(_DISTRIBUTIONS)})")
    (kind, params), = value.items()
    if kind not in _DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {kind!r} (one of {', '.join(_DISTRIBUTIONS)})")
    base = (info.context or {}).get("base", Path("."))
    return _DISTRIBUTIONS[kind](params, base)


def _params(params: object, *names: str) -> list[Any]:
    if not isinstance(params, dict) or set(params) != set(names):
        raise ValueError(f"takes {{{', '.join(names)}}}, got {params!r}")
    return [params[name] for name in names]


def _uniform(params: object, base: Path) -> b.Distribution:
    if not isinstance(params, list) or len(params) != 2:
        raise ValueError(f"uniform takes [lo, hi], got {params!r}")
    return b.Uniform(parse_duration(params[0]), parse_duration(params[1]))


def _two(make: Any, params: list[Any]) -> b.Distribution:
    """A distribution of (a duration, a plain number): lognormal's median and sigma, gamma's mean and cv."""
    scale, shape = params
    if isinstance(shape, bool) or not isinstance(shape, (int, float)):
        raise ValueError(f"{shape!r} is not a number")
    return make(parse_duration(scale), float(shape))  # type: ignore[no-any-return]


def _empirical(params: object, base: Path) -> b.Distribution:
    (file,) = _params(params, "file")
    path = base / str(file)
    if not path.is_file():
        raise ValueError(f"empirical file {str(path)!r} does not exist")
    return b.Empirical.from_file(path)


_DISTRIBUTIONS = {
    "fixed": lambda p, base: b.Fixed(parse_duration(p)),
    "uniform": _uniform,
    "exponential": lambda p, base: b.Exponential(parse_duration(*_params(p, "mean"))),
    "lognormal": lambda p, base: _two(b.LogNormal, _params(p, "median", "sigma")),
    "gamma": lambda p, base: _two(b.Gamma, _params(p, "mean", "cv")),
    "empirical": _empirical,
}

Duration = Annotated[float, BeforeValidator(_duration)]
Dist = Annotated[b.Distribution, BeforeValidator(_distribution)]
Rate = Annotated[float, BeforeValidator(lambda v: parse_rate(v))]
Bitrate = Annotated[float, BeforeValidator(lambda v: parse_bitrate(v))]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              populate_by_name=True)


# -- profiles ----------------------------------------------------------------

_PERSON, _AGENT = b.PersonProfile(), b.AgentProfile()   # the defaults

class PersonSpec(Strict):
    answer_delay: Dist = _PERSON.answer_delay
    answer_probability: Probability = 1.0
    busy_probability: Probability = 0.0
    reject_probability: Probability = 0.0
    invalid_probability: Probability = 0.0
    reject_delay: Dist = _PERSON.reject_delay
    patience: Duration | None = None
    talk_time: Dist | None = None

    def profile(self) -> b.PersonProfile:
        fields = _fields(self, exclude="patience")
        return b.PersonProfile(**fields, patience=b.NEVER if self.patience is None else self.patience)


class AgentSpec(Strict):
    pickup_delay: Dist = _AGENT.pickup_delay
    answer_probability: Probability = 1.0
    busy_probability: Probability = 0.0
    talk_time: Dist = _AGENT.talk_time
    code_entry_delay: Dist = _AGENT.code_entry_delay

    def profile(self) -> b.AgentProfile:
        return b.AgentProfile(**_fields(self))


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
    people: dict[str, PersonSpec] = {}
    agents: dict[str, AgentSpec] = {}


# -- the system --------------------------------------------------------------

class Service(Strict):
    centres: list[str]
    room_template: str = "default"
    label: str = ""


class Queue(Strict):
    max_wait: Duration


class Terminal(Strict):
    """A desk phone whose agent behaves unlike the rest of its centre."""

    number: str
    agent: AgentRef


def _number_or_terminal(value: Any) -> str:
    return "terminal" if isinstance(value, dict) else "number"


TerminalRef = Annotated[Union[Annotated[str, Tag("number")], Annotated[Terminal, Tag("terminal")]],
                        Discriminator(_number_or_terminal)]


class Centre(Strict):
    terminals: Annotated[int, Field(ge=1)] | Annotated[list[TerminalRef], Field(min_length=1)] = 1
    ring_timeout: Duration = 15.0
    queue: Queue | None = None
    agent: AgentRef = "prompt"

    def numbers(self, index: int) -> list[str]:
        """The desk phones' numbers; a count gets numbers +1800<centre><n>."""
        if isinstance(self.terminals, int):
            return [f"+1800{index:03d}{n:04d}" for n in range(1, self.terminals + 1)]
        return [t if isinstance(t, str) else t.number for t in self.terminals]

    def agents(self) -> dict[str, AgentRef]:
        """Desk phone number -> agent profile, for the phones that have their own."""
        if isinstance(self.terminals, int):
            return {}
        return {t.number: t.agent for t in self.terminals if isinstance(t, Terminal)}


class Pbx(Strict):
    trunks: Annotated[int, Field(ge=1)] = 60
    person_ring_timeout: Duration = 30.0
    post_dial_delay: Dist = b.Fixed(0.3)
    answer_signalling_delay: Dist = b.Fixed(0.0)   # the phone answers -> the PBX knows
    bridge_delay: Dist = b.Fixed(0.05)
    caller_id: str = ""               # what the person's phone shows


class Rooms(Strict):
    """Room servers (emulator/rooms/): what each holds, what a room takes, what happens when full."""

    servers: Annotated[int, Field(ge=1)] = 1
    rooms_per_server: Annotated[int, Field(ge=1)] = 200
    egress: Annotated[Bitrate, Field(gt=0)] | None = None      # per server; none: no limit
    egress_per_room: Bitrate = 1.2e6       # the video a one-way room sends out
    cpu: Annotated[float, Field(gt=0)] | None = None            # units per server; none: no limit
    cpu_per_room: Annotated[float, Field(ge=0)] = 0.1
    two_way: bool | list[str] = False      # every room, or these room templates: twice egress and CPU
    when_full: Literal["reject", "queue"] = "reject"
    max_wait: Duration | None = None       # with queue: refused after waiting this long
    placement: Literal["least_loaded", "round_robin", "first_fit"] = "least_loaded"
    create_delay: Dist = b.Fixed(0.2)
    join_delay: Dist = b.Fixed(0.5)
    delete_delay: Dist = b.Fixed(0.1)

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


class Codes(Strict):
    digits: Annotated[int, Field(ge=1, le=12)] = 4
    first: Annotated[int, Field(ge=0)] | None = None
    count: Annotated[int, Field(ge=1)] | None = None


# -- the network (emulator/network/) -----------------------------------------

def _size_distribution(value: object, info: ValidationInfo) -> b.Distribution:
    """Like `Dist`, in bytes: `400kB`, or `{lognormal: {median: 400kB, sigma: 0.8}}`."""
    if isinstance(value, b.Distribution):
        return value
    if not isinstance(value, dict):
        return b.Fixed(parse_size(value))
    if len(value) != 1 or next(iter(value)) not in _SIZE_DISTRIBUTIONS:
        raise ValueError(f"a size distribution is one of {', '.join(_SIZE_DISTRIBUTIONS)}, "
                         f"got {sorted(value)}")
    (kind, params), = value.items()
    return _SIZE_DISTRIBUTIONS[kind](params)


def _size_uniform(params: object) -> b.Distribution:
    if not isinstance(params, list) or len(params) != 2:
        raise ValueError(f"uniform takes [lo, hi], got {params!r}")
    return b.Uniform(parse_size(params[0]), parse_size(params[1]))


def _size_two(make: Any, params: list[Any]) -> b.Distribution:
    scale, shape = params
    if isinstance(shape, bool) or not isinstance(shape, (int, float)):
        raise ValueError(f"{shape!r} is not a number")
    return make(parse_size(scale), float(shape))  # type: ignore[no-any-return]


_SIZE_DISTRIBUTIONS: dict[str, Callable[[Any], b.Distribution]] = {
    "fixed": lambda p: b.Fixed(parse_size(p)),
    "uniform": _size_uniform,
    "exponential": lambda p: b.Exponential(parse_size(*_params(p, "mean"))),
    "lognormal": lambda p: _size_two(b.LogNormal, _params(p, "median", "sigma")),
    "gamma": lambda p: _size_two(b.Gamma, _params(p, "mean", "cv")),
}


def _queue(value: object) -> tuple[str, float]:
    """A queue limit: a size (`64kB`) or a number of packets (`100 packets`)."""
    if isinstance(value, str) and value.strip().endswith("packets"):
        count = value.strip().removesuffix("packets").strip()
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"{value!r}: write a whole number of packets, 1 or more (e.g. 100 packets)")
        return ("packets", float(count))
    return ("bytes", parse_size(value))


Size = Annotated[float, BeforeValidator(lambda v: parse_size(v))]
SizeDist = Annotated[b.Distribution, BeforeValidator(_size_distribution)]
LinkRate = Annotated[Bitrate, Field(gt=0)]
QueueLimit = Annotated[tuple[str, float], BeforeValidator(_queue)]


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
    ladder: Annotated[list[LinkRate], Field(min_length=1)] = [250e3, 500e3, 1000e3]
    two_way: bool = False              # the person's camera too (the product is one-way)
    segment: Annotated[Duration, Field(gt=0)] = 1.0      # seconds of video per segment
    startup: Duration | None = None    # video buffered before the first frame; none: two segments
    feedback: Bitrate = 4800.0         # receiver reports the person sends while video plays


class Chat(Strict):
    every: Annotated[Duration, Field(gt=0)] = 30.0      # mean gap between one side's messages
    size: Size = 200.0


class Documents(Strict):
    count: Annotated[int, Field(ge=0)] = 1
    size: SizeDist = b.Fixed(400e3)
    after: Dist = b.Uniform(10.0, 60.0)   # the agent joined (or the last push) -> the next push


class Network(Strict):
    """Who sits behind which line, and what flows in the room (SCENARIOS.md `network:`)."""

    person_link: AccessRef = "adsl_8m_1m"
    agent_link: AccessRef = "fibre"
    server_link: AccessRef = "datacentre"
    links: dict[str, LinkModel] = {}    # named accesses, used by the *_link keys
    video: Video = Video()
    chat: Chat = Chat()
    documents: Documents = Documents()
    join: Size = 2000.0                # the person's page joining the room (HTTP, websocket, SDP)


# -- traffic -----------------------------------------------------------------

class CallbackSpec(Strict):
    at: Duration = 0.0
    service: str
    person: PersonRef = "prompt"
    number: str | None = None
    name: str = ""


class RateStep(Strict):
    start: Duration = Field(alias="from")
    rate: Rate


def _arrival_file(value: object, info: ValidationInfo) -> ArrivalFile:
    if isinstance(value, ArrivalFile):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("give the path of a CSV file (relative to the scenario)")
    return read_arrivals((info.context or {}).get("base", Path(".")) / value)


class Arrivals(Strict):
    rate: Rate | None = None
    profile: Annotated[list[RateStep], Field(min_length=1)] | None = None
    # Recorded traffic: a CSV of times (emulator/arrival_file.py), replayed as it is.
    file: Annotated[ArrivalFile, BeforeValidator(_arrival_file)] | None = None
    services: dict[str, Annotated[float, Field(gt=0)]] | None = None
    person: PersonRef = "prompt"
    duration: Duration
    warmup: Duration = 0.0

    @model_validator(mode="after")
    def _one_rate(self) -> "Arrivals":
        if sum(x is not None for x in (self.rate, self.profile, self.file)) != 1:
            raise ValueError("give one of 'rate', 'profile' or 'file'")
        if self.file is not None and self.file.rows[-1].at >= self.duration:
            last = self.file.rows[-1]
            raise ValueError(f"{self.file.path}:{last.line}: an arrival at {last.at:g} s, "
                             f"past the duration ({self.duration:g} s)")
        return self


# -- expectations ------------------------------------------------------------

class CallExpectation(Strict):
    call: Annotated[int, Field(ge=1)]
    outcome: Outcome | None = None
    failovers: Annotated[int, Field(ge=0)] | None = None
    centre: str | None = None
    terminal: str | None = None
    code: str | None = None
    ended_by: Literal["person", "agent"] | None = None
    told: Notice | None = None          # the person's page showed this notice
    room: bool | None = None            # a room was opened for the call
    modes: list[Literal["sim", "sip"]] | None = None   # where it applies (default: every mode)


class MetricExpectation(Strict):
    metric: str
    below: Duration | None = None
    above: Duration | None = None
    between: tuple[Duration, Duration] | None = None
    modes: list[Literal["sim", "sip"]] | None = None   # where it applies (default: every mode)

    @model_validator(mode="after")
    def _one_bound(self) -> "MetricExpectation":
        if sum(x is not None for x in (self.below, self.above, self.between)) != 1:
            raise ValueError("give exactly one of 'below', 'above' or 'between'")
        return self


def _expectation_kind(value: Any) -> str:
    return "metric-expectation" if isinstance(value, dict) and "metric" in value else "call-expectation"


Expectation = Annotated[Union[Annotated[CallExpectation, Tag("call-expectation")],
                              Annotated[MetricExpectation, Tag("metric-expectation")]],
                        Discriminator(_expectation_kind)]


class Scenario(Strict):
    name: str
    description: str = ""
    seed: int = 0
    mode: list[Literal["sim", "sip"]] = ["sim"]
    services: dict[str, Service]
    centres: dict[str, Centre]
    profiles: Profiles = Profiles()
    pbx: Pbx = Pbx()
    callbacks: list[CallbackSpec] = []
    arrivals: Arrivals | None = None
    rooms: Rooms = Rooms()
    network: Network | None = None     # links and flows in the room; none: not modelled
    codes: Codes = Codes()
    expect: list[Expectation] = []

    @model_validator(mode="after")
    def _some_traffic(self) -> "Scenario":
        if not self.callbacks and self.arrivals is None:
            raise ValueError("a scenario needs 'callbacks' or 'arrivals'")
        return self

    def person(self, ref: str | PersonSpec) -> b.PersonProfile:
        if isinstance(ref, PersonSpec):
            return ref.profile()
        own = self.profiles.people.get(ref)
        return own.profile() if own else b.PEOPLE[ref]

    def agent(self, ref: str | AgentSpec) -> b.AgentProfile:
        if isinstance(ref, AgentSpec):
            return ref.profile()
        own = self.profiles.agents.get(ref)
        return own.profile() if own else b.AGENTS[ref]


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and the file it came from."""

    scenario: Scenario
    path: Path


# -- loading -----------------------------------------------------------------

def load(path: str | Path) -> LoadedScenario:
    """Load and validate one scenario file, or raise `ScenarioError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ScenarioError(str(path), None, "", f"cannot read the file: {error.strerror}")
    return loads(text, path)


def loads(text: str, path: Path = Path("<scenario>")) -> LoadedScenario:
    try:
        data = yaml.safe_load(text)
        lines = _key_lines(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError(str(path), mark.line + 1 if mark else None, "",
                            f"not valid YAML: {problem}",
                            "check indentation, and quote values that hold ':' or '#'")
    if not isinstance(data, dict):
        raise ScenarioError(str(path), 1, "", "a scenario is a YAML mapping (key: value lines)",
                            "start with 'name:', 'services:', 'centres:' and 'callbacks:'")
    try:
        scenario = Scenario.model_validate(data, context={"base": path.parent})
    except ValidationError as error:
        raise _explain(error, lines, path) from None
    _check_references(scenario, lines, path)
    return LoadedScenario(scenario, path)


def _key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """The 1-based line of every key and list item, by its path in the document."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[path + (index,)] = item.start_mark.line + 1
                walk(item, path + (index,))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


def _locate(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> tuple[str, int | None]:
    """The dotted key and its line; pydantic's union tags are not in the file and are skipped."""
    path: tuple[Any, ...] = ()
    for part in loc:
        if path + (part,) in lines:
            path += (part,)
    line = lines.get(path)
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in path]
    return "".join(parts).lstrip("."), line


def _explain(error: ValidationError, lines: dict[tuple[Any, ...], int], path: Path) -> ScenarioError:
    # A misspelt key also makes a key go missing: name the misspelling first,
    # then prefer the deepest error, the most precise one.
    first = max(error.errors(), key=lambda e: (e["type"] == "extra_forbidden", len(e["loc"])))
    key, line = _locate(tuple(first["loc"]), lines)
    if first["type"] == "extra_forbidden":
        unknown = str(first["loc"][-1])
        close = difflib.get_close_matches(unknown, [k for k in _all_keys() if k != unknown], n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see SCENARIOS.md for the keys"
        return ScenarioError(str(path), line, key, f"unknown key {unknown!r}", hint)
    if first["type"] == "missing":
        return ScenarioError(str(path), line, key, f"missing key {first['loc'][-1]!r}",
                             "SCENARIOS.md shows every key and its default")
    message = first["msg"].removeprefix("Value error, ")
    hint = _hint(first["type"])
    if key.startswith("network.") and first["type"] == "value_error":
        hint = "bit rates take kbit/s, Mbit/s or Gbit/s (256kbit/s), sizes bytes (200B, 64kB), durations units (20ms)"
    if key == "arrivals.file" and first["type"] == "value_error":
        hint = ("a header row (at, and service and person if wanted), then a row per "
                "callback; at: 3600, 1h or 08:15:00")
    return ScenarioError(str(path), line, key, message, hint)


def _hint(kind: str) -> str:
    return {
        "int_parsing": "write a whole number", "int_type": "write a whole number",
        "float_parsing": "write a number", "string_type": "write a text value",
        "list_type": "write a list: [a, b] or '- a' lines",
        "dict_type": "write a mapping: {key: value} or indented 'key: value' lines",
        "greater_than_equal": "the value is too small", "less_than_equal": "the value is too large",
        "greater_than": "the value is too small", "less_than": "the value is too large",
        "model_type": "write a mapping: {key: value} or indented 'key: value' lines",
        "bool_parsing": "write true or false", "too_short": "give at least one value",
        "literal_error": "use one of the values listed", "enum": "use one of the values listed",
    }.get(kind, "durations take units (300ms, 4s, 2min), rates a period (120/h), "
                "bit rates bits a second (1.2Mbit/s)")


def _all_keys() -> list[str]:
    keys: set[str] = set()
    for model in (Scenario, Profiles, PersonSpec, AgentSpec, Service, Queue, Terminal, Centre, Pbx,
                  Rooms, Codes, LinkModel, Video, Chat, Documents, Network, CallbackSpec, RateStep, Arrivals, CallExpectation,
                  MetricExpectation):
        for name, info in model.model_fields.items():
            keys.add(info.alias or name)
    return sorted(keys)


def _check_references(s: Scenario, lines: dict[tuple[Any, ...], int], path: Path) -> None:
    def fail(loc: tuple[Any, ...], message: str, hint: str) -> None:
        key, line = _locate(loc, lines)
        raise ScenarioError(str(path), line, key, message, hint)

    def person(ref: object, loc: tuple[Any, ...]) -> None:
        if isinstance(ref, str) and ref not in s.profiles.people and ref not in b.PEOPLE:
            known = sorted(set(s.profiles.people) | set(b.PEOPLE))
            fail(loc, f"unknown person profile {ref!r}", _suggest(ref, known))

    for name, service in s.services.items():
        for i, centre_name in enumerate(service.centres):
            if centre_name not in s.centres:
                fail(("services", name, "centres", i), f"unknown centre {centre_name!r}",
                     _suggest(centre_name, list(s.centres)))
    def agent(ref: object, loc: tuple[Any, ...]) -> None:
        if isinstance(ref, str) and ref not in s.profiles.agents and ref not in b.AGENTS:
            known = sorted(set(s.profiles.agents) | set(b.AGENTS))
            fail(loc, f"unknown agent profile {ref!r}", _suggest(ref, known))

    numbers: dict[str, str] = {}
    for index, (name, centre) in enumerate(s.centres.items(), start=1):
        agent(centre.agent, ("centres", name, "agent"))
        for i, terminal in enumerate(centre.terminals if isinstance(centre.terminals, list) else []):
            if isinstance(terminal, Terminal):
                agent(terminal.agent, ("centres", name, "terminals", i, "agent"))
        for number in centre.numbers(index):
            if number in numbers:
                fail(("centres", name, "terminals"),
                     f"terminal {number} is also listed under centre {numbers[number]!r}",
                     "a desk phone belongs to one centre")
            numbers[number] = name
    for i, callback in enumerate(s.callbacks):
        if callback.service not in s.services:
            fail(("callbacks", i, "service"), f"unknown service {callback.service!r}",
                 _suggest(callback.service, list(s.services)))
        person(callback.person, ("callbacks", i, "person"))
    if s.arrivals is not None:
        for code in s.arrivals.services or {}:
            if code not in s.services:
                fail(("arrivals", "services", code), f"unknown service {code!r}",
                     _suggest(code, list(s.services)))
        person(s.arrivals.person, ("arrivals", "person"))
        for row in s.arrivals.file.rows if s.arrivals.file else ():
            where = f"{s.arrivals.file.path}:{row.line}"      # type: ignore[union-attr]
            if row.service is not None and row.service not in s.services:
                fail(("arrivals", "file"), f"{where}: unknown service {row.service!r}",
                     _suggest(row.service, list(s.services)))
            known = set(s.profiles.people) | set(b.PEOPLE)
            if row.person is not None and row.person not in known:
                fail(("arrivals", "file"), f"{where}: unknown person profile {row.person!r}",
                     _suggest(row.person, sorted(known)))
    templates = sorted({service.room_template for service in s.services.values()})
    for i, template in enumerate(s.rooms.two_way if isinstance(s.rooms.two_way, list) else []):
        if template not in templates:
            fail(("rooms", "two_way", i), f"no service uses room template {template!r}",
                 _suggest(template, templates))
    if s.network is not None:
        _check_links(s.network, fail)
    for i, expectation in enumerate(s.expect):
        if isinstance(expectation, CallExpectation):
            if s.arrivals is None and expectation.call > len(s.callbacks):
                fail(("expect", i, "call"), f"there is no call {expectation.call}",
                     f"calls are numbered 1..{len(s.callbacks)} in the order of 'callbacks'")
            if expectation.centre is not None and expectation.centre not in s.centres:
                fail(("expect", i, "centre"), f"unknown centre {expectation.centre!r}",
                     _suggest(expectation.centre, list(s.centres)))
        else:
            from .metrics import check_metric_name
            problem = check_metric_name(expectation.metric)
            if problem:
                fail(("expect", i, "metric"), problem[0], problem[1])


def _check_links(network: Network, fail: Any) -> None:
    """Each side's line names a profile or one of `links`."""
    from .network.profiles import PROFILES
    known = sorted(set(PROFILES) | set(network.links))
    for side in ("person_link", "agent_link", "server_link"):
        ref = getattr(network, side)
        if isinstance(ref, str) and ref not in known:
            fail(("network", side), f"unknown link profile {ref!r}", _suggest(ref, known))


def _suggest(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    listed = ", ".join(sorted(known)) or "none"
    return f"did you mean {close[0]!r}? (known: {listed})" if close else f"known: {listed}"


def scenario_files(paths: list[str]) -> list[Path]:
    """Files named, and the scenario files found under folders, in a stable order."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.y*ml") if p.is_file())
        else:
            found.append(path)
    return found
