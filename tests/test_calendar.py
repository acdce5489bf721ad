"""The calendar: opening hours, holidays (dates and a country's), slots, calling hours in
the person's own zones, and daylight saving, on a real wall clock."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from reference_impl.calendar import (Calendar, CalendarError, ServiceHours, check_country,
                                     parse_hours, region_zones)

MADRID = ZoneInfo("Europe/Madrid")
MONDAY = datetime(2026, 12, 7, tzinfo=MADRID)          # Monday 7 December 2026, 00:00 Madrid
H = 3600.0
MADRID_FIXED = "+34910000009"                           # a Madrid number: one zone
SPANISH_MOBILE = "+34612345678"                         # mainland or Canaries: two zones


def calendar(**service: object) -> Calendar:
    """A calendar on Monday 7 December 2026 with one service, "mortgages"."""
    return Calendar(epoch=MONDAY, zone=MADRID,
                    services={"mortgages": ServiceHours(**service)})  # type: ignore[arg-type]


def dial(cal: Calendar, at: float, number: str = MADRID_FIXED, *, scheduled: bool = False,
         callback_id: str = "cb") -> float:
    return cal.dial_time("mortgages", number, at, scheduled=scheduled, callback_id=callback_id)


def test_hours_parse_by_weekday_with_ranges_that_wrap_and_windows() -> None:
    hours = parse_hours({"mon-fri": "08:00-14:00,16:00-20:00", "sat-sun": "10:00-24:00"})
    assert hours[0] == ((8 * H, 14 * H), (16 * H, 20 * H)) and hours[4] == hours[0]
    assert hours[5] == ((10 * H, 24 * H),) and 6 in hours
    assert parse_hours({"fri-mon": "09:00-10:00"}).keys() == {4, 5, 6, 0}


@pytest.mark.parametrize("spec, says", [
    ({"someday": "08:00-20:00"}, "days are mon"),
    ({"mon": "8-20"}, "not a clock time"),
    ({"mon": "08:00"}, "write opening hours as 08:00-20:00"),
    ({"mon": "20:00-08:00"}, "closes before it opens"),
    ({"mon": "08:00-25:00"}, "not a clock time"),
])
def test_hours_that_do_not_parse_say_what_is_wrong(spec: dict[str, str], says: str) -> None:
    with pytest.raises(CalendarError, match=says):
        parse_hours(spec)


def test_a_request_at_night_is_called_at_the_next_opening() -> None:
    cal = calendar(hours=parse_hours({"mon-fri": "08:00-20:00"}))
    assert dial(cal, 3 * H) == 9 * H                    # opens 08:00; called from 09:00 local
    assert dial(cal, 9 * H) == 9 * H                    # open, and 09:00 is inside calling hours
    assert dial(cal, 21 * H) == 24 * H + 9 * H          # after closing: Tuesday, from 09:00 calling hours
    assert dial(cal, 4 * 24 * H + 20.5 * H) == 7 * 24 * H + 9 * H   # Friday night -> Monday


def test_calling_hours_of_the_persons_zones_win_over_opening_hours() -> None:
    cal = calendar(hours=parse_hours({"mon-sun": "07:00-23:00"}))
    assert dial(cal, 7 * H) == 9 * H                    # Madrid: 09:00-21:00 local
    # A Spanish mobile may be in the Canaries, an hour behind: 09:00 there is 10:00 here.
    assert dial(cal, 7 * H, SPANISH_MOBILE) == 10 * H
    assert dial(cal, 21.5 * H, SPANISH_MOBILE) == 24 * H + 10 * H
    free = Calendar(epoch=MONDAY, zone=MADRID, calling_hours=None,
                    services={"mortgages": ServiceHours(hours=parse_hours({"mon-sun": "07:00-23:00"}))})
    assert dial(free, 7 * H) == 7 * H                   # no calling-hours guard configured


def test_holidays_by_date_and_by_country() -> None:
    by_date = calendar(holidays=frozenset({date(2026, 12, 8)}))
    assert dial(by_date, 24 * H + 12 * H) == 2 * 24 * H + 9 * H      # Tuesday 8th -> Wednesday
    by_country = calendar(holiday_country="ES")            # 8 December: Inmaculada Concepción
    assert dial(by_country, 24 * H + 12 * H) == 2 * 24 * H + 9 * H
    assert not by_country.is_open("mortgages", 24 * H + 12 * H)
    assert by_country.is_open("mortgages", 12 * H)
    with pytest.raises(CalendarError, match="no public holidays known"):
        check_country("XX")


def test_a_full_slot_moves_the_request_to_the_next_one_with_room() -> None:
    cal = calendar(hours=parse_hours({"mon-fri": "08:00-20:00"}), slot_every=900.0,
                   slot_capacity=2)
    at = 15 * H
    assert [dial(cal, at, scheduled=True, callback_id=f"cb{i}") for i in range(5)] == \
        [at, at, at + 900, at + 900, at + 1800]
    assert cal.open_slots("mortgages", at - 1, 3) == [(at + 1800, 1), (at + 2700, 2),
                                                      (at + 3600, 2)]
    cal.release("cb0")                                  # an ended callback frees its place
    assert dial(cal, at, scheduled=True, callback_id="cb5") == at


def test_open_slots_skip_closed_hours_and_the_calling_hours_of_a_zone() -> None:
    cal = calendar(hours=parse_hours({"mon-fri": "08:00-20:00"}), slot_every=H, slot_capacity=1)
    slots = [start for start, _ in cal.open_slots("mortgages", 18.5 * H, 4)]
    assert slots == [19 * H, 24 * H + 8 * H, 24 * H + 9 * H, 24 * H + 10 * H]
    guarded = [start for start, _ in cal.open_slots("mortgages", 18.5 * H, 3,
                                                    region_zones("ES"))]
    assert guarded == [19 * H, 24 * H + 10 * H, 24 * H + 11 * H]   # Canary 09:00 = 10:00 here


def test_opening_hours_follow_daylight_saving_in_the_calendars_zone() -> None:
    march = datetime(2026, 3, 28, tzinfo=MADRID)         # Saturday; clocks go forward Sunday 29th
    cal = Calendar(epoch=march, zone=MADRID, calling_hours=None,
                   services={"mortgages": ServiceHours(hours=parse_hours({"mon-sun": "08:00-20:00"}))})
    sunday_open = cal.flow_time(datetime(2026, 3, 29, 8, tzinfo=MADRID))
    assert sunday_open == 24 * H + 7 * H                 # the night was an hour shorter
    assert cal.dial_time("mortgages", MADRID_FIXED, 21 * H, scheduled=False,
                         callback_id="x") == sunday_open


def test_a_request_while_closed_waits_for_the_opening_when_calling_hours_allow_it() -> None:
    cal = calendar(hours=parse_hours({"mon-fri": "10:00-20:00"}))
    assert dial(cal, 3 * H) == 10 * H                   # the opening, not the request's time
    assert dial(cal, 12 * H) == 12 * H
