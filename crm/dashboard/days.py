"""Days and months in the CRM's time zone (``TIME_ZONE``): runs of consecutive days, months.

Where a day starts and ends, and which day a stored time falls on, are ``core.days``'s (the
one source the dashboard's rollups, its links and the lists they open share); they are named
here too so the dashboard reads its days from one module."""

from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from core.days import ONE_DAY, day_of, end_of, local_day, span, start_of, today, within, zone

__all__ = [
    "ONE_DAY",
    "day_of",
    "days",
    "end_of",
    "local_day",
    "month_end",
    "month_of",
    "months",
    "months_back",
    "next_month",
    "runs",
    "span",
    "start_of",
    "today",
    "within",
    "zone",
]


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
