"""Reads about segments for the API and the admin."""

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.paginator import Page
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from campaigns.models import Segment, SegmentMembership
from campaigns.segments.compiler import compile_rule
from campaigns.segments.rules import parse
from campaigns.segments.sentence import sentence
from core.admin_tools import LargeTablePaginator
from core.days import local_day, start_of
from customers.models import Customer

SAMPLE_SIZE = 20


@dataclass(frozen=True)
class Preview:
    count: int
    sentence: str
    sample: list[Customer]


def segment_preview(
    *,
    rule: dict,
    customers: QuerySet[Customer],
    shops=None,
    sample_of: Callable[[QuerySet[Customer], int], list[Customer]] | None = None,
) -> Preview:
    """How many of ``customers`` the rule matches, the rule as a sentence, and a sample of
    them (``RuleError`` if the rule is not valid). Two queries. With ``shops`` (a shop
    group's shop ids, for a shop's key) the rule reads only those shops' data.

    The sample is the newest customers by id, or what ``sample_of(matched, size)`` picks: a
    shop's key shows its group's newest, by the ids it knows customers by."""
    parsed = parse(rule)
    matched = customers.filter(compile_rule(parsed, shops=shops)).order_by()
    return Preview(
        count=matched.count(),
        sentence=sentence(parsed),
        sample=sample_of(matched, SAMPLE_SIZE) if sample_of else list(matched.order_by("-id")[:SAMPLE_SIZE]),
    )


def segment_members(*, segment: Segment, customers: QuerySet[Customer], shops=None) -> QuerySet[Customer]:
    """The current members among ``customers``.

    With ``shops`` (a shop's key), a dynamic segment's members are those its current rule
    matches on those shops' data, worked out now: the stored stays were decided on every
    shop's data. A static segment is the list the staff made.
    """
    version = segment.current_version if shops is not None and segment.kind == Segment.Kind.DYNAMIC else None
    if version is not None:
        return customers.filter(compile_rule(parse(version.rule), shops=shops))
    stays = SegmentMembership.objects.filter(segment=segment, exited_at=None)
    return customers.filter(pk__in=stays.values("customer_id"))


def customer_segments(*, customer_id: int) -> QuerySet[SegmentMembership]:
    """The customer's open stays, with their segments."""
    return (
        SegmentMembership.objects.filter(customer_id=customer_id, exited_at=None)
        .select_related("segment")
        .order_by("segment__name")
    )


@dataclass(frozen=True)
class Stay:
    segment: Segment
    entered_at: datetime | None


def customer_segments_sliced(*, customer: QuerySet[Customer], shops, whole: bool) -> list[Stay]:
    """The segments ``customer`` (a queryset of the one customer) belongs to on ``shops``'
    data: static segments by their stays, dynamic ones by their current rule on that data,
    all tested in one query. ``entered_at`` is the stay's, shown only when ``whole`` (no shop
    is outside ``shops``, so every order of every person is theirs), as it was decided on
    every shop's data."""
    segments = list(Segment.with_rules().order_by("name"))
    open_stays = SegmentMembership.objects.filter(customer__in=customer.values("pk"), exited_at=None)
    stays = dict(open_stays.values_list("segment_id", "entered_at"))
    tests = {}
    for segment in segments:
        version = segment.current_version
        if segment.kind == Segment.Kind.DYNAMIC and version is not None:
            tests[f"s{segment.pk}"] = ExpressionWrapper(compile_rule(parse(version.rule), shops=shops), BooleanField())
    matched = (customer.annotate(**tests).values(*tests).first() or {}) if tests else {}
    found = []
    for segment in segments:
        member = matched.get(f"s{segment.pk}") if f"s{segment.pk}" in tests else segment.pk in stays
        if member:
            found.append(Stay(segment=segment, entered_at=stays.get(segment.pk) if whole else None))
    return found


MEMBERS_PER_PAGE = 50


def segment_member_page(*, segment: Segment, query: str = "", page: str | int = 1) -> Page:
    """One page of a segment's current stays, newest first, with their customers; ``query``
    matches an email exactly (indexed) or a name, or a customer id. ``page`` as the request
    gave it: anything not a page number is the first page.

    Counted up to ``COUNT_CAP`` rows (on the segment's open-stays index), as the admin's
    large lists are, not with a COUNT over every stay on each view: below the cap the count
    is exact and a number past the last page is the last page; above it the count reads
    "more than 10,000", there is no last page, and a page past the end is empty."""
    stays = (
        SegmentMembership.objects.filter(segment=segment, exited_at=None)
        .select_related("customer", "version")
        .order_by("-entered_at", "-id")
    )
    query = query.strip()
    if query:
        if query.isdigit() and len(query) < 19:
            stays = stays.filter(customer_id=int(query))
        elif "@" in query:
            stays = stays.filter(customer__email_normalized=query.lower())
        else:
            stays = stays.filter(Q(customer__first_name__istartswith=query) | Q(customer__last_name__istartswith=query))
    return LargeTablePaginator(stays, MEMBERS_PER_PAGE).get_page(page)


class DayKind:
    RECORDED = "recorded"  # from the stays: the segment was being refreshed
    ESTIMATED = "estimated"  # before the history, worked out from the order history (campaigns.backfill)
    UNKNOWN = "unknown"  # before the history, and the rule cannot be read as of then


@dataclass(frozen=True)
class HistoryDay:
    day: date
    members: int | None  # at the end of the day; None when unknown
    entered: int
    exited: int
    kind: str = DayKind.RECORDED
    first_fill: int = 0  # on the day the history starts: the members the first refresh found


def segment_history(*, segment: Segment, days: int = 90, today: date | None = None) -> list[HistoryDay]:
    """Member count at the end of each of the last ``days`` days, with each day's entries and
    exits, read back from the membership history (two grouped queries on indexed columns)
    from the member count the segment stores.

    The history starts with the first refresh (``history_since``): the stays it opened are
    its first fill, not entries. Days before it are the counts worked out from the order
    history (``SegmentPastCount``) where the rule allows, else unknown (``members`` None)."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    since = start_of(first)
    started = segment.history_since
    start_day = timezone.localdate(started) if started else today + timedelta(days=1)
    stays = SegmentMembership.objects.filter(segment=segment).order_by()
    # The first fill: every stay opened up to the first full refresh (none before one).
    fill = Q(entered_at__lte=started) if started else Q(entered_at__isnull=True)

    def per_day(column: str, **counts) -> dict[date, dict]:
        rows = (
            stays.filter(**{f"{column}__gte": since}).annotate(day=local_day(column)).values("day").annotate(**counts)
        )
        return {row.pop("day"): row for row in rows}

    entered = per_day("entered_at", n=Count("id", filter=~fill), fill=Count("id", filter=fill))
    exited = per_day("exited_at", n=Count("id"))
    past = dict(
        segment.past_counts.filter(day__gte=first, day__lt=start_day).order_by().values_list("day", "members")
        if started
        else []
    )
    # Today's count as the segment's row keeps it (every write of its stays updates it, in the
    # same transaction), read afresh, not with a COUNT over a million stays on each view; the
    # days before are worked back from it.
    members = Segment.objects.filter(pk=segment.pk).values_list("member_count", flat=True).first() or 0
    history = []
    for offset in range(days):
        day = today - timedelta(days=offset)
        if day < start_day:
            known = past.get(day)
            kind = DayKind.UNKNOWN if known is None else DayKind.ESTIMATED
            history.append(HistoryDay(day, known, 0, 0, kind))
            continue
        came, left = entered.get(day, {}), exited.get(day, {})
        came_n, left_n = came.get("n", 0), left.get("n", 0)
        history.append(HistoryDay(day, members, came_n, left_n, DayKind.RECORDED, came.get("fill", 0)))
        members += left_n - came_n - came.get("fill", 0)  # the count at the end of the day before
    return history[::-1]


def segment_transitions(*, since: datetime, segment: Segment | None = None):
    """Entries and exits since a time, oldest first: what campaigns trigger on. Each is
    (at, "entered" | "exited", segment_id, customer_id); read from the membership history,
    so a trigger that runs late misses nothing."""
    stays = SegmentMembership.objects.order_by()
    if segment is not None:
        stays = stays.filter(segment=segment)

    def read(column: str, kind: str):
        rows = stays.filter(**{f"{column}__gte": since}).order_by(column, "id")
        for at, segment_id, customer_id in rows.values_list(column, "segment_id", "customer_id").iterator(2000):
            yield at, kind, segment_id, customer_id

    return heapq.merge(read("entered_at", "entered"), read("exited_at", "exited"), key=lambda event: event[0])
