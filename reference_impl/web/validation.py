"""A callback request from the form or the API: checked field by field.

Both entry points use the same rules, so a bad field gets the same message
on the page and in the API's 400 (which names the field). A number is called
only if it is in an allowed country and of an allowed kind (fixed and mobile
by default: never premium-rate, shared-cost or satellite), and is not one of
the system's own desk phones.
"""

from __future__ import annotations

import math
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Iterable, Mapping

import phonenumbers
from phonenumbers import PhoneNumberType

from ..directory import Directory

NAME_MAX = 100
NON_GEOGRAPHIC = "001"           # phonenumbers' region of +800, +808, +870, +881, +882, +883...

# The kinds of number a deployment may allow, by the names settings use.
NUMBER_TYPES: Mapping[str, int] = MappingProxyType({
    name.lower(): value for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)})
# What the person reads about a kind of number that is not called.
_KIND: Mapping[int, str] = MappingProxyType({
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.TOLL_FREE: "a freephone number",
    PhoneNumberType.VOIP: "an internet (VoIP) number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (forwarding) number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.UAN: "a company's universal access number",
    PhoneNumberType.VOICEMAIL: "a voicemail number",
    PhoneNumberType.FIXED_LINE: "a fixed-line number",
    PhoneNumberType.MOBILE: "a mobile number",
})


@dataclass(frozen=True, slots=True)
class FieldError(Exception):
    """A request field at fault, with the message the person reads."""

    field: str
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CallbackForm:
    """A checked callback request: the number in E.164, the name, the service code."""

    phone: str          # E.164
    name: str
    service: str
    call_at: float | None = None      # epoch seconds: "call me at 15:00", "in two hours"

    def as_form(self) -> dict[str, str]:
        """The form data kept in the callback's record."""
        return {"service": self.service, "name": self.name, "consent": "yes"}


@dataclass(frozen=True, kw_only=True, slots=True)
class NumberRules:
    """Which numbers may be called: countries (ISO regions), kinds (phonenumbers' types),
    and never the system's own numbers (E.164)."""

    region: str = "ES"                              # numbers typed without +country
    regions: frozenset[str] = frozenset({"ES"})
    types: frozenset[int] = frozenset({PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE})
    own: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, region: str, regions: Iterable[str] | None, types: Iterable[str],
           own: Iterable[str] = ()) -> "NumberRules":
        """Rules from settings: type names as in `NUMBER_TYPES`; `ValueError` for one unknown."""
        kinds = set()
        for name in types:
            if name.lower() not in NUMBER_TYPES:
                raise ValueError(f"unknown number type {name!r}: one of "
                                 f"{', '.join(sorted(NUMBER_TYPES))}")
            kinds.add(NUMBER_TYPES[name.lower()])
        if kinds & {PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE}:
            kinds.add(PhoneNumberType.FIXED_LINE_OR_MOBILE)     # phonenumbers cannot tell
        return cls(region=region.upper(),
                   regions=frozenset(r.upper() for r in (regions or {region})),
                   types=frozenset(kinds), own=frozenset(own))

    def check(self, number: phonenumbers.PhoneNumber) -> None:
        """`FieldError` naming the phone field if `number` (valid) is not to be called."""
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 in self.own:
            raise FieldError("phone", "That is one of our own numbers. Please give the number "
                                      "we should call you on.")
        region = phonenumbers.region_code_for_number(number)
        if region == NON_GEOGRAPHIC and region not in self.regions:
            raise FieldError("phone", "That is a satellite or international-network number: "
                                      f"we cannot call it. {self.where()}")
        if region not in self.regions:
            country = _country(region) if region else "that country"
            raise FieldError("phone", f"We cannot call numbers in {country}. {self.where()}")
        kind = phonenumbers.number_type(number)
        if kind not in self.types:
            shown = _KIND.get(kind, "a kind of number we do not call")
            raise FieldError("phone", f"That is {shown}: we cannot call it. Please give "
                                      f"{self.kinds()}.")

    def where(self) -> str:
        """The sentence that says which countries' numbers are called."""
        names = sorted(_country(r) for r in self.regions if r != NON_GEOGRAPHIC)
        if not names:
            return ""
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return f"We call numbers in {listed}."

    def kinds(self) -> str:
        """What kind of number to give, in words ("a fixed-line or mobile number")."""
        shown = [_KIND[k].split(" ", 1)[1].removesuffix(" number") for k in sorted(self.types)
                 if k in _KIND]
        if not shown:
            return "another number"
        words = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
        return f"{'an' if words[0] in 'aeiou' else 'a'} {words} number"


def _country(region: str) -> str:
    """A region's name in English ("ES" -> "Spain"), or the code when it has none."""
    from phonenumbers import geocoder

    example = phonenumbers.example_number(region)
    name = geocoder.country_name_for_number(example, "en") if example is not None else ""
    return name or region


def normalise_phone(text: str, region: str, rules: NumberRules | None = None) -> str:
    """E.164 of a number typed by a person, within `rules` if given; `FieldError` with a
    plain message otherwise."""
    text = text.strip()
    if not text:
        raise FieldError("phone", "Please enter the phone number we should call.")
    if len(text) > 40:
        raise FieldError("phone", "That phone number is too long.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise FieldError("phone", "That does not look like a phone number. "
                                  "Try the international form, like +34 612 345 678.") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError("phone", "That number cannot be called: check the digits "
                                  "and the country code.")
    if rules is not None:
        rules.check(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_name(value: object) -> str:
    """A name without control characters; `FieldError` if empty, too long or not text."""
    if not isinstance(value, str):
        raise FieldError("name", "The name must be text.")
    # Control characters have no place in a name and could upset logs or pages.
    name = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C").strip()
    if not name:
        raise FieldError("name", "Please tell us your name.")
    if len(name) > NAME_MAX:
        raise FieldError("name", f"The name is too long (at most {NAME_MAX} characters).")
    return name


def check_request(data: Mapping[str, object], directory: Directory,
                  rules: NumberRules | str) -> CallbackForm:
    """The checked request, or `FieldError` naming the first field at fault. `rules` says
    which numbers are called (a region alone: that country's fixed and mobile numbers)."""
    if isinstance(rules, str):
        rules = NumberRules.of(rules, None, ("fixed_line", "mobile"))
    phone = data.get("phone", "")
    if not isinstance(phone, str):
        raise FieldError("phone", "The phone number must be text.")
    e164 = normalise_phone(phone, rules.region, rules)
    name = clean_name(data.get("name", ""))
    service = data.get("service", "")
    if not isinstance(service, str) or service not in directory.services:
        raise FieldError("service", "Please choose one of the services listed.")
    if data.get("consent") not in (True, "yes", "on", "true", "1"):
        raise FieldError("consent", "Please agree that we may call you.")
    return CallbackForm(phone=e164, name=name, service=service, call_at=call_at(data))


MAX_AHEAD = 30 * 86400.0          # s: a callback is scheduled at most a month ahead


def call_at(data: Mapping[str, object], now: float | None = None) -> float | None:
    """When the person asked to be called (epoch seconds), from `schedule` (an ISO time,
    or a form's `in:SECONDS` choice) or `schedule_in` (seconds); None: as soon as we can."""
    now = time.time() if now is None else now
    schedule, after = data.get("schedule"), data.get("schedule_in")
    if schedule in (None, "") and after in (None, ""):
        return None
    if schedule not in (None, "") and after not in (None, ""):
        raise FieldError("schedule", "Give either a time (schedule) or a delay (schedule_in).")
    if isinstance(schedule, str) and schedule.startswith("in:"):
        after, schedule = schedule[3:], None
    if schedule not in (None, ""):
        if not isinstance(schedule, str):
            raise FieldError("schedule", "The time must be text: 2026-12-07T15:00+01:00.")
        try:
            moment = datetime.fromisoformat(schedule)
        except ValueError:
            raise FieldError("schedule", "That is not a time: write 2026-12-07T15:00+01:00.") from None
        if moment.tzinfo is None:
            raise FieldError("schedule", "Give the time with its offset: 2026-12-07T15:00+01:00.")
        at = moment.timestamp()
    else:
        try:
            seconds = float(after) if not isinstance(after, bool) else math.nan  # type: ignore[arg-type]
        except (TypeError, ValueError):
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds >= 0):
            raise FieldError("schedule_in", "The delay is a number of seconds, 0 or more.")
        at = now + seconds
    if at < now - 60 or at > now + MAX_AHEAD:
        raise FieldError("schedule", "Choose a time from now to 30 days ahead.")
    return max(at, now)
