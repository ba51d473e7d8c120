"""Days in the CRM's time zone (``settings.TIME_ZONE``): the instants a day starts and ends
at, and the day an instant falls on.

The one place these bounds are worked out, so that everything that cuts time into days cuts
it at the same instants: the dashboard's rollups and the links from its numbers, the
customers list those links open, the segment chart's days before its history, the
recompute's "orders up to today" and the loyalty programme's cut-offs. A day's times are
``>= start_of(day)`` and ``< end_of(day)``.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models.functions import TruncDate
from django.utils import timezone

ONE_DAY = timedelta(days=1)


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def start_of(day: date) -> datetime:
    """The first instant of ``day``."""
    return datetime.combine(day, time.min, tzinfo=zone())


def end_of(day: date) -> datetime:
    """The first instant after ``day`` (the start of the next one)."""
    return start_of(day + ONE_DAY)


def span(first: date | None, last: date | None) -> dict[str, datetime]:
    """Lookups for a time field from the start of ``first`` to the end of ``last``, either end
    open when None: pass as ``**span(...)`` with the field's name prefixed (see ``within``)."""
    bounds = {}
    if first is not None:
        bounds["gte"] = start_of(first)
    if last is not None:
        bounds["lt"] = end_of(last)
    return bounds


def within(field: str, first: date | None, last: date | None) -> dict[str, datetime]:
    """Filter keywords: ``field`` falls on a day from ``first`` to ``last``."""
    return {f"{field}__{op}": value for op, value in span(first, last).items()}


def local_day(field) -> TruncDate:
    """The day ``field`` (a stored time, or an expression giving one) falls on, in SQL."""
    return TruncDate(field, tzinfo=zone())


def day_of(moment: datetime) -> date:
    """The day a time falls on."""
    return timezone.localtime(moment, zone()).date()


def today(now: datetime | None = None) -> date:
    return day_of(now or timezone.now())
