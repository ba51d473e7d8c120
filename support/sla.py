"""Business-time arithmetic for SLA clocks: due times that count only opening hours.

A ``Calendar`` is opening hours per weekday in a time zone, less closed dates; without
business hours the clock runs around the clock. A day open until midnight closes at "24:00"
(so "00:00"–"24:00" is open all day, and consecutive such days run through the night).
Both functions walk day by day through the calendar, so a due time crosses nights, weekends,
holidays and daylight-saving changes the way a person reading the calendar would.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # how far ahead a due time may lie: ten years of calendar
MIDNIGHT = "24:00"  # a closing time: the end of the day (``datetime.time`` stops at 23:59:59)


class CalendarError(ValueError):
    """Business hours that cannot be used; ``field`` is the stored field at fault."""

    def __init__(self, message: str, field: str = "weekly"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    # weekday (Monday 0) → opening and closing time; closing None is midnight at the day's end
    weekly: dict[int, tuple[time, time | None]]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def parse(cls, *, time_zone: str, weekly: dict, holidays: list | tuple = ()) -> "Calendar":
        """From the stored form (``BusinessHours``), or ``CalendarError`` saying what is wrong."""
        try:
            zone = ZoneInfo(time_zone)
        except (KeyError, ValueError, TypeError):
            raise CalendarError(f"unknown time zone {time_zone!r}", "time_zone") from None
        if not isinstance(weekly, dict):
            raise CalendarError('weekly must map weekdays "0" (Monday) … "6" to ["09:00", "17:00"]')
        days: dict[int, tuple[time, time | None]] = {}
        for key, span in weekly.items():
            if str(key) not in {str(d) for d in range(7)}:
                raise CalendarError(f"weekday {key!r} is not 0 (Monday) … 6 (Sunday)")
            try:
                opening, closing = span
                opens = time.fromisoformat(opening)
                closes = None if closing == MIDNIGHT else time.fromisoformat(closing)
            except (TypeError, ValueError):
                raise CalendarError(f'weekday {key}: expected ["HH:MM", "HH:MM"], got {span!r}') from None
            if closes is not None and not opens < closes:
                raise CalendarError(f"weekday {key}: opening {opens:%H:%M} is not before closing {closes:%H:%M}")
            days[int(key)] = (opens, closes)
        if not days:
            raise CalendarError("business hours need at least one open weekday")
        try:
            closed = frozenset(date.fromisoformat(d) for d in holidays)
        except (TypeError, ValueError):
            raise CalendarError("holidays must be dates as YYYY-MM-DD", "holidays") from None
        return cls(zone=zone, weekly=days, holidays=closed)

    def open_spans(self, start: datetime):
        """The opening periods (as UTC datetimes) from the day of ``start`` on, in order."""
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            hours = self.weekly.get(day.weekday())
            if hours and day not in self.holidays:
                opens = datetime.combine(day, hours[0], tzinfo=self.zone).astimezone(UTC)
                closes_on, closes_at = (day, hours[1]) if hours[1] else (day + timedelta(days=1), time(0))
                closes = datetime.combine(closes_on, closes_at, tzinfo=self.zone).astimezone(UTC)
                if closes > start:
                    yield max(opens, start), closes
            day += timedelta(days=1)


def add_business_minutes(start: datetime, minutes: int, calendar: Calendar | None) -> datetime:
    """The moment ``minutes`` of business time after ``start`` (around the clock without a
    calendar)."""
    if calendar is None:
        return start + timedelta(minutes=minutes)
    left = timedelta(minutes=minutes)
    for opens, closes in calendar.open_spans(start):
        if opens + left <= closes:
            return opens + left
        left -= closes - opens
    raise CalendarError(f"{minutes} business minutes reach beyond {MAX_DAYS} days")


def business_minutes_between(start: datetime, end: datetime, calendar: Calendar | None) -> int:
    """Whole business minutes from ``start`` to ``end`` (0 if ``end`` is not later)."""
    if end <= start:
        return 0
    if calendar is None:
        return int((end - start).total_seconds() // 60)
    total = timedelta()
    for opens, closes in calendar.open_spans(start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return int(total.total_seconds() // 60)
