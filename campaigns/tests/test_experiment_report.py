"""An email's A/B report: every customer drawn into an arm, the holdout included, and the
orders they placed at the shop in the window after the draw; the differences against the
holdout with their intervals; the chance each variant is best; the sample-ratio check."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from campaigns.emails import email_send
from campaigns.experiments.outcomes import arm_outcomes
from campaigns.experiments.report import email_report
from campaigns.models import Email, Send, Variant
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def an_email(shop, *, holdout, labels=("A",)) -> Email:
    email = Email.objects.create(shop=shop, name="Win-back", holdout_percent=holdout, winner_metric="conversions")
    for label in labels:
        Variant.objects.create(email=email, label=label, subject="We miss you", body="<p>Come back</p>")
    return email


def test_orders_in_the_window_after_the_draw_count_for_the_customers_arm_holdout_included():
    shop, other = ShopFactory(), ShopFactory()
    email = an_email(shop, holdout=50)
    people = [CustomerFactory() for _ in range(40)]
    email_send(email=email, customer_ids=[p.pk for p in people], now=NOW)
    held = set(Send.objects.filter(email=email, variant__isnull=True).values_list("customer_id", flat=True))
    treated = [p for p in people if p.pk not in held]
    control = [p for p in people if p.pk in held]
    # Counted: within 5 days, at this shop, net of a refund.
    OrderFactory(shop=shop, customer=treated[0], placed_at=NOW + timedelta(days=1), total=Decimal("50.00"))
    OrderFactory(
        shop=shop,
        customer=treated[1],
        placed_at=NOW + timedelta(days=4),
        total=Decimal("80.00"),
        refunded_base=Decimal("30.00"),
    )
    OrderFactory(shop=shop, customer=control[0], placed_at=NOW + timedelta(hours=2), total=Decimal("20.00"))
    # Not counted: before the draw, after the window, another shop, cancelled.
    OrderFactory(shop=shop, customer=treated[2], placed_at=NOW - timedelta(hours=1))
    OrderFactory(shop=shop, customer=treated[3], placed_at=NOW + timedelta(days=5, minutes=1))
    OrderFactory(shop=other, customer=treated[4], placed_at=NOW + timedelta(days=1))
    OrderFactory(shop=shop, customer=treated[5], placed_at=NOW + timedelta(days=1), status="cancelled")

    outcomes = arm_outcomes(email)
    variant = email.variants.get()

    assert outcomes[variant.pk].customers == len(treated) and outcomes[None].customers == len(control)
    assert outcomes[variant.pk].conversions == 2 and outcomes[variant.pk].revenue == 100.0
    assert outcomes[variant.pk].revenue_sq == 50.0**2 + 50.0**2
    assert outcomes[None].conversions == 1 and outcomes[None].revenue == 20.0


def test_the_report_compares_each_arm_with_the_holdout_and_says_when_data_is_short():
    shop = ShopFactory()
    email = an_email(shop, holdout=20, labels=("A", "B"))
    people = [CustomerFactory() for _ in range(300)]
    email_send(email=email, customer_ids=[p.pk for p in people], now=NOW)
    b = Send.objects.filter(email=email, variant__label="B").values_list("customer_id", flat=True)
    for customer_id in list(b)[::3]:  # a third of B buys
        OrderFactory(shop=shop, customer_id=customer_id, placed_at=NOW + timedelta(days=1), total=Decimal("30.00"))

    report = email_report(email)

    labels = [arm.label for arm in report.arms]
    assert labels == ["A", "B", "holdout"] and report.baseline == "holdout"
    a_arm, b_arm, holdout = report.arms
    assert holdout.conversion is None and holdout.chance_best is None
    assert a_arm.conversion.diff == 0 and not a_arm.conversion.significant
    assert b_arm.conversion.diff > 0.3 and b_arm.conversion.significant  # the interval leaves out zero
    assert b_arm.revenue.low > 0 and b_arm.revenue_text.startswith("10.")
    assert b_arm.chance_best > 0.99 and a_arm.chance_best < 0.01
    assert b_arm.conversion_diff_text.startswith("+3") and "pts [" in b_arm.conversion_diff_text
    # B is far ahead, but 20 % is the uplift asked for: each variant needs more customers.
    assert report.verdict.winner is None and report.verdict.reason.startswith("Not enough data yet")
    assert not report.sample_ratio.mismatch and report.window_hours == 120


def test_a_split_that_does_not_follow_the_weights_is_flagged():
    shop = ShopFactory()
    email = an_email(shop, holdout=0, labels=("A", "B"))
    people = [CustomerFactory() for _ in range(600)]
    email_send(email=email, customer_ids=[p.pk for p in people], now=NOW)
    # Half of B's sends lost (as a broken pass would).
    lost = list(Send.objects.filter(email=email, variant__label="B").values_list("pk", flat=True))[::2]
    Send.objects.filter(pk__in=lost).delete()

    assert email_report(email).sample_ratio.mismatch
