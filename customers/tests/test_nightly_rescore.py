"""The nightly pass from stored purchase summaries: the same figures as a rebuild from
orders, stages that move on as days pass, and no overwrite of a fresher row."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from core.chunks import id_ranges
from core.db.column_writer import Column, update_columns
from customers.metrics import stages as rules
from customers.models import Customer, CustomerMetrics, StageChange
from customers.services.recompute import customers_recompute, customers_recompute_range, customers_rescore_range
from customers.services.recompute_chunk import Context
from customers.tests.factories import CustomerFactory, OrderFactory, customer_with_orders, fitted_model

pytestmark = pytest.mark.django_db

# computed_at aside: the nightly pass leaves a prospect's unchanged row as it was.
COMPARED = [f.attname for f in CustomerMetrics._meta.concrete_fields if f.name != "computed_at"]


def rows() -> dict[int, dict]:
    return {row["customer_id"]: row for row in CustomerMetrics.objects.values(*COMPARED)}


def every_chunk(step, ctx):
    for first_id, last_id in id_ranges(Customer):
        step(first_id=first_id, last_id=last_id, ctx=ctx)


def varied_customers():
    """Prospects, one-off buyers, regulars, lapsing and lapsed ones, same-day orders."""
    customers = [
        CustomerFactory(),
        customer_with_orders(5),
        customer_with_orders(70),
        customer_with_orders(70, 40, 10),
        customer_with_orders(70, 60, 50),
        customer_with_orders(500, 400),
        customer_with_orders(300, 300, 200, 12, total="80.00"),
        customer_with_orders(*range(3, 360, 9), total="25.50"),
    ]
    customers_recompute(customer_ids=[c.pk for c in customers])
    return customers


@pytest.mark.parametrize("with_model", [True, False])
def test_a_day_later_the_nightly_pass_stores_what_a_rebuild_from_orders_would(with_model):
    if with_model:
        fitted_model()
    varied_customers()
    later = Context.load(now=timezone.now() + timedelta(days=40))

    every_chunk(customers_rescore_range, later)
    rescored, changes = rows(), StageChange.objects.count()
    every_chunk(customers_recompute_range, later)

    assert rows() == rescored
    assert StageChange.objects.count() == changes  # the rebuild found nothing left to record


def test_stages_move_on_as_days_pass_without_orders_with_the_change_and_its_reason():
    fitted_model()
    regular = customer_with_orders(70, 40, 10)
    customers_recompute(customer_ids=[regular.pk])
    assert CustomerMetrics.objects.get(pk=regular.pk).stage == "active"

    every_chunk(customers_rescore_range, Context.load(now=timezone.now() + timedelta(days=400)))

    metrics = CustomerMetrics.objects.get(pk=regular.pk)
    assert metrics.stage == "lapsed"
    assert metrics.days_since_last == 410
    change = StageChange.objects.filter(customer=regular).first()
    assert (change.from_stage, change.to_stage) == ("active", "lapsed")
    assert "410 days" in change.reason


def test_customers_never_computed_are_computed_from_their_orders():
    customer = CustomerFactory()
    OrderFactory(customer=customer, placed_at=timezone.now() - timedelta(days=3))
    assert not CustomerMetrics.objects.filter(pk=customer.pk).exists()

    every_chunk(customers_rescore_range, Context.load())

    metrics = CustomerMetrics.objects.get(pk=customer.pk)
    assert (metrics.stage, metrics.purchase_days, metrics.days_since_last) == ("new", 1, 3)
    customer.refresh_from_db()
    assert customer.orders_count == 1


def test_a_refit_alone_never_reactivates_a_lapsed_customer():
    facts = {
        "purchase_days": np.array([3, 4]),
        "days_since_last": np.array([200.0, 1.0]),
        "gap_median": np.array([30.0, 30.0]),
        "p_alive": np.array([0.9, 0.9]),  # the new model thinks both are alive
        "promoter": np.zeros(2, bool),
        "detractor": np.zeros(2, bool),
        "previous_stage": np.array([rules.LAPSED, rules.LAPSED]),
        "days_in_previous_stage": np.array([10.0, 10.0]),
        "previous_purchase_days": np.array([3, 3]),
    }

    stage, rule = rules.assign(rules.Facts(**facts), rules.Thresholds())

    assert list(stage) == [rules.AT_RISK, rules.REACTIVATED]
    assert list(rule) == ["overdue", "returned_after_lapse"]


@pytest.mark.postgres
def test_a_row_rewritten_since_it_was_read_is_left_alone():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    kept, stale = varied_customers()[3:5]
    read = {m.pk: m.computed_at.timestamp() * 1e6 for m in CustomerMetrics.objects.filter(pk__in=[kept.pk, stale.pk])}
    CustomerMetrics.objects.filter(pk=stale.pk).update(computed_at=timezone.now() + timedelta(seconds=1))

    written = update_columns(
        CustomerMetrics,
        [
            Column("customer_id", "int8", np.array([kept.pk, stale.pk])),
            Column("stage", "text", np.array(["lapsed"] * 2)),
        ],
        guard=Column("computed_at", "timestamptz", np.array([read[kept.pk], read[stale.pk]])),
    )

    assert written.tolist() == [kept.pk]
    assert CustomerMetrics.objects.get(pk=kept.pk).stage == "lapsed"
    assert CustomerMetrics.objects.get(pk=stale.pk).stage == "at_risk"


def test_the_nightly_repair_takes_customers_whose_orders_were_changed_or_placed_lately():
    from customers.models import Order
    from customers.services.recompute import changed_customer_ids

    long_ago = timezone.now() - timedelta(days=30)
    edited, placed, untouched = CustomerFactory(), CustomerFactory(), CustomerFactory()
    for customer in (edited, untouched):
        OrderFactory(customer=customer, placed_at=long_ago)
    Order.objects.update(updated_at=long_ago)
    OrderFactory(customer=placed, placed_at=timezone.now() + timedelta(days=1))  # dated tomorrow
    Order.objects.filter(customer=placed).update(updated_at=long_ago)
    order = Order.objects.get(customer=edited)
    order.status = Order.Status.CANCELLED
    order.save()  # an edit in the admin: no per-order update ran

    assert sorted(changed_customer_ids(timezone.now() - timedelta(days=3))) == sorted([edited.pk, placed.pk])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_metrics_table_is_vacuumed_outside_a_transaction():
    if connection.vendor != "postgresql":
        pytest.skip("VACUUM is PostgreSQL's")
    from customers.services.recompute import metrics_vacuum

    varied_customers()
    customers_recompute(customer_ids=list(CustomerMetrics.objects.values_list("pk", flat=True)))  # dead versions

    metrics_vacuum()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = %s",
            [CustomerMetrics._meta.db_table],
        )
        assert cursor.fetchone() == (True,)
