"""``values_read`` gives the rows Django's own iteration gives, on either database."""

from decimal import Decimal

import pytest
from django.db.models import BigIntegerField, Count, Max, Min, Sum
from django.db.models.functions import Cast

from core.chunks import among
from core.db.server_binding import values_read
from customers.models import Order
from customers.tests.factories import customer_with_orders

pytestmark = pytest.mark.django_db


def test_an_aggregated_values_queryset_reads_the_same_rows_as_django_gives():
    a = customer_with_orders(3, 40, total="19.99")
    b = customer_with_orders(1, total="250.00")
    customer_with_orders(5)  # not asked for
    rows = (
        Order.objects.filter(among([a.pk, b.pk], column='"customers_order"."customer_id"'))
        .values("customer_id")
        .annotate(
            orders=Count("id"),
            ids=Cast(Sum("customer_id"), BigIntegerField()),  # numeric on PostgreSQL, unless cast
            largest=Max("total"),
            first=Min("placed_at"),
            shop=Min("shop__name"),
        )
        .order_by("customer_id")
    )

    read = list(values_read(rows))

    assert read == list(rows)
    assert [type(r["ids"]) for r in read] == [int, int]
    assert [(r["customer_id"], r["orders"], r["ids"], r["largest"]) for r in read] == [
        (a.pk, 2, 2 * a.pk, Decimal("19.99")),
        (b.pk, 1, b.pk, Decimal("250.00")),
    ]
    assert all(r["first"].tzinfo is not None for r in read)
