"""Business-time arithmetic: due times that count opening hours only."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.sla import Calendar, CalendarError, add_business_minutes, business_minutes_between

BERLIN_OFFICE = Calendar.parse(
    time_zone="Europe/Berlin",
    weekly={str(d): ["09:00", "17:00"] for d in range(5)},  # Monday to Friday
    holidays=["2026-12-25"],
)


def berlin(*args) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin"))


def test_a_due_time_within_the_day():
    assert add_business_minutes(berlin(2026, 11, 24, 10, 0), 120, BERLIN_OFFICE) == berlin(2026, 11, 24, 12, 0)


def test_a_due_time_crosses_the_night_and_the_weekend():
    friday_afternoon = berlin(2026, 11, 27, 16, 0)  # one hour before closing
    assert add_business_minutes(friday_afternoon, 120, BERLIN_OFFICE) == berlin(2026, 11, 30, 10, 0)  # Monday


def test_a_ticket_opened_at_night_starts_counting_at_opening():
    assert add_business_minutes(berlin(2026, 11, 24, 22, 0), 30, BERLIN_OFFICE) == berlin(2026, 11, 25, 9, 30)


def test_holidays_are_closed():
    christmas_eve = berlin(2026, 12, 24, 16, 30)
    assert add_business_minutes(christmas_eve, 60, BERLIN_OFFICE) == berlin(2026, 12, 28, 9, 30)


def test_daylight_saving_time_keeps_local_opening_hours():
    # Clocks go back on Sunday 25 October 2026: Friday 16:00 CEST + 2 h → Monday 10:00 CET.
    due = add_business_minutes(berlin(2026, 10, 23, 16, 0), 120, BERLIN_OFFICE)
    assert due == berlin(2026, 10, 26, 10, 0)
    assert due - berlin(2026, 10, 23, 16, 0) == timedelta(days=2, hours=19)  # 18 h of clock + the hour gained


def test_without_business_hours_the_clock_runs_around_the_clock():
    start = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    assert add_business_minutes(start, 90, None) == start + timedelta(minutes=90)
    assert business_minutes_between(start, start + timedelta(hours=5), None) == 300


def test_minutes_between_count_only_opening_hours():
    assert business_minutes_between(berlin(2026, 11, 27, 16, 0), berlin(2026, 11, 30, 10, 0), BERLIN_OFFICE) == 120
    assert business_minutes_between(berlin(2026, 11, 28, 8, 0), berlin(2026, 11, 29, 20, 0), BERLIN_OFFICE) == 0
    assert business_minutes_between(berlin(2026, 11, 30, 10, 0), berlin(2026, 11, 27, 16, 0), BERLIN_OFFICE) == 0


moments = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds; the values get UTC
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(start=moments, minutes=st.integers(0, 60 * 24 * 30))
def test_adding_minutes_then_measuring_them_gives_them_back(start, minutes):
    due = add_business_minutes(start, minutes, BERLIN_OFFICE)
    assert due >= start
    assert business_minutes_between(start, due, BERLIN_OFFICE) == minutes


@given(start=moments, a=st.integers(0, 5000), b=st.integers(0, 5000))
def test_more_minutes_never_come_due_sooner_and_add_up(start, a, b):
    first = add_business_minutes(start, a, BERLIN_OFFICE)
    assert add_business_minutes(start, a + b, BERLIN_OFFICE) >= first
    if b:  # from a moment inside opening hours, the clock simply continues
        assert add_business_minutes(first, b, BERLIN_OFFICE) == add_business_minutes(start, a + b, BERLIN_OFFICE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_zone": "Mars/Olympus", "weekly": {"0": ["09:00", "17:00"]}}, "unknown time zone"),
        ({"time_zone": "UTC", "weekly": {}}, "at least one open weekday"),
        ({"time_zone": "UTC", "weekly": {"7": ["09:00", "17:00"]}}, "is not 0 (Monday)"),
        ({"time_zone": "UTC", "weekly": {"0": ["17:00", "09:00"]}}, "is not before closing"),
        ({"time_zone": "UTC", "weekly": {"0": "9 to 5"}}, 'expected ["HH:MM", "HH:MM"]'),
        ({"time_zone": "UTC", "weekly": {"0": ["09:00", "17:00"]}, "holidays": ["Xmas"]}, "YYYY-MM-DD"),
    ],
)
def test_bad_business_hours_are_explained(kwargs, message):
    with pytest.raises(CalendarError, match=re.escape(message)):
        Calendar.parse(**kwargs)


def test_a_day_open_until_midnight_runs_into_the_next_day_open_all_day():
    # Friday 18:00–24:00, Saturday all day, closed Sunday.
    late = Calendar.parse(time_zone="Europe/Berlin", weekly={"4": ["18:00", "24:00"], "5": ["00:00", "24:00"]})
    friday_evening = berlin(2026, 11, 27, 23, 0)
    assert add_business_minutes(friday_evening, 120, late) == berlin(2026, 11, 28, 1, 0)  # through midnight
    assert add_business_minutes(friday_evening, 60 + 24 * 60 + 30, late) == berlin(2026, 12, 4, 18, 30)
    assert business_minutes_between(berlin(2026, 11, 27, 12, 0), berlin(2026, 11, 30, 0, 0), late) == 6 * 60 + 24 * 60


def test_open_all_day_every_day_is_the_clock_around_the_clock():
    always = Calendar.parse(time_zone="Europe/Berlin", weekly={str(d): ["00:00", "24:00"] for d in range(7)})
    start = berlin(2026, 10, 24, 22, 0)  # the night clocks go back: 25 hours in that Sunday
    assert add_business_minutes(start, 3 * 24 * 60, always) == start.astimezone(UTC) + timedelta(hours=72)
    assert add_business_minutes(start, 3 * 24 * 60, always) == berlin(2026, 10, 27, 21, 0)  # 72 h, an hour gained
