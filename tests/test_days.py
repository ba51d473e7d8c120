"""Days in the CRM's time zone are cut at the same instants everywhere (``core.days``): the
bounds, and the raw column reads of orders by day (``customers.services.order_days``), on
SQLite and on PostgreSQL, in a zone whose days do not begin at midnight UTC."""

from datetime import UTC, date, datetime, timedelta

import pytest

from core.days import end_of, span, start_of, within
from customers.models import Order
from customers.services.order_days import EPOCH, fetch_order_days
from customers.tests.factories import CustomerFactory, OrderFactory

BERLIN = "Europe/Berlin"


@pytest.fixture
def berlin(settings):
    settings.TIME_ZONE = BERLIN


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_day_runs_from_its_first_instant_to_the_first_instant_of_the_next(berlin):
    assert start_of(date(2025, 3, 1)) == utc("2025-02-28 23:00")
    assert end_of(date(2025, 3, 1)) == utc("2025-03-01 23:00")
    # The day summer time begins is 23 hours long.
    assert end_of(date(2025, 3, 30)).astimezone(UTC) - start_of(date(2025, 3, 30)) == timedelta(hours=23)


def test_a_range_of_days_may_be_open_at_either_end(berlin):
    first, last = date(2025, 3, 1), date(2025, 3, 31)
    assert span(first, last) == {"gte": utc("2025-02-28 23:00"), "lt": utc("2025-03-31 22:00")}
    assert within("placed_at", None, last) == {"placed_at__lt": utc("2025-03-31 22:00")}
    assert within("placed_at", first, None) == {"placed_at__gte": utc("2025-02-28 23:00")}
    assert within("placed_at", None, None) == {}


@pytest.mark.django_db
def test_the_orders_of_a_day_are_read_by_its_own_bounds(berlin):
    customer = CustomerFactory()
    late = OrderFactory(customer=customer, placed_at=utc("2025-03-01 22:30"))  # 23:30 on 1 March in Berlin
    OrderFactory(customer=customer, placed_at=utc("2025-03-01 23:30"))  # 00:30 on 2 March: after the day
    OrderFactory(customer=customer, placed_at=utc("2025-02-28 23:30"), status=Order.Status.CANCELLED)

    rows = fetch_order_days("o.customer_id = %s", [customer.pk], end_of(date(2025, 3, 1)))

    assert [EPOCH + timedelta(days=int(day)) for day in rows.days] == [date(2025, 3, 1)]
    assert rows.customer_ids.tolist() == [late.customer_id]
