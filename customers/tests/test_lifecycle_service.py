"""The recompute on the database: stages with reasons and history, CLV figures, no NaN stored."""

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import CustomerMetrics, CustomerSignal, Order, StageChange
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory, RefundFactory, customer_with_orders, fitted_model

pytestmark = pytest.mark.django_db


def days_ago(n: int):
    return timezone.now() - timedelta(days=n)


def recompute(*customers) -> dict[int, CustomerMetrics]:
    customers_recompute(customer_ids=[c.pk for c in customers])
    return {m.customer_id: m for m in CustomerMetrics.objects.filter(customer__in=customers)}


@pytest.mark.parametrize(
    "ages,stage,reason_part",
    [
        ((), "prospect", "known, no purchase yet"),
        ((10,), "new", "last order 10 days ago; first purchase"),
        ((100,), "at_risk", "one order and no second within 60 days"),
        ((70, 40, 10), "active", "usually orders every 30 days"),
        ((70, 60, 50), "at_risk", "last order 50 days ago; usually orders every 10 days"),
        ((500, 400), "lapsed", "lapsed after 365 days without one"),
    ],
)
def test_each_stage_comes_with_its_reason(ages, stage, reason_part):
    customer = customer_with_orders(*ages)

    metrics = recompute(customer)[customer.pk]

    assert metrics.stage == stage
    assert reason_part in metrics.reason()
    # The stage is shown beside the reason: the sentence does not say it again.
    assert not metrics.reason().startswith(stage.replace("_", " "))
    change = StageChange.objects.get(customer=customer)
    assert (change.from_stage, change.to_stage) == ("", stage)
    assert reason_part in change.reason and not change.reason.startswith(stage.replace("_", " "))


def test_a_lapsed_customer_who_buys_again_is_reactivated_and_the_journey_is_kept():
    customer = customer_with_orders(500, 420)
    assert recompute(customer)[customer.pk].stage == "lapsed"

    OrderFactory(customer=customer, placed_at=days_ago(1))
    metrics = recompute(customer)[customer.pk]

    assert metrics.stage == "reactivated"
    assert "bought again after lapsing" in metrics.reason()
    journey = list(StageChange.objects.filter(customer=customer).order_by("id").values_list("from_stage", "to_stage"))
    assert journey == [("", "lapsed"), ("lapsed", "reactivated")]


def test_recomputing_again_records_no_new_change_and_keeps_the_stage_start():
    customer = customer_with_orders(70, 40, 10)
    first = recompute(customer)[customer.pk]

    second = recompute(customer)[customer.pk]

    assert second.stage_since == first.stage_since
    assert StageChange.objects.filter(customer=customer).count() == 1


def test_promoter_and_detractor_signals_move_active_customers():
    promoter, detractor = customer_with_orders(70, 40, 10), customer_with_orders(70, 40, 10)
    CustomerSignal.objects.create(customer=promoter, kind="promoter", source="nps", occurred_at=days_ago(5))
    CustomerSignal.objects.create(customer=detractor, kind="detractor", source="review", occurred_at=days_ago(5))
    old = customer_with_orders(70, 40, 10)
    CustomerSignal.objects.create(customer=old, kind="promoter", source="nps", occurred_at=days_ago(800))

    metrics = recompute(promoter, detractor, old)

    assert metrics[promoter.pk].stage == "advocate" and "promoter" in metrics[promoter.pk].reason()
    assert metrics[detractor.pk].stage == "at_risk" and "detractor" in metrics[detractor.pk].reason()
    assert metrics[old.pk].stage == "active"  # a signal older than the window no longer counts


def test_refunds_are_netted_and_cancelled_orders_ignored():
    customer = customer_with_orders(30, 20, total="100.00")
    OrderFactory(customer=customer, placed_at=days_ago(10), status=Order.Status.CANCELLED)
    order = Order.objects.filter(customer=customer, status=Order.Status.PAID).order_by("placed_at").last()
    RefundFactory(order=order, amount=Decimal("40.00"), amount_base=Decimal("40.00"))

    metrics = recompute(customer)[customer.pk]

    assert metrics.purchase_days == 2
    assert metrics.days_since_last == 20
    assert metrics.repeat_spend_mean == pytest.approx(60.0)  # the repeat purchase, net of its refund
    customer.refresh_from_db()
    assert customer.net_revenue == Decimal("160.00")


def test_with_a_model_every_buyer_gets_p_alive_expected_purchases_and_clv():
    fitted_model()
    regular, one_off, prospect = customer_with_orders(70, 40, 10), customer_with_orders(5), CustomerFactory()

    metrics = recompute(regular, one_off, prospect)

    m = metrics[regular.pk]
    assert 0 < m.p_alive <= 1
    assert 0 < m.expected_purchases_30 < m.expected_purchases_90 < m.expected_purchases_365
    assert m.clv_predicted > 0 and m.clv_simple > 0
    assert (m.rfm_r, m.rfm_f, m.rfm_m, m.rfm_segment) == (5, 4, 3, "champions")
    assert metrics[one_off.pk].p_alive == 1.0  # no repeat purchase: BG/NBD says alive
    assert metrics[prospect.pk].p_alive is None and metrics[prospect.pk].clv_predicted is None


def test_extreme_parameters_never_store_nan_or_infinity():
    fitted_model(r=1e-9, alpha=1e-9, a=1e9, b=1e-9, q=1.0)
    customers = [customer_with_orders(*range(5, 400, 7)), customer_with_orders(3, 2, 1), customer_with_orders(365)]

    recompute(*customers)

    for row in CustomerMetrics.objects.values():
        for name, value in row.items():
            assert not (isinstance(value, float) and not math.isfinite(value)), name


def test_a_signal_sent_twice_is_recorded_once_and_makes_an_advocate():
    from customers.services.signals import PROMOTER, signal_record

    customer = customer_with_orders(70, 40, 10)
    for _ in range(2):
        signal_record(customer_id=customer.pk, kind=PROMOTER, source="nps", source_id="s7", occurred_at=days_ago(1))

    assert CustomerSignal.objects.filter(customer=customer).count() == 1
    assert recompute(customer)[customer.pk].stage == "advocate"


def test_an_unknown_signal_kind_is_refused():
    from customers.services.signals import signal_record

    with pytest.raises(ValueError, match="kind must be one of promoter, detractor"):
        signal_record(customer_id=1, kind="fan", source="nps", occurred_at=days_ago(1))
