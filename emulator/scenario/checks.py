"""Cross-references of a validated scenario: profiles, centres, services, links, metrics.

pydantic checks each value; these check that names point at something the
file (or the built-ins) defines, and refuse with the line of the reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reference_impl.directory import TEMPLATE_NAME

from ..measure.catalogue import check_metric_name
from ..models import people as p
from ..models.network.profiles import PROFILES
from .errors import ScenarioError, _locate, _suggest
from .schema import CallExpectation, Network, Scenario, Terminal


def check_references(s: Scenario, lines: dict[tuple[Any, ...], int], path: Path) -> None:
    """Refuse the first name that points at nothing the file or the built-ins define."""
    def fail(loc: tuple[Any, ...], message: str, hint: str) -> None:
        key, line = _locate(loc, lines)
        raise ScenarioError(str(path), line, key, message, hint)

    def person(ref: object, loc: tuple[Any, ...]) -> None:
        if isinstance(ref, str) and ref not in s.profiles.people and ref not in p.PEOPLE:
            known = sorted(set(s.profiles.people) | set(p.PEOPLE))
            fail(loc, f"unknown person profile {ref!r}", _suggest(ref, known))

    for name, service in s.services.items():
        for i, centre_name in enumerate(service.centres):
            if centre_name not in s.centres:
                fail(("services", name, "centres", i), f"unknown centre {centre_name!r}",
                     _suggest(centre_name, list(s.centres)))
    def agent(ref: object, loc: tuple[Any, ...]) -> None:
        if isinstance(ref, str) and ref not in s.profiles.agents and ref not in p.AGENTS:
            known = sorted(set(s.profiles.agents) | set(p.AGENTS))
            fail(loc, f"unknown agent profile {ref!r}", _suggest(ref, known))

    numbers: dict[str, str] = {}
    for index, (name, centre) in enumerate(s.centres.items(), start=1):
        agent(centre.agent, ("centres", name, "agent"))
        for i, terminal in enumerate(centre.terminals if isinstance(centre.terminals, list) else []):
            if isinstance(terminal, Terminal) and terminal.agent is not None:
                agent(terminal.agent, ("centres", name, "terminals", i, "agent"))
        for number in centre.numbers(index):
            if number in numbers:
                where = ("listed twice in this centre" if numbers[number] == name
                         else f"also listed under centre {numbers[number]!r}")
                fail(("centres", name, "terminals"), f"terminal {number} is {where}",
                     "a desk phone belongs to one centre, once")
            numbers[number] = name
    for i, callback in enumerate(s.callbacks):
        if callback.service not in s.services:
            fail(("callbacks", i, "service"), f"unknown service {callback.service!r}",
                 _suggest(callback.service, list(s.services)))
        if isinstance(callback.person, list):
            for n, ref in enumerate(callback.person):
                person(ref, ("callbacks", i, "person", n))
        else:
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
            known = set(s.profiles.people) | set(p.PEOPLE)
            if row.person is not None and row.person not in known:
                fail(("arrivals", "file"), f"{where}: unknown person profile {row.person!r}",
                     _suggest(row.person, sorted(known)))
    _check_templates(s, fail)
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
            problem = check_metric_name(expectation.metric)
            if problem:
                fail(("expect", i, "metric"), problem[0], problem[1])


def _check_templates(s: Scenario, fail: Any) -> None:
    """Room templates have names pages can link to; when a file defines any, every service
    names one of them (or "default": the built-in look)."""
    for name in s.room_templates:
        if not TEMPLATE_NAME.match(name):
            fail(("room_templates", name), f"room template name {name!r} is not taken",
                 "1 to 64 letters, digits, '_' or '-'")
    if not s.room_templates:
        return
    names = sorted(s.room_templates)
    for code, service in s.services.items():
        if service.room_template not in s.room_templates and service.room_template != "default":
            fail(("services", code, "room_template"),
                 f"unknown room template {service.room_template!r}",
                 _suggest(service.room_template, names))


def _check_links(network: Network, fail: Any) -> None:
    """Each side's line names a profile or one of `links`."""
    known = sorted(set(PROFILES) | set(network.links))
    for side in ("person_link", "agent_link", "server_link"):
        ref = getattr(network, side)
        if isinstance(ref, str) and ref not in known:
            fail(("network", side), f"unknown link profile {ref!r}", _suggest(ref, known))


def sanity(s: Scenario, lines: dict[tuple[Any, ...], int], path: Path) -> list[str]:
    """Values that are legal but almost surely a slip (a 15 ms ring timeout): warnings
    with file and line, shown before the run."""
    found: list[str] = []

    def warn(loc: tuple[Any, ...], message: str) -> None:
        key, line = _locate(loc, lines)
        where = f"{path}:{line}" if line else str(path)
        found.append(f"{where}: {key}: {message}")

    for name, centre in s.centres.items():
        _ring(centre.ring_timeout, ("centres", name, "ring_timeout"), warn)
    _ring(s.pbx.person_ring_timeout, ("pbx", "person_ring_timeout"), warn)
    for loc, profile in _profiles(s):
        talk = profile.talk_time
        if talk is not None and talk.mean == 0:
            warn((*loc, "talk_time"), "a talk time of 0: every call ends the moment it is bridged")
    return found


def _profiles(s: Scenario) -> list[tuple[tuple[Any, ...], Any]]:
    """Every profile the file writes, named or inline, with where it is."""
    found: list[tuple[tuple[Any, ...], Any]] = []
    found += [(("profiles", "people", n), p) for n, p in s.profiles.people.items()]
    found += [(("profiles", "agents", n), p) for n, p in s.profiles.agents.items()]
    for name, centre in s.centres.items():
        if not isinstance(centre.agent, str):
            found.append((("centres", name, "agent"), centre.agent))
        for i, terminal in enumerate(centre.terminals if isinstance(centre.terminals, list) else []):
            if isinstance(terminal, Terminal) and terminal.agent is not None \
                    and not isinstance(terminal.agent, str):
                found.append((("centres", name, "terminals", i, "agent"), terminal.agent))
    for i, callback in enumerate(s.callbacks):
        refs = callback.person if isinstance(callback.person, list) else [callback.person]
        for n, ref in enumerate(refs):
            if not isinstance(ref, str):
                loc = ("callbacks", i, "person", n) if isinstance(callback.person, list) \
                    else ("callbacks", i, "person")
                found.append((loc, ref))
    if s.arrivals is not None and not isinstance(s.arrivals.person, str):
        found.append((("arrivals", "person"), s.arrivals.person))
    return found


def _ring(seconds: float, loc: tuple[Any, ...], warn: Any) -> None:
    if seconds < 1.0:
        warn(loc, f"a ring timeout of {seconds * 1000:g} ms: no phone answers that fast "
                  f"(did you mean {seconds * 1000:g}s?)")
