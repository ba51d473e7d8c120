"""One bad row never stops a segment refresh (issue 16): customers whose stored times are
planted in year 1 BC and year 10000 and whose orders overflow numeric(14,2) in a sum, beside
good customers. The hourly refresh of every segment and the refresh of changed customers
complete, the good customers' memberships are exact, and a re-run changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Segment, SegmentMembership
from campaigns.services import segment_create, segments_refresh_customers
from campaigns.tasks import refresh_all_segments
from customers.models import Customer
from customers.services.recompute import customers_recompute
from customers.tests.bad_rows import PLANTED, plant_overflowing_orders, plant_placed_at
from customers.tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
RULES = {
    "spent": {"field": "spent", "operator": "gte", "value": 100, "within_days": 30},
    "orders": {"field": "orders_in_window", "operator": "gte", "value": 1, "within_days": 30},
    "recent": {"field": "days_since_last_order", "operator": "lte", "value": 30},
    "revenue": {"field": "net_revenue", "operator": "gte", "value": 100},
    "new": {"field": "first_seen", "operator": "in_last_days", "value": 30},
}


def plant_first_seen(customer, which: str) -> None:
    postgres, sqlite = PLANTED[which]
    table = Customer._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"UPDATE {table} SET first_seen_at = %s::timestamptz WHERE id = %s", [postgres, customer.pk])
        else:
            cursor.execute(f"UPDATE {table} SET first_seen_at = %s WHERE id = %s", [sqlite, customer.pk])


def members(segments) -> dict[str, set[int]]:
    return {
        name: set(SegmentMembership.objects.filter(segment=s, exited_at=None).values_list("customer_id", flat=True))
        for name, s in segments.items()
    }


def test_segment_refreshes_complete_over_bad_rows_with_exact_memberships():
    good = [CustomerFactory(first_seen_at=NOW - timedelta(days=d)) for d in (5, 100)]
    OrderFactory(customer=good[0], placed_at=NOW - timedelta(days=3), total=Decimal("150.00"))
    OrderFactory(customer=good[1], placed_at=NOW - timedelta(days=60), total=Decimal("20.00"))
    customers_recompute(customer_ids=[c.pk for c in good])
    bad = [CustomerFactory(), CustomerFactory(), CustomerFactory()]
    plant_placed_at(OrderFactory(customer=bad[0]), "year 1")
    plant_first_seen(bad[0], "year 1")
    plant_placed_at(OrderFactory(customer=bad[1]), "year 10000")
    plant_first_seen(bad[1], "year 10000")
    plant_overflowing_orders(bad[2], OrderFactory, placed_at=NOW - timedelta(days=2))
    segments = {name: segment_create(name=name, rule={"match": "all", "children": [r]}) for name, r in RULES.items()}
    everyone = [c.pk for c in good + bad]

    # Every dynamic segment, the shipped ones too.
    assert refresh_all_segments.delay().get() == Segment.objects.filter(kind=Segment.Kind.DYNAMIC).count()
    segments_refresh_customers(customer_ids=everyone)

    found = members(segments)
    g0, g1 = good[0].pk, good[1].pk
    assert {name: ids & {g0, g1} for name, ids in found.items()} == {
        "spent": {g0},
        "orders": {g0},
        "recent": {g0},
        "revenue": {g0},
        "new": {g0},
    }
    assert bad[2].pk in found["spent"]  # its orders' sum is read in SQL, which holds it

    stays = SegmentMembership.objects.count()
    refresh_all_segments.delay()
    segments_refresh_customers(customer_ids=everyone)
    assert members(segments) == found and SegmentMembership.objects.count() == stays
