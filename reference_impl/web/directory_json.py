"""The directory's entries as JSON, both ways: what the agents' API and `callback-emu
directory list --json` show, and how a request's body becomes an entry.

A body is read strictly: an unknown key, a value of the wrong kind or out of
range is `InvalidEntry` naming the field (`colours.accent`, `logo.data`,
`documents[2]`, `slots.every`), which the API answers as a 400. Times are
seconds. A full body (PUT) gives every field, the ones left out taking their
defaults; a partial one (PATCH) changes the fields it gives and keeps the rest.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import replace
from datetime import date
from typing import Any, Mapping

from ..directory import (TEMPLATE_NAME, Centre, Colours, InvalidEntry, Logo, RoomTemplate,
                         Service)
from .documents import Catalogue

# A service code or a centre's name made here (a scenario's may be any text): ASCII, so the
# API's description states the same rule; never "." or "..", which a URL would resolve.
KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
COUNTRY = re.compile(r"^[A-Z]{2,3}$")
LABEL_MAX, PHONE_MAX, PHONES_MAX, CENTRES_MAX, HOURS_MAX = 100, 200, 100_000, 100, 50
DOCUMENTS_MAX, CAPACITY_MAX, SECONDS_MAX = 200, 1_000_000, 366 * 86400.0
_SERVICE_KEYS = ("label", "centres", "room_template", "hours", "holidays", "slots")
_CENTRE_KEYS = ("desk_phones", "ring_timeout", "queue_max_wait")
_TEMPLATE_KEYS = ("title", "greeting", "colours", "logo", "documents", "chat")
_COLOUR_KEYS = ("accent", "background", "text")

Json = dict[str, Any]


# -- entries -> JSON ------------------------------------------------------------------


def service_view(service: Service) -> Json:
    """A service as the API shows it."""
    return {"code": service.code, "label": service.label, "centres": list(service.centres),
            "room_template": service.room_template,
            "hours": None if service.hours is None else dict(service.hours),
            "holidays": service.holiday_country or [d.isoformat() for d in service.holidays],
            "slots": None if service.slot_every is None else {
                "every": service.slot_every, "capacity": service.slot_capacity}}


def centre_view(centre: Centre) -> Json:
    """A centre as the API shows it (times in seconds)."""
    return {"name": centre.name, "desk_phones": list(centre.terminals),
            "ring_timeout": centre.ring_timeout, "queue_max_wait": centre.queue_max_wait}


def template_view(template: RoomTemplate) -> Json:
    """A room template as the API shows it: the logo by its type, size and link."""
    logo = template.logo
    return {"name": template.name, "title": template.title, "greeting": template.greeting,
            "colours": {key: getattr(template.colours, key) for key in _COLOUR_KEYS},
            "logo": None if logo is None else {
                "content_type": logo.content_type, "bytes": len(logo.data),
                "url": f"/rooms/looks/{template.name}/logo?v={template.version}"},
            "documents": None if template.documents is None else list(template.documents),
            "chat": template.chat}


# -- JSON -> entries ------------------------------------------------------------------


def check_key(value: str, field: str) -> str:
    """A service code or centre name from a path: 1 to 64 letters, digits, '.', '_', '-'."""
    if not KEY.match(value):
        raise InvalidEntry(field, f"{value!r}: 1 to 64 letters, digits, '.', '_' or '-' "
                           "(not starting with '.')")
    return value


def service_from(code: str, body: Mapping[str, Any], base: Service | None = None) -> Service:
    """The service a body describes; with `base`, only the fields given change."""
    _only(body, _SERVICE_KEYS, "")
    if base is None and "centres" not in body:
        raise InvalidEntry("centres", "required: the centres that serve it, in failover order")
    changes: dict[str, Any] = {}
    if "label" in body:
        changes["label"] = _string(body["label"], "label", LABEL_MAX)
    if "centres" in body:
        names = _list(body["centres"], "centres", CENTRES_MAX)
        changes["centres"] = tuple(check_key(_string(name, f"centres[{i}]", 64), f"centres[{i}]")
                                   for i, name in enumerate(names))
    if "room_template" in body:
        name = _string(body["room_template"], "room_template", 64)
        if not TEMPLATE_NAME.match(name):
            raise InvalidEntry("room_template", f"{name!r}: 1 to 64 letters, digits, '_' or '-'")
        changes["room_template"] = name
    if "hours" in body:
        changes["hours"] = _hours(body["hours"])
    if "holidays" in body:
        changes.update(_holidays(body["holidays"]))
    if "slots" in body:
        changes.update(_slots(body["slots"]))
    service = replace(base or Service(code=check_key(code, "code"), centres=()), **changes)
    service.check()
    return service


def centre_from(name: str, body: Mapping[str, Any], base: Centre | None = None) -> Centre:
    """The centre a body describes; with `base`, only the fields given change."""
    _only(body, _CENTRE_KEYS, "")
    if base is None and "desk_phones" not in body:
        raise InvalidEntry("desk_phones", "required: the desk phones, in hunting order")
    changes: dict[str, Any] = {}
    if "desk_phones" in body:
        phones = _list(body["desk_phones"], "desk_phones", PHONES_MAX)
        if not 1 <= len(phones) <= PHONES_MAX:
            raise InvalidEntry("desk_phones", f"1 to {PHONES_MAX:,} desk phones")
        numbers = tuple(_phone(p, f"desk_phones[{i}]") for i, p in enumerate(phones))
        if len(set(numbers)) != len(numbers):
            raise InvalidEntry("desk_phones", "a desk phone is listed twice")
        changes["terminals"] = numbers
    if "ring_timeout" in body:
        changes["ring_timeout"] = _seconds(body["ring_timeout"], "ring_timeout", above=0.0)
    if "queue_max_wait" in body:
        wait = body["queue_max_wait"]
        changes["queue_max_wait"] = None if wait is None else _seconds(wait, "queue_max_wait")
    start = base or Centre(name=check_key(name, "name"), terminals=(), ring_timeout=15.0)
    return replace(start, **changes)


def template_from(name: str, body: Mapping[str, Any],
                  base: RoomTemplate | None = None) -> RoomTemplate:
    """The room template a body describes; with `base`, only the fields given change
    (`colours` key by key)."""
    _only(body, _TEMPLATE_KEYS, "")
    start = base or RoomTemplate(name=name)
    changes: dict[str, Any] = {}
    for key, limit in (("title", 10_000), ("greeting", 10_000)):
        if key in body:
            changes[key] = _string(body[key], key, limit)
    if "colours" in body:
        changes["colours"] = _colours(body["colours"], start.colours if base else Colours())
    if "logo" in body:
        changes["logo"] = _logo(body["logo"])
    if "documents" in body:
        documents = body["documents"]
        changes["documents"] = None if documents is None else tuple(
            _string(d, f"documents[{i}]", 10_000)
            for i, d in enumerate(_list(documents, "documents", DOCUMENTS_MAX)))
    if "chat" in body:
        if not isinstance(body["chat"], bool):
            raise InvalidEntry("chat", f"{body['chat']!r}: true or false")
        changes["chat"] = body["chat"]
    return replace(start, **changes)


def check_documents(template: RoomTemplate, known: set[str]) -> None:
    """Refuse a template naming a document the catalogue does not hold."""
    for i, name in enumerate(template.documents or ()):
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise InvalidEntry(f"documents[{i}]", f"{name!r} is in no catalogue folder "
                               f"(the catalogue holds: {listed})")


def catalogue_names(catalogue: Catalogue) -> set[str]:
    """Every document name of the catalogue: its own folder's and each service folder's."""
    names = set(catalogue.names(""))
    if catalogue.folder.is_dir():
        for folder in catalogue.folder.iterdir():
            if folder.is_dir():
                names |= set(catalogue.names(folder.name))
    return names


# -- fields -----------------------------------------------------------------------------


def _only(body: Mapping[str, Any], keys: tuple[str, ...], prefix: str) -> None:
    for key in body:
        if key not in keys:
            raise InvalidEntry(f"{prefix}{key}", f"unknown field (known: {', '.join(keys)})")


def _string(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidEntry(field, f"{value!r}: write text")
    if len(value) > limit:
        raise InvalidEntry(field, f"at most {limit} characters")
    if "\0" in value or not _utf8(value):
        raise InvalidEntry(field, "NUL characters and lone surrogates are not text")
    return value


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _list(value: object, field: str, most: int = 1000) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidEntry(field, f"{value!r}: write a list")
    if len(value) > most:
        raise InvalidEntry(field, f"at most {most:,} items")
    return value


def _seconds(value: object, field: str, above: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not 0 <= value <= SECONDS_MAX:
        raise InvalidEntry(field, f"{value!r}: a number of seconds, 0 to a year")
    if above is not None and not value > above:
        raise InvalidEntry(field, f"{value!r}: more than {above:g} s")
    return float(value)


def _phone(value: object, field: str) -> str:
    number = _string(value, field, PHONE_MAX).strip()
    if not number or any(ch.isspace() or ord(ch) < 32 for ch in number):
        raise InvalidEntry(field, f"{value!r}: a desk phone's number, or a sip: URI, "
                           "without spaces")
    return number


def _hours(value: object) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not 1 <= len(value) <= HOURS_MAX:
        raise InvalidEntry("hours", f"{value!r}: an object of days to hours, like "
                           '{"mon-fri": "08:00-20:00"}, or null (always open)')
    return tuple((_string(days, "hours", 100), _string(windows, f"hours.{days}", 200))
                 for days, windows in value.items())


def _holidays(value: object) -> dict[str, Any]:
    if isinstance(value, str):
        country = value.strip().upper()
        if not COUNTRY.match(country):
            raise InvalidEntry("holidays", f"{value!r}: a country code (ES) or a list of dates")
        return {"holiday_country": country, "holidays": ()}
    days = []
    for i, text in enumerate(_list(value, "holidays", 1000)):
        try:
            days.append(date.fromisoformat(_string(text, f"holidays[{i}]", 10)))
        except ValueError:
            raise InvalidEntry(f"holidays[{i}]", f"{text!r}: a date, 2026-12-25") from None
    return {"holidays": tuple(days), "holiday_country": None}


def _slots(value: object) -> dict[str, Any]:
    if value is None:
        return {"slot_every": None, "slot_capacity": 0}
    if not isinstance(value, dict):
        raise InvalidEntry("slots", f"{value!r}: {{\"every\": seconds, \"capacity\": n}} or null")
    _only(value, ("every", "capacity"), "slots.")
    capacity = value.get("capacity")
    if isinstance(capacity, bool) or not isinstance(capacity, int) \
            or not 1 <= capacity <= CAPACITY_MAX:
        raise InvalidEntry("slots.capacity", f"{capacity!r}: a whole number, 1 to "
                           f"{CAPACITY_MAX:,}")
    return {"slot_every": _seconds(value.get("every"), "slots.every", above=0.0),
            "slot_capacity": capacity}


def _colours(value: object, base: Colours) -> Colours:
    if not isinstance(value, dict):
        raise InvalidEntry("colours", f"{value!r}: an object of accent, background, text")
    _only(value, _COLOUR_KEYS, "colours.")
    return replace(base, **value)


def _logo(value: object) -> Logo | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "data" not in value:
        raise InvalidEntry("logo", '{"data": the image in base64} or null (no logo)')
    _only(value, ("data", "content_type"), "logo.")
    try:
        data = base64.b64decode(_string(value["data"], "logo.data", 10_000_000), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEntry("logo.data", "not base64 (RFC 4648, no line breaks)") from None
    logo = Logo.of(data)
    given = value.get("content_type")
    if given is not None and given != logo.content_type:
        raise InvalidEntry("logo.content_type", f"{given!r}, but the image is "
                           f"{logo.content_type}")
    return logo
