"""What the form offers for when to call: "as soon as we can", "in two hours", the open
slots with room, and a note when the service is closed now.

Everything is read from the switchboard's calendar (none: always open, no slots) at
the moment the form is drawn; the form's script shows the choices of the service the
person picks, so the note "we are closed; we will call you on …" is read before the
request is sent. A chosen slot is booked only when the request is placed: one that
filled meanwhile moves the request to the next slot with room (the calendar's rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ..calendar import region_zones
from ..switchboard import Switchboard
from .views import spoken, when

IN_TWO_HOURS = 7200            # s: the form's "in two hours"
SLOTS_SHOWN = 16               # slots offered per service


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of the form's "when" picker: the value posted and what it says."""

    value: str
    label: str


@dataclass(frozen=True, slots=True)
class ServiceTimes:
    """What the form shows for one service: a note when it is closed, and the choices."""

    closed: str = ""                       # "" while it is open
    choices: tuple[Choice, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        """For the form's script."""
        return {"closed": self.closed, "choices": [[c.value, c.label] for c in self.choices]}


def service_times(switchboard: Switchboard, service_code: str,
                  zones: tuple[ZoneInfo, ...] = ()) -> ServiceTimes:
    """The note and the choices for `service_code`, now; slots only inside the calling
    hours of `zones` (the deployment's country: the calendar checks the number itself
    when the request is placed, and may move a slot that is too early there)."""
    calendar, epoch = switchboard.calendar, switchboard.epoch
    now = switchboard.clock()
    closed = ""
    if calendar is not None and epoch is not None and not calendar.is_open(service_code, now):
        opening = epoch + calendar.next_opening(service_code, now)
        closed = f"We are closed now; we will call you on {spoken(opening, calendar)}."
    choices = [Choice("", "At the next opening" if closed else "As soon as you can"),
               Choice(f"in:{IN_TWO_HOURS}", "In two hours")]
    if calendar is not None and epoch is not None:
        for start, left in calendar.open_slots(service_code, now, SLOTS_SHOWN, zones):
            at = epoch + start
            places = "1 place left" if left == 1 else f"{left} places left"
            choices.append(Choice(when(at, calendar), f"{spoken(at, calendar)} ({places})"))
    return ServiceTimes(closed, tuple(choices))


def form_times(switchboard: Switchboard, region: str | None) -> dict[str, ServiceTimes]:
    """`service_times` of every service the form lists, for people of `region`."""
    zones = _zones(region) if switchboard.calendar is not None and region else ()
    return {code: service_times(switchboard, code, zones)
            for code in switchboard.directory.services}


@lru_cache(maxsize=32)
def _zones(region: str) -> tuple[ZoneInfo, ...]:
    return region_zones(region)
