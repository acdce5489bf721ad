"""The service directory: form -> service code -> contact centres and room template.

A service names its centres in failover order, its room template and its
opening hours; a centre its desk phones in hunting order. A room template
(`RoomTemplate`) is how the rooms of the services that name it look: the
title, the greeting, the colours and the logo, which catalogue documents the
agent may push, and whether the chat is on. A service may name a template
the directory does not define: its rooms then look as the built-in default.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Collection, Iterable, Mapping

from .calendar import CalendarError, ServiceHours, check_country, parse_hours
from .flow import CentreRoute, ServiceRoute

TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
LOGO_MAX_BYTES = 256 * 1024          # a logo is a few kB; the pages embed it in every room
TITLE_MAX, GREETING_MAX, DOCUMENT_NAME_MAX = 80, 500, 120
# The image types a logo may be, by their first bytes (an SVG could carry script: refused).
LOGO_TYPES: Mapping[str, tuple[bytes, ...]] = MappingProxyType({
    "image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"), "image/webp": (b"RIFF",)})


class DirectoryError(ValueError):
    """The directory was given something it does not know."""


class UnknownService(DirectoryError):
    """A form asked for a service that is not in the directory."""


class NoCentreForService(DirectoryError):
    """A service names a centre that does not exist."""


class UnknownTemplate(DirectoryError):
    """A service names a room template the directory does not define."""


class DeskPhoneTaken(DirectoryError):
    """A desk phone is listed under two centres."""


class InvalidEntry(DirectoryError):
    """A field of a service, centre or room template that is not right; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, kw_only=True, slots=True)
class Centre:
    """A contact centre: its desk phones in hunting order, their ring time, its hold queue."""

    name: str
    terminals: tuple[str, ...]          # desk phones, in hunting order
    ring_timeout: float
    queue_max_wait: float | None = None  # wait on hold for a free terminal (None: no queue)


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    """A service a form can ask for: its centres in failover order, its room template, and
    when it is open (the calendar reads these; none: always open)."""

    code: str
    centres: tuple[str, ...]            # failover order
    room_template: str = "default"
    label: str = ""                     # what the form shows
    hours: tuple[tuple[str, str], ...] | None = None   # ("mon-fri", "08:00-20:00"), as written
    holidays: tuple[date, ...] = ()
    holiday_country: str | None = None  # that country's public holidays too
    slot_every: float | None = None     # bookable slots of this many seconds (None: none)
    slot_capacity: int = 0

    @property
    def timed(self) -> bool:
        """Whether the service keeps a calendar: hours, holidays or slots."""
        return (self.hours is not None or bool(self.holidays) or self.holiday_country is not None
                or self.slot_every is not None)

    def opening(self) -> ServiceHours:
        """Its hours, holidays and slots as the calendar takes them."""
        return ServiceHours(hours=None if self.hours is None else parse_hours(dict(self.hours)),
                            holidays=frozenset(self.holidays),
                            holiday_country=self.holiday_country, slot_every=self.slot_every,
                            slot_capacity=self.slot_capacity)

    def check(self) -> None:
        """Refuse hours that do not parse, an unknown holiday country or a slot of no room."""
        try:
            self.opening()
            if self.holiday_country is not None:
                check_country(self.holiday_country)
        except CalendarError as error:
            name = "holidays" if "holidays" in str(error) else "hours"
            raise InvalidEntry(name, str(error)) from None
        if self.slot_every is not None and not (self.slot_every > 0 and self.slot_capacity >= 1):
            raise InvalidEntry("slots", "a slot lasts more than 0 s and takes 1 request or more")


@dataclass(frozen=True, kw_only=True, slots=True)
class Colours:
    """A room's colours, `#rrggbb` or `#rgb`; None keeps the page's own."""

    accent: str | None = None           # buttons, links, the steps, one's own chat lines
    background: str | None = None       # the page behind the cards
    text: str | None = None             # the ink

    def __post_init__(self) -> None:
        for name in ("accent", "background", "text"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not COLOUR.match(value)):
                raise InvalidEntry(f"colours.{name}", f"{value!r}: write a colour as "
                                   "#rrggbb or #rgb (hexadecimal digits)")

    def given(self) -> dict[str, str]:
        """The colours set, by name."""
        return {name: value for name in ("accent", "background", "text")
                if (value := getattr(self, name)) is not None}


@dataclass(frozen=True, kw_only=True, slots=True)
class Logo:
    """A room's logo: a PNG, JPEG, GIF or WebP image of at most `LOGO_MAX_BYTES`."""

    content_type: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes) or not self.data:
            raise InvalidEntry("logo", "empty: no bytes")
        if len(self.data) > LOGO_MAX_BYTES:
            raise InvalidEntry("logo", f"too big: {len(self.data):,} bytes, at most "
                               f"{LOGO_MAX_BYTES:,} ({LOGO_MAX_BYTES // 1024} kB)")
        sniffed = sniff_image(self.data)
        if sniffed is None:
            raise InvalidEntry("logo", "must be a PNG, JPEG, GIF or WebP image (its first "
                               "bytes are none of these)")
        if sniffed != self.content_type:
            raise InvalidEntry("logo", f"its bytes are {sniffed}, its type says "
                               f"{self.content_type!r}")

    @classmethod
    def of(cls, data: bytes) -> "Logo":
        """A logo whose type its own bytes tell; `InvalidEntry` for anything but an image."""
        return cls(content_type=sniff_image(data) or "unknown", data=data)


def sniff_image(data: bytes) -> str | None:
    """The image type the first bytes say (a WebP's RIFF header must name WEBP)."""
    for content_type, magics in LOGO_TYPES.items():
        if any(data.startswith(magic) for magic in magics):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                return None
            return content_type
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomTemplate:
    """How a room looks and what it allows: the person's and the agent's pages render it.

    The defaults are the rooms of a service whose template the directory does not define.
    """

    name: str = "default"
    title: str = "Your advisor"         # the heading of the person's page
    greeting: str = ""                  # shown to the person when the room opens
    colours: Colours = Colours()
    logo: Logo | None = None
    documents: tuple[str, ...] | None = None   # catalogue names the agent may push; None: all
    chat: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not TEMPLATE_NAME.match(self.name):
            raise InvalidEntry("name", f"{self.name!r}: a template's name is 1 to 64 letters, "
                               "digits, '_' or '-'")
        _text("title", self.title, TITLE_MAX, required=True)
        _text("greeting", self.greeting, GREETING_MAX)
        if not isinstance(self.chat, bool):
            raise InvalidEntry("chat", f"{self.chat!r}: true or false")
        for i, name in enumerate(self.documents or ()):
            if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name \
                    or len(name) > DOCUMENT_NAME_MAX or not name.isprintable() or not _utf8(name):
                raise InvalidEntry(f"documents[{i}]", f"{name!r}: name a catalogue document by "
                                   "its file name (no folders)")

    def allows(self, document: str) -> bool:
        """Whether the agent may push this catalogue document in such a room."""
        return self.documents is None or document in self.documents

    def pick(self, names: Iterable[str]) -> list[str]:
        """The catalogue names, of those given, the agent may push in such a room."""
        return [name for name in names if self.allows(name)]

    def unknown_documents(self, known: Collection[str]) -> list[str]:
        """The documents this template names that are not among `known` (the catalogue's)."""
        return [name for name in self.documents or () if name not in known]

    @property
    def version(self) -> str:
        """A short digest of everything the pages show, for the look's links (a new one
        after an edit, so no browser keeps the old colours or logo)."""
        logo = self.logo.data if self.logo else b""
        seen = repr((self.title, self.greeting, self.colours, self.documents, self.chat))
        return hashlib.sha256(seen.encode() + b"\0" + logo).hexdigest()[:12]


def _text(name: str, value: object, limit: int, required: bool = False) -> None:
    if not isinstance(value, str):
        raise InvalidEntry(name, f"{value!r} is not text")
    if required and not value.strip():
        raise InvalidEntry(name, "must not be empty")
    if len(value) > limit:
        raise InvalidEntry(name, f"at most {limit} characters (this one has {len(value)})")
    if any(ord(ch) < 32 and ch != "\n" for ch in value) or not _utf8(value):
        raise InvalidEntry(name, "control characters and lone surrogates are not taken")


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Directory:
    """The services and the centres that take them, checked once and turned into routes;
    the room templates the services name (when templates are given, a service must name
    one of them, or "default")."""

    services: Mapping[str, Service]
    centres: Mapping[str, Centre]
    templates: Mapping[str, RoomTemplate] = field(default_factory=dict)
    _routes: dict[str, ServiceRoute] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        owners: dict[str, str] = {}
        for centre in self.centres.values():
            for terminal in centre.terminals:
                if terminal in owners:
                    raise DeskPhoneTaken(f"terminal {terminal} is listed under centres "
                                         f"{owners[terminal]!r} and {centre.name!r}")
                owners[terminal] = centre.name
        for service in self.services.values():
            missing = [name for name in service.centres if name not in self.centres]
            if missing:
                raise NoCentreForService(
                    f"service {service.code!r} names unknown centre(s): {', '.join(missing)}")
            if self.templates and service.room_template not in self.templates \
                    and service.room_template != "default":
                raise UnknownTemplate(
                    f"service {service.code!r} names room template {service.room_template!r}, "
                    f"which is not defined (defined: {', '.join(sorted(self.templates))})")
            centres = tuple(CentreRoute(name=n, ring_timeout=self.centres[n].ring_timeout,
                                        queue_max_wait=self.centres[n].queue_max_wait)
                            for n in service.centres)
            self._routes[service.code] = ServiceRoute(
                service_code=service.code, centres=centres, room_template=service.room_template)

    def service_code(self, form: Mapping[str, str]) -> str:
        """The service code a form asks for (the form's `service` field)."""
        code = form.get("service", "")
        if code not in self.services:
            known = ", ".join(sorted(self.services)) or "none"
            raise UnknownService(f"unknown service {code!r} (known: {known})")
        return code

    def route(self, service_code: str) -> ServiceRoute:
        """The route of a service: its centres in failover order; raises UnknownService."""
        try:
            return self._routes[service_code]
        except KeyError:
            raise UnknownService(f"unknown service {service_code!r}") from None

    def terminal_owner(self) -> dict[str, str]:
        """Desk phone number -> centre name."""
        return {t: c.name for c in self.centres.values() for t in c.terminals}

    def template(self, name: str) -> RoomTemplate:
        """The look of rooms of template `name`: its definition, else the default look."""
        found = self.templates.get(name)
        return found if found is not None else RoomTemplate(name=name) \
            if TEMPLATE_NAME.match(name) else RoomTemplate()
