"""When a person may be called: opening hours, holidays, slots, and calling hours.

The switchboard asks `Calendar.dial_time` for every call to a person when a
calendar is configured (the flow's `FindDialTime`), in either time domain:
flow time 0 is `epoch`, a wall-clock instant. A service is open in its
`hours` (by weekday, in the calendar's time zone) except on its holidays
(dates, or a country's public holidays from the `holidays` package); a
person is called only within the calling hours of their own number's
country, in its local time (every zone the number may be in: the strictest
wins). A time the person asked for books a slot of the service: a full slot
sends the request to the next one with room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

DAY = 86400.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 400          # no opening within this: the service never opens (a bad calendar)


class CalendarError(ValueError):
    """A calendar that cannot be built (an unknown zone or country, hours that do not parse)."""


Window = tuple[float, float]          # seconds from local midnight: [open, close)


@dataclass(frozen=True, kw_only=True)
class ServiceHours:
    """One service's calendar: its weekly hours, its holidays, its slots for bookings."""

    hours: Mapping[int, tuple[Window, ...]] | None = None   # weekday (0 = Monday) -> windows
    holidays: frozenset[date] = frozenset()
    holiday_country: str | None = None       # public holidays of this country, too
    slot_every: float | None = None          # seconds; None: bookings take no slot
    slot_capacity: int = 0

    def open_on(self, day: date) -> tuple[Window, ...]:
        """The windows the service is open on `day` (none on a holiday)."""
        if day in self.holidays or (self.holiday_country and _public_holiday(
                self.holiday_country, day)):
            return ()
        if self.hours is None:
            return ((0.0, DAY),)
        return self.hours.get(day.weekday(), ())


@lru_cache(maxsize=256)
def _country_holidays(country: str, year: int) -> frozenset[date]:
    import holidays as public     # a registry of public holidays, imported on first use
    try:
        return frozenset(public.country_holidays(country, years=year))
    except NotImplementedError:
        raise CalendarError(f"no public holidays known for country {country!r}") from None


def _public_holiday(country: str, day: date) -> bool:
    return day in _country_holidays(country, day.year)


def check_country(country: str) -> None:
    """Refuse a country the holidays registry does not know (when a calendar is built)."""
    _country_holidays(country, 2026)


def parse_hours(spec: Mapping[str, str]) -> dict[int, tuple[Window, ...]]:
    """`{mon-fri: "08:00-20:00", sat: "09:00-14:00,16:00-19:00"}` -> windows by weekday."""
    out: dict[int, list[Window]] = {}
    for days, text in spec.items():
        for day in _days(days):
            out.setdefault(day, []).extend(_windows(days, text))
    return {day: tuple(sorted(windows)) for day, windows in out.items()}


def _days(text: str) -> list[int]:
    found: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise CalendarError(f"{text!r}: days are mon, tue, wed, thu, fri, sat, sun, or a "
                                "range like mon-fri")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        found += [d % 7 for d in range(a, b + 1 if b >= a else b + 8)]
    return found


def _windows(days: str, text: str) -> list[Window]:
    windows = []
    for part in str(text).split(","):
        start, sep, end = part.strip().partition("-")
        if not sep:
            raise CalendarError(f"{days}: {text!r}: write opening hours as 08:00-20:00")
        lo, hi = _clock(days, start), _clock(days, end)
        if hi == 0.0:
            hi = DAY                               # "-00:00" or "-24:00": until midnight
        if not lo < hi:
            raise CalendarError(f"{days}: {part.strip()!r} closes before it opens")
        windows.append((lo, hi))
    return windows


def _clock(days: str, text: str) -> float:
    """08:00 or 08:00:30 (24:00: midnight at the end of the day) as seconds of the day."""
    parts = text.strip().split(":")
    if not (len(parts) in (2, 3) and all(p.isdigit() and len(p) <= 2 for p in parts)):
        raise CalendarError(f"{days}: {text!r} is not a clock time (08:00)")
    hours, minutes, seconds = (int(p) for p in (*parts, "0")[:3])
    if hours > 24 or minutes > 59 or seconds > 59 or (hours == 24 and minutes + seconds):
        raise CalendarError(f"{days}: {text!r} is not a clock time (08:00)")
    return (0 if hours == 24 else hours) * 3600 + minutes * 60.0 + seconds


@dataclass
class Calendar:
    """The `Calendar` port of the switchboard, on a wall clock whose instant 0 is `epoch`."""

    epoch: datetime
    zone: ZoneInfo
    services: Mapping[str, ServiceHours] = field(default_factory=dict)
    calling_hours: Window | None = (9 * 3600.0, 21 * 3600.0)   # None: at any hour
    default_region: str | None = None       # for numbers written without a country
    _booked: dict[tuple[str, float], int] = field(default_factory=dict)
    _bookings: dict[str, tuple[str, float]] = field(default_factory=dict)

    # -- the port ------------------------------------------------------------

    def dial_time(self, service_code: str, person_number: str, not_before: float, *,
                  scheduled: bool, callback_id: str) -> float:
        """The first time at or after `not_before` the person may be called (see the module)."""
        service = self.services.get(service_code, ServiceHours())
        zones = person_zones(person_number, self.default_region) or (self.zone,)
        t = not_before
        for _ in range(HORIZON_DAYS * 8):
            opened = self._next_open(service, t)
            allowed = self._next_callable(zones, opened)
            t = allowed
            if allowed != opened:
                continue                                   # open again by then? ask again
            if scheduled and service.slot_every:
                slot = self._slot_of(service, t)
                if self._booked.get(_slot_key(service_code, slot), 0) >= service.slot_capacity:
                    t = slot + service.slot_every          # full: the next slot with room
                    continue
                self._book(callback_id, service_code, slot)
            return t
        raise CalendarError(f"service {service_code!r} never opens within {HORIZON_DAYS} days "
                            "when the person may be called")

    def release(self, callback_id: str) -> None:
        """A booked slot is free again when its callback ends."""
        booking = self._bookings.pop(callback_id, None)
        if booking is not None:
            self._booked[booking] -= 1

    # -- what pages ask ------------------------------------------------------

    def is_open(self, service_code: str, t: float) -> bool:
        """Whether the service is open at flow time `t`."""
        return self._next_open(self.services.get(service_code, ServiceHours()), t) == t

    def may_call(self, person_number: str, t: float) -> bool:
        """Whether `t` is inside the calling hours of every zone the number may be in."""
        zones = person_zones(person_number, self.default_region) or (self.zone,)
        return self._next_callable(zones, t) == t

    def next_opening(self, service_code: str, t: float) -> float:
        """When the service opens next, from `t` (`t` itself when it is open)."""
        return self._next_open(self.services.get(service_code, ServiceHours()), t)

    def open_slots(self, service_code: str, t: float, count: int = 12,
                   zones: Iterable[ZoneInfo] = ()) -> list[tuple[float, int]]:
        """The next slots after `t` that are open and have room: (start, places left);
        with `zones`, only those inside the calling hours there too."""
        zones = tuple(zones)
        service = self.services.get(service_code)
        if service is None or not service.slot_every:
            return []
        found: list[tuple[float, int]] = []
        start = self._slot_of(service, t) + service.slot_every
        for _ in range(HORIZON_DAYS * 24):          # a slot an hour at least, for the horizon
            if len(found) >= count:
                break
            opened = self._next_open(service, start)
            if opened != start:                       # closed: the first slot from the opening
                slot = self._slot_of(service, opened)
                start = slot if slot == opened else slot + service.slot_every
                continue
            left = service.slot_capacity - self._booked.get(_slot_key(service_code, start), 0)
            if left > 0 and (not zones or self._next_callable(zones, start) == start):
                found.append((start, left))
            start += service.slot_every
        return found

    def wall(self, t: float) -> datetime:
        """Flow time as a wall-clock time in the calendar's zone."""
        return (self._utc_epoch() + timedelta(seconds=t)).astimezone(self.zone)

    def flow_time(self, when: datetime) -> float:
        """A wall-clock time as flow time."""
        return (when.astimezone(timezone.utc) - self._utc_epoch()).total_seconds()

    def _utc_epoch(self) -> datetime:
        # In UTC: Python adds and subtracts times of one zone on the wall clock, which
        # is an hour out across a change of daylight saving time.
        return self.epoch.astimezone(timezone.utc)

    # -- internals -----------------------------------------------------------

    def _next_open(self, service: ServiceHours, t: float) -> float:
        if service.hours is None and not service.holidays and not service.holiday_country:
            return t
        return _next_in_windows(self.wall(t), service.open_on, self.flow_time)

    def _next_callable(self, zones: Iterable[ZoneInfo], t: float) -> float:
        if self.calling_hours is None:
            return t
        window = self.calling_hours
        for _ in range(16):                       # every zone's window, until all agree
            moved = t
            for zone in zones:
                local = (self._utc_epoch() + timedelta(seconds=moved)).astimezone(zone)
                moved = _next_in_windows(local, lambda day: (window,), self.flow_time)
            if moved == t:
                return t
            t = moved
        return t

    def _slot_of(self, service: ServiceHours, t: float) -> float:
        """The start of the slot holding `t`: slots are aligned on local midnight."""
        assert service.slot_every
        local = self.wall(t)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # A hair's breadth: a slot's own start, taken through wall-clock arithmetic and
        # back (microseconds), may come out a microsecond early; it is still that slot.
        into = (local - midnight).total_seconds() + 1e-3
        return self.flow_time(midnight) + math.floor(into / service.slot_every) * service.slot_every

    def _book(self, callback_id: str, service_code: str, slot: float) -> None:
        self.release(callback_id)                 # a callback holds one booking at most
        key = _slot_key(service_code, slot)
        self._booked[key] = self._booked.get(key, 0) + 1
        self._bookings[callback_id] = key


def _slot_key(service_code: str, slot: float) -> tuple[str, float]:
    """A slot as bookings count it: to the millisecond, so one slot reached by two sums
    of floats is one slot."""
    return service_code, round(slot, 3)


def _next_in_windows(local: datetime, windows_on: Callable[[date], tuple[Window, ...]],
                     flow_time: Callable[[datetime], float]) -> float:
    """The first instant at or after `local` inside a window of its day, as flow time."""
    for days in range(HORIZON_DAYS):
        day = (local + timedelta(days=days)).date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=local.tzinfo)
        for lo, hi in windows_on(day):
            start, end = midnight + timedelta(seconds=lo), midnight + timedelta(seconds=hi)
            if days == 0 and local >= end:
                continue
            return flow_time(max(start, local) if days == 0 else start)
    return math.inf


@lru_cache(maxsize=65536)
def person_zones(number: str, region: str | None = None) -> tuple[ZoneInfo, ...]:
    """The time zones a phone number may be in (none known: empty)."""
    import phonenumbers
    from phonenumbers import timezone as tz

    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return ()
    names = [n for n in tz.time_zones_for_number(parsed) if n != tz.UNKNOWN_TIMEZONE]
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except (KeyError, ValueError):
            continue
    return tuple(zones)


def region_zones(region: str) -> tuple[ZoneInfo, ...]:
    """The time zones of a country's mobile numbers (all of its zones, where numbers say)."""
    import phonenumbers

    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    return person_zones(phonenumbers.format_number(
        example, phonenumbers.PhoneNumberFormat.E164)) if example is not None else ()


def utc(year: int, month: int, day: int) -> datetime:
    """Midnight UTC of a day: the emulator's default epoch (Monday 2026-01-05)."""
    return datetime(year, month, day, tzinfo=timezone.utc)
