"""Keeping the rollups up to date: which days to recompute, and when.

- ``dashboard_refresh`` (Celery beat every ten minutes; in-process on the embedded default):
  the last ``RECENT_DAYS`` days of everything, the days of orders written or changed since
  the last refresh (a refund, a cancellation or an import dated in the past) with the next
  order of each of those customers (whose "first order" or "bought before" may have
  changed), the heatmap's months they fall in, the last ``SUPPORT_DAYS`` of tickets and
  answers, and the snapshots (points liability, CLV bands). One transaction, so the page
  never reads half a refresh.
- ``dashboard_rebuild`` (``manage.py dashboard_rebuild``, and weekly): every day from the
  first order on, orders month by month, the rest in one pass each.

Writers take the ``RollupState`` row's lock first, so a refresh and a rebuild never write
the same days at once.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import DateField, Min, OuterRef, Subquery
from django.db.models.functions import Trunc
from django.utils import timezone

from crm.dashboard import days as d
from crm.dashboard.models import CohortMonth, DailyBuyers, DailySales, RollupState
from crm.dashboard.rollups.buyers import buyers_refresh, cohorts_refresh
from crm.dashboard.rollups.clv import clv_bands_refresh
from crm.dashboard.rollups.loyalty import last_entry_id, liability_snapshot, points_refresh
from crm.dashboard.rollups.sales import sales_refresh
from crm.dashboard.rollups.stages import stage_flows_refresh
from crm.dashboard.rollups.support import feedback_refresh, response_times_refresh
from customers.models import Order
from support.models import Ticket

logger = logging.getLogger(__name__)

RECENT_DAYS = 3  # today and the two days before, whatever changed
SUPPORT_DAYS = 92  # answers (NPS, CSAT): a small table, recomputed for the last quarter
TICKET_DAYS = 14  # response times: the last fortnight, and the days of tickets changed since
MARGIN = timedelta(minutes=10)  # a write committed this late is still seen
MAX_CHANGED_DAYS = 62  # more older days changed than this: their months are rebuilt apart
MONTHS_PER_TASK = 3
MARKS_KEPT = timedelta(days=10)
EARLIEST = date(2000, 1, 1)  # the rebuild's floor for tables read in one pass


@dataclass
class RefreshResult:
    days: list[date] = field(default_factory=list)  # the order days recomputed
    months_apart: list[date] = field(default_factory=list)  # months left for ``rebuild_months``
    needs_rebuild: bool = False  # never built: nothing done
    seconds: float = 0.0


def _locked_state() -> RollupState:
    RollupState.load()
    return RollupState.objects.select_for_update().get(pk=1)


def rollups_built() -> bool:
    return RollupState.load().refreshed_at is not None


def dashboard_refresh(*, now: datetime | None = None) -> RefreshResult:
    """Bring the recent days up to date (see the module's docstring). Rollups never built
    need ``dashboard_rebuild`` first; when more older days changed than one refresh should
    take, their months are returned (``months_apart``) for ``rebuild_months``."""
    started, clock = now or timezone.now(), time.monotonic()
    if not rollups_built():
        return RefreshResult(needs_rebuild=True)
    today = d.today(started)
    recent = set(d.days(today - timedelta(days=RECENT_DAYS - 1), today))
    with transaction.atomic():
        state = _locked_state()
        changed, cohort_months = changed_order_days(since=state.orders_read_until - MARGIN)
        older = changed - recent
        apart = sorted({d.month_of(day) for day in older}) if len(older) > MAX_CHANGED_DAYS else []
        order_days = recent if apart else recent | older
        for first, last in d.runs(order_days):
            sales_refresh(first, last)
            buyers_refresh(first, last)
        if apart:  # rebuild_months redoes the heatmap from the first of them on
            cohort_months = {month for month in cohort_months if month < min(apart)}
        cohorts_refresh(sorted(cohort_months | {d.month_of(day) for day in order_days}))
        first_recent = min(recent)
        stage_flows_refresh(first_recent, today)
        points_refresh(first_recent, today, after_id=points_mark(state, before=d.start_of(first_recent) - MARGIN))
        feedback_refresh(today - timedelta(days=SUPPORT_DAYS), today)
        ticket_days = set(d.days(today - timedelta(days=TICKET_DAYS - 1), today))
        for first, last in d.runs(ticket_days | changed_ticket_days(since=state.orders_read_until - MARGIN)):
            response_times_refresh(first, last)
        _snapshots(today)
        _advance(state, started, marked=last_entry_id())
    return RefreshResult(days=sorted(order_days), months_apart=apart, seconds=time.monotonic() - clock)


def changed_order_days(*, since: datetime) -> tuple[set[date], set[date]]:
    """What orders written or changed since ``since`` make stale: the days of those orders
    and of the next counted order of each of their customers (whose "first order" or
    "bought before" may have changed); and the months of every later order of those
    customers (whose cohort may have changed). Reads through the index on ``updated_at``
    and the customers' order index."""
    changed = Order.objects.filter(updated_at__gte=since).order_by()
    later = (
        Order.objects.counted()
        .filter(customer_id=OuterRef("customer_id"), placed_at__gt=OuterRef("placed_at"))
        .order_by("placed_at")
        .values("placed_at")[:1]
    )
    pairs = (
        changed.annotate(day=d.local_day("placed_at"), next_day=d.local_day(Subquery(later)))
        .values_list("day", "next_day")
        .distinct()
    )
    days = {day for pair in pairs for day in pair if day is not None}
    if not days:
        return days, set()
    since_first = d.start_of(min(days))
    months = set(
        Order.objects.counted()
        .filter(customer_id__in=changed.values("customer_id"), placed_at__gte=since_first)
        .annotate(month=Trunc("placed_at", "month", output_field=DateField(), tzinfo=d.zone()))
        .values_list("month", flat=True)
        .distinct()
        .order_by()
    )
    return days, months


def changed_ticket_days(*, since: datetime) -> set[date]:
    """The days tickets written since ``since`` were first answered or solved on. (A ticket
    reopened long after it was solved leaves its old day to the weekly rebuild.)"""
    answered = Ticket.objects.filter(updated_at__gte=since).values_list("first_responded_at", "solved_at")
    return {d.day_of(moment) for pair in answered for moment in pair if moment is not None}


def points_mark(state: RollupState, *, before: datetime) -> int:
    """An id below every ledger entry written from ``before`` on: the largest one a refresh
    saw before then (0, the whole ledger, if none is that old)."""
    ids = [mark_id for at, mark_id in state.points_marks if datetime.fromisoformat(at) < before]
    return max(ids, default=0)


def _snapshots(today: date) -> None:
    liability_snapshot(today)
    clv_bands_refresh()


def _advance(state: RollupState, started: datetime, *, marked: int, rebuilt: bool = False) -> None:
    keep = [m for m in state.points_marks if datetime.fromisoformat(m[0]) >= started - MARKS_KEPT]
    state.points_marks = [*keep, [started.isoformat(), marked]]
    state.orders_read_until = started
    state.refreshed_at = timezone.now()
    state.rebuilt_at = state.refreshed_at if rebuilt else state.rebuilt_at
    state.version += 1
    state.save()


# ------------------------------------------------------------------------------ rebuild


def rebuild_plan(*, now: datetime | None = None, since: date | None = None) -> list[tuple[date, date]]:
    """The runs of months (first day of the first, last day of the last) a rebuild of the
    order rollups takes, ``MONTHS_PER_TASK`` at a time, from the first order (or ``since``)."""
    today = d.today(now)
    if since is None:
        first = Order.objects.aggregate(m=Min("placed_at"))["m"]
        since = d.day_of(first) if first else today
    months = d.months(max(since, EARLIEST), today)
    chunks = [months[i : i + MONTHS_PER_TASK] for i in range(0, len(months), MONTHS_PER_TASK)]
    return [(chunk[0], min(d.month_end(chunk[-1]), today)) for chunk in chunks]


def rebuild_orders(first: date, last: date) -> None:
    """One step of a rebuild: the order rollups of ``first`` … ``last``."""
    with transaction.atomic():
        _locked_state()
        for month in d.months(first, last):
            month_last = min(d.month_end(month), last)
            sales_refresh(max(month, first), month_last)
            buyers_refresh(max(month, first), month_last)


def rebuild_rest(*, started: datetime, since: date | None = None) -> None:
    """The last step of a rebuild: everything not read month by month, then the cohorts
    (from the day sets the earlier steps wrote) and the state. ``since``: the rebuild's first
    day; rollups of order days before it are dropped (a whole rebuild only)."""
    today = d.today(started)
    with transaction.atomic():
        state = _locked_state()
        marked = last_entry_id()
        stage_flows_refresh(EARLIEST, today)
        points_refresh(EARLIEST, today)
        feedback_refresh(EARLIEST, today)
        response_times_refresh(EARLIEST, today)
        if since is not None:
            for model in (DailySales, DailyBuyers):
                model.objects.filter(day__lt=since).delete()
        first_day = DailyBuyers.objects.aggregate(m=Min("day"))["m"]
        CohortMonth.objects.all().delete()
        if first_day:
            cohorts_refresh(d.months(first_day, today))
        _snapshots(today)
        _advance(state, started, marked=marked, rebuilt=True)


def dashboard_rebuild(*, now: datetime | None = None, since: date | None = None, report=None) -> RefreshResult:
    """Every rollup from scratch, here and now (``report(text)`` after each step)."""
    started, clock = now or timezone.now(), time.monotonic()
    plan = rebuild_plan(now=started, since=since)
    for first, last in plan:
        rebuild_orders(first, last)
        if report:
            report(f"Orders {first} … {last}: {time.monotonic() - clock:.1f} s")
    rebuild_rest(started=started, since=plan[0][0] if since is None and plan else None)
    if report:
        report(f"Stages, support, points, cohorts, snapshots: {time.monotonic() - clock:.1f} s")
    return RefreshResult(seconds=time.monotonic() - clock)


def rebuild_months(months: list[date], *, now: datetime | None = None) -> None:
    """The order rollups of ``months`` (first days), then the heatmap from the first of them
    on (a customer whose first order changed moves to another cohort in every later month)."""
    for month in months:
        rebuild_orders(month, d.month_end(month))
    with transaction.atomic():
        _locked_state()
        cohorts_refresh(d.months(min(months), d.today(now)))
