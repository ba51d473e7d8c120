"""Segment writes: rules with versions, and membership kept current, set-based.

A refresh is a few statements per segment, never one per customer: close the open stays
of customers the rule no longer matches (one ``UPDATE … NOT EXISTS (rule)``), open a stay
for customers it newly matches (one ``INSERT … SELECT (rule) … NOT EXISTS``), and store the
count. The incremental refresh does the same restricted to the customers just recomputed.
"""

import time
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import Segment, SegmentMembership, SegmentVersion
from campaigns.segments.compiler import matching
from campaigns.segments.rules import Group, parse
from campaigns.segments.sentence import sentence
from core.chunks import chunk_run_ids
from customers.models import Customer

_CHUNK = 5000  # ids per statement when a static list is written


def segment_rule_save(*, segment: Segment, rule: dict, user=None) -> SegmentVersion:
    """Store ``rule`` as the segment's new version (``RuleError`` if it is not valid). Saving
    the same rule again keeps the current version."""
    parsed = parse(rule)
    normalised = parsed.as_json()
    with transaction.atomic():
        current = SegmentVersion.objects.select_for_update().filter(segment=segment).order_by("-number").first()
        if current is not None and current.rule == normalised:
            return current
        # A prefetched list of versions (``Segment.with_rules``) no longer names the current one.
        segment.__dict__.pop("latest_versions", None)
        return SegmentVersion.objects.create(
            segment=segment,
            number=(current.number + 1) if current else 1,
            rule=normalised,
            sentence=sentence(parsed),
            created_by=user,
        )


def segment_create(*, name: str, rule: dict | None = None, kind: str = Segment.Kind.DYNAMIC, user=None, **extra):
    with transaction.atomic():
        segment = Segment.objects.create(name=name, kind=kind, owner=user, **extra)
        if rule is not None:
            segment_rule_save(segment=segment, rule=rule, user=user)
    return segment


def _history_starts(now: datetime) -> Coalesce:
    """The segment's ``history_since``: kept once set, else ``now`` (this write starts it)."""
    return Coalesce(F("history_since"), Value(now, output_field=DateTimeField()))


def segment_refresh(*, segment: Segment, now: datetime | None = None) -> tuple[int, int]:
    """Bring a dynamic segment's membership up to date; returns (entered, exited)."""
    version = segment.current_version
    if segment.kind != Segment.Kind.DYNAMIC or version is None:
        return 0, 0
    now = now or timezone.now()
    start = time.perf_counter()
    with transaction.atomic():
        entered, exited = _apply(segment, version, now)
        count = SegmentMembership.objects.filter(segment=segment, exited_at=None).count()
        Segment.objects.filter(pk=segment.pk).update(
            member_count=count,
            refreshed_at=now,
            refresh_seconds=time.perf_counter() - start,
            history_since=_history_starts(now),
        )
    return entered, exited


def segments_refresh_customers(*, customer_ids: Sequence[int], now: datetime | None = None) -> None:
    """After the ingestion pipeline recomputed these customers: their memberships of every
    dynamic segment, brought up to date (two statements per segment)."""
    if not customer_ids:
        return
    now = now or timezone.now()
    segments = [s for s in Segment.with_rules().filter(kind=Segment.Kind.DYNAMIC) if s.current_version is not None]

    def refresh(ids: list[int]) -> None:
        for segment in segments:
            entered, exited = _apply_to(segment, segment.current_version, now, ids)
            if entered or exited:
                # Only a full refresh starts the history: a few customers refreshed first are
                # part of its first fill, not the whole segment's.
                Segment.objects.filter(pk=segment.pk).update(member_count=F("member_count") + entered - exited)

    # In one transaction; a customer whose data a rule cannot evaluate is logged and left out.
    chunk_run_ids("segment refresh", customer_ids, refresh, empty=None)


def _apply_to(segment: Segment, version: SegmentVersion, now, customer_ids: Sequence[int]) -> tuple[int, int]:
    """The segment's stays for these customers, brought up to date: who matches and who is
    in are read (two index reads), compared in Python, and the difference written.

    Not the anti-joins of ``_apply``: after a burst of writes the planner's statistics of the
    stays lag behind (autovacuum has not analysed them yet), it expects one row, and picks a
    nested loop that compared 4,484 stays with 5,000 ids one by one: 2 s a segment, 32 s
    for a batch of the outbox. Sets of a few thousand ids cost microseconds here."""
    members = set(matching(parse(version.rule), now=now, customer_ids=customer_ids).values_list("pk", flat=True))
    stays = SegmentMembership.objects.filter(segment=segment, exited_at=None, customer__id__in_ids=customer_ids)
    inside = dict(stays.values_list("customer_id", "id"))
    leaving = [stay for customer, stay in inside.items() if customer not in members]
    joining = sorted(members.difference(inside))
    exited = 0
    if leaving:
        exited = SegmentMembership.objects.filter(id__in_ids=leaving, exited_at=None).update(exited_at=now)
    entered = _open_stays(segment, version, now, Customer.objects.filter(pk__in_ids=joining)) if joining else 0
    return entered, exited


def _apply(segment: Segment, version: SegmentVersion, now) -> tuple[int, int]:
    """Every customer's stay in the segment, brought up to date: two set-based statements."""
    rule: Group = parse(version.rule)
    members = matching(rule, now=now)
    stays = SegmentMembership.objects.filter(segment=segment, exited_at=None)
    # NOT EXISTS, not NOT IN: PostgreSQL plans it as a hash anti-join whatever the size,
    # where NOT IN over a subquery larger than work_mem is re-scanned for every row.
    exited = stays.exclude(Exists(members.filter(pk=OuterRef("customer_id")))).update(exited_at=now)
    newcomers = members
    if stays.exists():
        # Without this test a first fill would plan the anti-join against a table PostgreSQL
        # believes empty: a nested loop rescanning the rows it is inserting (40 s for 78,000).
        newcomers = members.exclude(Exists(stays.filter(customer_id=OuterRef("pk"))))
    return _open_stays(segment, version, now, newcomers), exited


def _open_stays(segment: Segment, version: SegmentVersion, now, newcomers: QuerySet[Customer]) -> int:
    """Open a stay for each of ``newcomers`` in one ``INSERT … SELECT``; returns how many."""
    sql, params = newcomers.values(member=F("pk")).query.sql_with_params()
    table = SegmentMembership._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, customer_id, version_id, entered_at) "
            f"SELECT %s, n.member, %s, %s FROM ({sql}) n WHERE true "
            # A concurrent refresh may have opened the same stay: theirs stands.
            "ON CONFLICT DO NOTHING",
            # Stored as the ORM stores it (on SQLite, text in UTC without an offset), so that
            # an equality test on it (the first fill: ``history_since``) matches.
            [segment.pk, version.pk, connection.ops.adapt_datetimefield_value(now), *params],
        )
        return cursor.rowcount


def segment_members_set(
    *,
    segment: Segment,
    add: set[int] = frozenset(),
    remove: set[int] = frozenset(),
    replace: set[int] | None = None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """A static segment's hand-picked members: add and remove customers, or ``replace`` the
    whole list. Returns (entered, exited); the history is kept as for dynamic segments."""
    now = now or timezone.now()
    with transaction.atomic():
        Segment.objects.select_for_update().filter(pk=segment.pk).first()  # one change at a time
        stays = SegmentMembership.objects.filter(segment=segment, exited_at=None)
        current = set(stays.values_list("customer_id", flat=True))
        if replace is not None:
            add, remove = replace - current, current - replace
        else:
            add, remove = set(add) - current, set(remove) & current
        leaving = sorted(remove)
        for start in range(0, len(leaving), _CHUNK):
            stays.filter(customer_id__in=leaving[start : start + _CHUNK]).update(exited_at=now)
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, customer_id=pk, entered_at=now) for pk in sorted(add)],
            batch_size=_CHUNK,
        )
        Segment.objects.filter(pk=segment.pk).update(
            member_count=len(current) + len(add) - len(remove),
            refreshed_at=now,
            refresh_seconds=None,
            history_since=_history_starts(now),
        )
    return len(add), len(remove)
