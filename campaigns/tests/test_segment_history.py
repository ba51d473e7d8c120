"""The members-over-time chart before a segment's first refresh: worked out from the order
history where the rule can be read as of a past date (compared here with a count made by
hand from the same orders), and "history starts on …" where it cannot, never a jump from 0."""

from datetime import datetime, time, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.backfill import CHART_DAYS, segment_backfill_days, segment_history_backfill
from campaigns.charts import member_chart, nice_ticks
from campaigns.models import SegmentPastCount
from campaigns.selectors import DayKind, segment_history
from campaigns.services import segment_create, segment_refresh
from campaigns.tasks import refresh_segment
from customers.models import Order
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory
from tests.page_text import text_of

pytestmark = pytest.mark.django_db

WIN_BACK = {"match": "all", "children": [{"field": "days_since_last_order", "operator": "gt", "value": 10}]}
NEVER_BOUGHT = {"match": "all", "children": [{"field": "orders_count", "operator": "eq", "value": 0}]}
GERMANY = {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}
AT_RISK = {"match": "all", "children": [{"field": "stage", "operator": "eq", "value": "at_risk"}]}


def noon(days_ago: int) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() - timedelta(days=days_ago), time(12)))


@pytest.fixture
def history():
    """Orders over the last six weeks, as (customer, days ago, counted)."""
    a, b, c, d, e = (CustomerFactory() for _ in range(5))
    plan = [(a, 40, True), (a, 20, True), (b, 15, True), (c, 3, True), (e, 25, False)]
    for customer, days_ago, counted in plan:
        status = Order.Status.PAID if counted else Order.Status.CANCELLED
        OrderFactory(customer=customer, placed_at=noon(days_ago), status=status)
    # d was first seen 5 days ago and never bought; e's only order was cancelled.
    type(d).objects.filter(pk=d.pk).update(first_seen_at=noon(5), created_at=noon(0))
    type(e).objects.filter(pk=e.pk).update(first_seen_at=noon(25), created_at=noon(0))
    type(a).objects.filter(pk__in=[a.pk, b.pk, c.pk]).update(created_at=noon(0))  # imported today
    customers_recompute(customer_ids=[x.pk for x in (a, b, c, d, e)])
    return {"customers": (a, b, c, d, e), "plan": plan}


def by_hand(history, days_ago: int, rule: str) -> int:
    """The rule at the end of the day ``days_ago`` days ago, counted from the plan."""
    a, b, c, d, e = history["customers"]
    counted = {}
    for customer, placed, ok in history["plan"]:
        if ok and placed >= days_ago:  # placed on or before that day
            counted.setdefault(customer.pk, []).append(placed)
    if rule == "win_back":
        return sum(1 for ages in counted.values() if min(ages) - days_ago > 10)
    known = {a.pk: 40, b.pk: 15, c.pk: 3, d.pk: 5, e.pk: 25}  # first seen or first order, days ago
    return sum(1 for pk, first in known.items() if first >= days_ago and pk not in counted)


@pytest.mark.parametrize(("rule", "name"), [(WIN_BACK, "win_back"), (NEVER_BOUGHT, "never_bought")])
def test_days_before_the_first_refresh_are_counted_from_the_order_history(history, rule, name):
    segment = segment_create(name=name, rule=rule)
    refresh_segment(segment.pk)  # the first refresh starts the history, then the days before it are worked out
    segment.refresh_from_db()

    assert SegmentPastCount.objects.filter(segment=segment).count() == CHART_DAYS - 1
    days = segment_history(segment=segment)
    assert days[-1].kind == DayKind.RECORDED and {d.kind for d in days[:-1]} == {DayKind.ESTIMATED}
    for offset, day in enumerate(reversed(days)):
        assert day.members == by_hand(history, offset, name), (name, day.day)
    # As a check of the check: the plan does move over the weeks.
    assert len({d.members for d in days}) >= 3
    assert segment_backfill_days(segment) == []  # done once: the past does not change
    assert segment_history_backfill(segment=segment, days=[days[0].day]) == 0


def test_a_rule_on_a_figure_known_only_now_starts_its_history_at_the_first_refresh(admin_client, history):
    segment = segment_create(name="Overdue", rule=AT_RISK)
    refresh_segment(segment.pk)
    segment.refresh_from_db()

    assert segment_backfill_days(segment) == []
    days = segment_history(segment=segment)
    assert [d.members for d in days[:-1]] == [None] * (CHART_DAYS - 1)  # unknown, not 0
    chart = member_chart(days)
    assert chart["estimated"] == "" and chart["recorded"].count(",") == 1  # one point: today
    page = admin_client.get(reverse("admin:campaigns_segment_change", args=[segment.pk]))
    today = timezone.localdate()
    assert text_of(page, ".history-caption") == (
        f"History starts on {today.day} {today:%B %Y}, the first refresh: the rule tests lifecycle stage, "
        "known only as it is now."
    )


def test_the_page_draws_recorded_and_estimated_parts_with_labelled_axes(admin_client, history):
    segment = segment_create(name="Win-back", rule=WIN_BACK)
    refresh_segment(segment.pk)
    page = admin_client.get(reverse("admin:campaigns_segment_change", args=[segment.pk]))
    html = page.content.decode()

    assert 'class="member-line-estimated"' in html and 'class="member-line"' in html
    assert "±" not in html
    assert text_of(page, ".axis-unit") == "members"
    assert [t["label"] for t in page.context["segment_page"]["chart"]["ticks"]] == ["0", "1", "2"]
    assert text_of(page, ".history-caption").startswith(
        f"Recorded from {timezone.localdate().day} {timezone.localdate():%B %Y}, the first refresh (solid line); "
        "before it, worked out from the order history"
    )
    # The first refresh found its members: a fill, not a day of entries.
    recent = text_of(page, "#segment-flows")
    assert "at the first refresh" in recent


def test_entries_and_exits_per_day_are_labelled_in_customers():
    segment = segment_create(name="Germany", rule=GERMANY)
    assert {d.kind for d in segment_history(segment=segment)} == {DayKind.UNKNOWN}  # never refreshed
    customers = [CustomerFactory(country="DE") for _ in range(7)]
    segment_refresh(segment=segment, now=noon(3))
    type(customers[0]).objects.filter(pk__in=[c.pk for c in customers[:3]]).update(country="FR")
    segment_refresh(segment=segment, now=noon(1))
    segment.refresh_from_db()

    chart = member_chart(segment_history(segment=segment))
    assert (chart["flow_top"], chart["flow_bottom"]) == ("4 entered", "4 left")
    assert [t["label"] for t in chart["ticks"]] == ["0", "2", "4", "6", "8"]


def test_nice_ticks_are_round_and_cover_the_top():
    assert nice_ticks(224) == [0, 100, 200, 300]
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(9_800) == [0, 2500, 5000, 7500, 10000]


def test_a_static_segment_says_its_history_starts_with_its_first_list(admin_client):
    from campaigns.services import segment_members_set

    segment = segment_create(name="Press list", kind="static")
    segment_members_set(segment=segment, add={CustomerFactory().pk, CustomerFactory().pk}, now=noon(2))

    page = admin_client.get(reverse("admin:campaigns_segment_change", args=[segment.pk]))

    started = timezone.localdate() - timedelta(days=2)
    assert text_of(page, ".history-caption") == (
        f"History starts on {started.day} {started:%B %Y}, when its members were first listed: a static segment "
        "has no earlier list."
    )
    assert "2 when first listed" in text_of(page, "#segment-flows")


@pytest.mark.django_db
def test_customers_refreshed_before_the_first_full_refresh_are_part_of_its_first_fill():
    from campaigns.services import segments_refresh_customers

    early, later = CustomerFactory(country="DE"), CustomerFactory(country="DE")
    segment = segment_create(name="Germany", rule=GERMANY)
    segments_refresh_customers(customer_ids=[early.pk], now=timezone.now() - timedelta(hours=2))
    segment.refresh_from_db()
    assert segment.history_since is None  # a partial refresh does not start the history

    segment_refresh(segment=segment)
    segment.refresh_from_db()
    days = segment_history(segment=segment, days=3)
    # The history starts at the full refresh with both customers; nobody shows as "entered".
    assert (days[-1].members, sum(d.entered for d in days)) == (2, 0)
    assert all(d.kind != "recorded" for d in days[:-1])
    assert set(segment.memberships.values_list("customer_id", flat=True)) == {early.pk, later.pk}


def test_once_the_days_before_the_history_are_counted_the_hourly_refresh_does_no_backfill_work(history):
    segment = segment_create(name="Win-back", rule=WIN_BACK)
    refresh_segment(segment.pk)  # the first refresh: its history starts, the 89 days before are counted
    counted = list(SegmentPastCount.objects.filter(segment=segment).values_list("day", "members", "computed_at"))
    assert len(counted) == CHART_DAYS - 1

    with CaptureQueriesContext(connection) as second:
        refresh_segment(segment.pk)  # an hour later

    assert list(SegmentPastCount.objects.filter(segment=segment).values_list("day", "members", "computed_at")) == (
        counted
    )
    # Not even a look at the counts, nor at the rule's past: the guard knew nothing was left.
    assert not [q["sql"] for q in second.captured_queries if "segmentpastcount" in q["sql"]]
    assert not [q["sql"] for q in second.captured_queries if "UNION ALL" in q["sql"]]


def test_when_the_cache_forgot_the_database_says_what_is_left(history):
    segment = segment_create(name="Win-back", rule=WIN_BACK)
    refresh_segment(segment.pk)
    lost = SegmentPastCount.objects.filter(segment=segment).order_by("day")[10]
    lost.delete()
    cache.clear()  # as after a Redis restart

    segment.refresh_from_db()
    assert segment_backfill_days(segment) == [lost.day]
    refresh_segment(segment.pk)
    assert SegmentPastCount.objects.filter(segment=segment, day=lost.day).get().members == lost.members
    assert SegmentPastCount.objects.filter(segment=segment).count() == CHART_DAYS - 1


def test_a_history_older_than_the_chart_needs_no_look_at_all(history, django_assert_num_queries):
    segment = segment_create(name="Win-back", rule=WIN_BACK)
    type(segment).objects.filter(pk=segment.pk).update(history_since=noon(CHART_DAYS + 5))
    segment.refresh_from_db()
    with django_assert_num_queries(0):
        assert segment_backfill_days(segment) == []
