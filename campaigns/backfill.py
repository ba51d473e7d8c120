"""Members over time before a segment's recorded history, worked out from the order history.

A segment's history (its stays) starts with its first refresh: before it nothing was
recorded, and the chart jumped from 0 to the first fill. Where the rule can be read as of a
past date (each field it tests declares ``past`` in the registry: behaviour over dated rows,
a fixed fact, or a figure the orders rebuild, such as days since the last order), the member
count at the end of each earlier day is worked out here: the customers who existed by then
and whom the rule, read as of that day's last instant, matches; one count per day, the days
of a chunk in one statement (``UNION ALL``). The counts are stored once
(``SegmentPastCount``): the past does not change.

Orders are taken as they stand today: an order refunded or cancelled since counts as if it
always had been. A rule on a figure known only as it is now (stage, RFM, CLV, tags, country,
points) cannot be read as of a past date; the chart then says where the history starts.
"""

from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, IntegerField, Q, Value
from django.utils import timezone

from campaigns.models import Segment, SegmentPastCount, SegmentVersion
from campaigns.segments.compiler import compile_rule, fields_known_only_now
from campaigns.segments.rules import Group, parse
from core.chunks import chunked
from core.days import end_of
from customers.models import Customer

CHART_DAYS = 90  # the segment page's chart
# Days counted per statement (and per task): each day is a pass over the rule's data.
DAYS_PER_STATEMENT = 10


def day_end(day: date) -> datetime:
    """The day's last instant in the CRM's time zone: what "members at the end of the day" reads."""
    return end_of(day) - timedelta(microseconds=1)


def backfill_version(segment: Segment) -> SegmentVersion | None:
    """The rule the recorded history began with: the newest version made by ``history_since``."""
    if segment.history_since is None:
        return None
    versions = getattr(segment, "latest_versions", None)  # newest first, when prefetched (``with_rules``)
    if versions is None:
        versions = list(segment.versions.order_by("-number"))  # a handful
    made = [v for v in versions if v.created_at <= segment.history_since]
    return made[0] if made else (versions[-1] if versions else None)


def history_rule_known_only_now(segment: Segment) -> list[str]:
    """Why the days before the history cannot be worked out: the labels of the fields the
    history's rule tests that are known only as they are now (empty if it can be)."""
    version = backfill_version(segment)
    return [] if version is None else [f.label for f in fields_known_only_now(parse(version.rule))]


def segment_backfill_days(segment: Segment, *, today: date | None = None) -> list[date]:
    """The days before the recorded history that the chart shows and that have no count yet.
    None for a static segment (a list has no past), before the first refresh, or when the
    rule tests a field known only as it is now.

    The hourly refresh asks this of every dynamic segment, and after the first hour the
    answer is nearly always "none": so it reads nothing once the chart shows no day before
    the history, nor once a check has found nothing left to count (remembered in the cache,
    ``_complete_from``, as the first day the counts cover: later charts start later)."""
    if segment.kind != Segment.Kind.DYNAMIC or segment.history_since is None:
        return []
    today = today or timezone.localdate()
    start = timezone.localdate(segment.history_since)
    first = max(start - timedelta(days=CHART_DAYS), today - timedelta(days=CHART_DAYS - 1))
    if first >= start:
        return []
    complete = _complete_from(segment)
    if complete is not None and complete <= first:
        return []
    version = backfill_version(segment)
    if version is None:
        return []
    missing = []
    if not fields_known_only_now(parse(version.rule)):
        have = set(segment.past_counts.filter(day__gte=first, day__lt=start).values_list("day", flat=True))
        missing = [day for day in (first + timedelta(days=i) for i in range((start - first).days)) if day not in have]
    if not missing:
        cache.set(_complete_key(segment), first.isoformat(), CHART_DAYS * 24 * 3600)
    return missing


def _complete_key(segment: Segment) -> str:
    """Per history: a segment's history starts once, and the past counts are never deleted
    (but with the segment), so "complete from a day" stays true for as long as it is kept."""
    return f"campaigns:backfill:complete:{segment.pk}:{segment.history_since:%Y%m%dT%H%M%S.%f}"


def _complete_from(segment: Segment) -> date | None:
    """The first day from which every day before the history is known to be counted (or
    needs no count), if a check found so; None when none did, or the cache forgot (Redis
    down reads as forgotten: the database is asked)."""
    value = cache.get(_complete_key(segment))
    return date.fromisoformat(value) if value else None


def _existed_by(at: datetime) -> Q:
    """Customers the CRM knew by then: created, first seen or first ordering before ``at``
    (history imported later is dated by its orders and first touch)."""
    return Q(created_at__lte=at) | Q(first_seen_at__lte=at) | Q(first_order_at__lte=at)


def past_member_counts(rule: Group, days: list[date]) -> dict[date, int]:
    """How many customers the rule matched at the end of each day, read as of then: one
    count per day, in one statement."""
    if not days:
        return {}
    arms = [
        Customer.objects.filter(_existed_by(day_end(day)) & compile_rule(rule, now=day_end(day), past=True))
        .order_by()
        .values(day_index=Value(i, output_field=IntegerField()))
        .annotate(members=Count("pk"))
        for i, day in enumerate(days)
    ]
    counted = (arms[0].union(*arms[1:], all=True) if len(arms) > 1 else arms[0]).order_by()
    return {days[row["day_index"]]: row["members"] for row in counted}


def segment_history_backfill(*, segment: Segment, days: list[date], now: datetime | None = None) -> int:
    """Work out and store the member counts of these days before the segment's recorded
    history (``segment_backfill_days``); returns the days stored. Safe to run twice."""
    version = backfill_version(segment)
    if version is None or not days:
        return 0
    rule, now = parse(version.rule), now or timezone.now()
    have = set(segment.past_counts.filter(day__in=days).values_list("day", flat=True))
    stored = 0
    for chunk in chunked(sorted(set(days) - have), DAYS_PER_STATEMENT):
        counts = past_member_counts(rule, chunk)
        rows = [
            SegmentPastCount(segment=segment, day=day, members=n, version=version, computed_at=now)
            for day, n in counts.items()
        ]
        SegmentPastCount.objects.bulk_create(rows, ignore_conflicts=True)  # a concurrent run's stand
        stored += len(rows)
    if stored:
        segment_backfill_days(segment)  # the last task to finish finds none left, and says so for the next hour
    return stored
