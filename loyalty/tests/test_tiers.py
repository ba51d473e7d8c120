"""Tiers: up as soon as a threshold is reached, down only after the grace, every move
stored with its reason in words."""

from datetime import timedelta
from decimal import Decimal

import pytest

from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory
from loyalty.models import Account, PointsEntry, TierBasis, TierChange, TierTerm
from loyalty.tests.conftest import NOW
from loyalty.tiers import tiers_evaluate_range

pytestmark = pytest.mark.django_db


def evaluate(now=NOW) -> int:
    return tiers_evaluate_range(1, 10**9, now=now)


def shop_of(customer):
    """The one shop (and so the one group) a customer of these tests shops in."""
    if customer.first_seen_shop_id is None:
        customer.first_seen_shop = ShopFactory()
        customer.save(update_fields=["first_seen_shop"])
    return customer.first_seen_shop


def spend(customer, amount, days_ago=10):
    OrderFactory(
        customer=customer, shop=shop_of(customer), total=Decimal(amount), placed_at=NOW - timedelta(days=days_ago)
    )


def tier_of(customer) -> str | None:
    account = Account.objects.select_related("tier").get(customer=customer)
    return account.tier.name if account.tier else None


def test_reaching_a_threshold_moves_a_customer_up_with_the_reason(programme, tiers):
    ann, bob, cy = CustomerFactory(), CustomerFactory(), CustomerFactory()
    spend(ann, "600.00")
    spend(bob, "700.00")
    spend(bob, "540.50")
    spend(cy, "120.00")

    assert evaluate() == 2

    assert (tier_of(ann), tier_of(bob)) == ("Silver", "Gold")
    assert not Account.objects.filter(customer=cy, tier__isnull=False).exists()
    change = TierChange.objects.get(customer=bob)
    assert (change.from_tier, change.to_tier.name) == (None, "Gold")
    assert change.reason == "spent 1,240.50 in the last 12 months; Gold starts at 1,000"
    assert Account.objects.get(customer=cy).tier_qualifying == Decimal("120.00")


def test_a_second_run_changes_nothing(programme, tiers):
    spend(CustomerFactory(), "600.00")
    evaluate()

    assert evaluate() == 0
    assert TierChange.objects.count() == 1


def test_only_spend_inside_the_term_counts(programme, tiers):
    ann = CustomerFactory()
    spend(ann, "900.00", days_ago=400)
    spend(ann, "100.00")
    evaluate()
    assert tier_of(ann) is None

    programme.tier_term = TierTerm.LIFETIME
    programme.save()
    evaluate()
    assert tier_of(ann) == "Gold"


def test_refunds_shipping_and_tax_do_not_count(programme, tiers):
    ann = CustomerFactory()
    OrderFactory(
        customer=ann,
        total=Decimal("700.00"),
        shipping_total=Decimal("50.00"),
        tax_total=Decimal("50.00"),
        refunded_base=Decimal("150.00"),
        placed_at=NOW - timedelta(days=3),
    )
    evaluate()

    assert tier_of(ann) is None
    assert Account.objects.get(customer=ann).tier_qualifying == Decimal("450.00")


def test_below_the_keep_threshold_a_customer_keeps_the_tier_through_the_grace(programme, tiers):
    programme.tier_grace_days = 30
    programme.save()
    ann = CustomerFactory()
    spend(ann, "1000.00", days_ago=300)
    evaluate(NOW - timedelta(days=290))
    assert tier_of(ann) == "Gold"

    evaluate()  # the order is still inside 12 months: kept
    spend_dropped_out = NOW + timedelta(days=70)  # the 1,000 left the window
    spend(ann, "700.00", days_ago=-60)  # bought again later: 700, under Gold's 800 to keep
    evaluate(spend_dropped_out)
    account = Account.objects.get(customer=ann)
    assert tier_of(ann) == "Gold"
    assert account.tier_grace_until == spend_dropped_out + timedelta(days=30)

    evaluate(spend_dropped_out + timedelta(days=31))
    assert tier_of(ann) == "Silver"
    change = TierChange.objects.filter(customer=ann).first()
    assert change.reason == (
        "spent 700.00 in the last 12 months, below the 800 that keeps Gold, after 30 days' grace; "
        "Silver is kept from 400"
    )
    assert Account.objects.get(customer=ann).tier_grace_until is None


def test_back_above_the_keep_threshold_the_grace_is_lifted(programme, tiers):
    ann = CustomerFactory()
    Account.objects.create(
        customer=ann, group=shop_of(ann).group, tier=tiers["gold"], tier_grace_until=NOW + timedelta(days=5)
    )
    spend(ann, "850.00")

    evaluate()

    account = Account.objects.get(customer=ann)
    assert (tier_of(ann), account.tier_grace_until) == ("Gold", None)
    assert not TierChange.objects.exists()


def test_tiers_can_qualify_on_points_earned(programme, tiers):
    programme.tier_basis = TierBasis.POINTS
    programme.save()
    ann = CustomerFactory()
    Account.objects.create(customer=ann, group=shop_of(ann).group)
    PointsEntry.objects.create(
        customer=ann, group=shop_of(ann).group, kind="earn", pending=650, key="k1", source="order:1"
    )
    PointsEntry.objects.create(
        customer=ann, group=shop_of(ann).group, kind="cancel", pending=-100, key="k2", source="order:1"
    )

    evaluate()

    assert tier_of(ann) == "Silver"
    assert TierChange.objects.get().reason == "earned 550 points in the last 12 months; Silver starts at 500"
