"""Days and months in the CRM's time zone (``TIME_ZONE``): where a day starts, which day a
stored time falls on, runs of consecutive days."""

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models.functions import TruncDate
from django.utils import timezone

ONE_DAY = timedelta(days=1)


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def start_of(day: date) -> datetime:
    """The first instant of ``day`` in the CRM's time zone."""
    return datetime.combine(day, time.min, tzinfo=zone())


def span(first: date, last: date) -> dict:
    """Lookups for a time field from the start of ``first`` to the end of ``last``: pass as
    ``**span(...)`` with the field's name prefixed (see ``within``)."""
    return {"gte": start_of(first), "lt": start_of(last + ONE_DAY)}


def within(field: str, first: date, last: date) -> dict:
    """Filter keywords: ``field`` falls on a day from ``first`` to ``last``."""
    return {f"{field}__{op}": value for op, value in span(first, last).items()}


def local_day(field: str) -> TruncDate:
    """The day ``field`` (a stored time) falls on in the CRM's time zone, in SQL."""
    return TruncDate(field, tzinfo=zone())


def day_of(moment: datetime) -> date:
    """The day a time falls on in the CRM's time zone."""
    return timezone.localtime(moment, zone()).date()


def today(now: datetime | None = None) -> date:
    return day_of(now or timezone.now())


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


def runs(dates: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) pairs, in order."""
    out: list[tuple[date, date]] = []
    for day in sorted(set(dates)):
        if out and out[-1][1] + ONE_DAY == day:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def months(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s."""
    out, month = [], month_of(first)
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def month_end(month: date) -> date:
    return next_month(month) - ONE_DAY


def months_back(month: date, n: int) -> date:
    """The first day of the month ``n`` months before ``month``'s."""
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)
