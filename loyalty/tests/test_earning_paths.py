"""The award (one queryset: an ``INSERT … SELECT`` on PostgreSQL, read and posted on SQLite)
writes the ledger that the rule written plainly in Python (``award_oracle``, the award as it
was per order) writes for the same orders: the same points, roundings, multipliers, bonuses,
give-backs and maturations, per shop group. Each example gives two customers the same orders
(in two shops of different groups), awards one each way, refunds or cancels some orders,
awards again after the return window, and compares. On both databases."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory
from loyalty.earning import orders_award
from loyalty.models import Account, EarningRule, PointsEntry, Rounding, RuleKind, RuleTierMultiplier
from loyalty.tests.award_oracle import orders_award_oracle
from loyalty.tests.conftest import NOW

pytestmark = pytest.mark.django_db

ORDER = st.fixed_dictionaries(
    {
        "days_ago": st.integers(0, 90),  # the programme started 60 days ago
        "shop": st.integers(0, 1),  # which of two shops (each in a group of its own)
        "status": st.sampled_from(["paid", "paid", "fulfilled", "placed", "cancelled", "refunded"]),
        "cents": st.integers(0, 50_000),
        "shipping_cents": st.integers(0, 2_000),
        "tax_cents": st.integers(0, 2_000),
        "rate": st.sampled_from(["1", "1.2345", "0.8765"]),
        # What happens after the first award: nothing, a refund of this share, or a cancellation.
        "later": st.one_of(st.none(), st.just("cancel"), st.integers(1, 100)),
    }
)
RULES = st.fixed_dictionaries(
    {
        "per_unit": st.sampled_from(["0.5", "1", "1.25", "2.3333"]),
        "rounding": st.sampled_from(Rounding.values),
        "bonus": st.sampled_from([0, 50, 75]),
        "valid_from_days_ago": st.one_of(st.none(), st.integers(0, 90)),
        "gold_spend_multiplier": st.one_of(st.none(), st.sampled_from(["1.5", "3"])),
    }
)


def _rules(spec) -> EarningRule:
    EarningRule.objects.update(is_active=False)  # an earlier example's rules
    valid_from = NOW - timedelta(days=spec["valid_from_days_ago"]) if spec["valid_from_days_ago"] is not None else None
    spend = EarningRule.objects.create(
        name="spend",
        kind=RuleKind.SPEND,
        points_per_unit=Decimal(spec["per_unit"]),
        rounding=spec["rounding"],
        valid_from=valid_from,
    )
    if spec["bonus"]:
        EarningRule.objects.create(name="welcome", kind=RuleKind.FIRST_ORDER, points=spec["bonus"])
    return spend


def _customer_with(orders, shops, tier):
    """A customer with these orders; ``tier`` is theirs in the first shop's group only."""
    shops = shops if isinstance(shops, list) else [shops]
    customer = CustomerFactory()
    Account.objects.create(customer=customer, group=shops[0].group, tier=tier)
    made = []
    for o in orders:
        rate = Decimal(o["rate"])
        total = Decimal(o["cents"] + o["shipping_cents"] + o["tax_cents"]) / 100
        made.append(
            OrderFactory(
                shop=shops[o.get("shop", 0)],
                customer=customer,
                placed_at=NOW - timedelta(days=o["days_ago"], hours=1),
                status=o["status"],
                total=total,
                shipping_total=Decimal(o["shipping_cents"]) / 100,
                tax_total=Decimal(o["tax_cents"]) / 100,
                exchange_rate=rate,
                total_base=(total * rate).quantize(Decimal("0.01")),
            )
        )
    return customer, made


def _later(orders, plans) -> None:
    for order, plan in zip(orders, plans, strict=True):
        if plan["later"] == "cancel":
            order.status = "cancelled"
        elif plan["later"] is not None:
            order.refunded_base = (order.total_base * plan["later"] / 100).quantize(Decimal("0.01"))
        order.save()


def _ledger(customer, orders) -> list[tuple]:
    """The customer's entries, with order and customer ids replaced by their places."""
    index = {o.id: i for i, o in enumerate(orders)}
    rows = []
    for e in PointsEntry.objects.filter(customer=customer).order_by("id"):
        key = e.key.replace(f"customer:{customer.id}:", "customer:#:")
        if e.order_id is not None:
            key = key.replace(f"order:{e.order_id}:", f"order:#{index[e.order_id]}:")
        row = (e.group_id, e.kind, e.available, e.pending, e.rule_id, index.get(e.order_id), e.basis, e.matures_at)
        rows.append((*row, key))
    accounts = Account.objects.filter(customer=customer).order_by("group_id")
    return sorted(rows, key=repr) + [(a.group_id, a.balance, a.pending) for a in accounts]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(ORDER, min_size=1, max_size=5), rules=RULES, tier=st.sampled_from([None, "silver", "gold"]))
def test_the_award_writes_what_the_rule_written_per_order_writes(programme, tiers, orders, rules, tier):
    spend = _rules(rules)
    if rules["gold_spend_multiplier"]:
        RuleTierMultiplier.objects.update_or_create(
            rule=spend, tier=tiers["gold"], defaults={"multiplier": Decimal(rules["gold_spend_multiplier"])}
        )
    shops = [ShopFactory(), ShopFactory()]
    tier_row = tiers[tier] if tier else None
    awarded, awarded_orders = _customer_with(orders, shops, tier_row)
    expected, expected_orders = _customer_with(orders, shops, tier_row)

    orders_award([awarded.id], now=NOW)
    orders_award_oracle([expected.id], now=NOW)
    assert _ledger(awarded, awarded_orders) == _ledger(expected, expected_orders)

    _later(awarded_orders, orders)
    _later(expected_orders, orders)
    after_window = NOW + timedelta(days=15)
    orders_award([awarded.id], now=after_window)
    orders_award_oracle([expected.id], now=after_window)
    assert _ledger(awarded, awarded_orders) == _ledger(expected, expected_orders)


def test_the_award_earns_on_the_net_amount_with_the_tier_multiplier(programme, tiers):
    """A fixed case, so the comparison above cannot pass with both ways wrong the same way."""
    shop = ShopFactory()
    customer, (order,) = _customer_with(
        [{"days_ago": 3, "status": "paid", "cents": 10_001, "shipping_cents": 500, "tax_cents": 800, "rate": "1"}],
        shop,
        tiers["silver"],
    )

    assert orders_award([customer.id], now=NOW) == 2

    earns = {e.rule.kind: e for e in PointsEntry.objects.filter(customer=customer)}
    # 100.01 net × 1 point × Silver's 1.5 = 150.015, rounded down; the welcome 50 × 1.5.
    assert (earns["spend"].pending, earns["spend"].basis) == (150, Decimal("100.01"))
    assert earns["first_order"].pending == 75
    assert earns["spend"].matures_at == order.placed_at + timedelta(days=14)
    assert earns["spend"].key == f"order:{order.id}:rule:{earns['spend'].rule_id}:earn"
    assert earns["first_order"].key == (
        f"first_order:customer:{customer.id}:group:{shop.group_id}:rule:{earns['first_order'].rule_id}"
    )
    assert Account.objects.get(customer=customer).pending == 225
    assert orders_award([customer.id], now=NOW) == 0


@pytest.mark.parametrize(
    ("cents", "per_unit", "rounding", "points"),
    [
        # In binary floating point (SQLite's arithmetic) 1.15 × 100 is 114.99999999999999.
        (115, "100", Rounding.DOWN, 115),
        (29, "100", Rounding.DOWN, 29),
        # 0.05 × 2.3333 = 0.116665 up is 1; 2.15 × 0.5 = 1.075 to the nearest is 1, and 1.05 × 0.5 rounds half up to 1.
        (5, "2.3333", Rounding.UP, 1),
        (215, "0.5", Rounding.NEAREST, 1),
        (105, "0.5", Rounding.NEAREST, 1),
        (100, "0.5", Rounding.NEAREST, 1),
    ],
)
def test_points_are_exact_decimal_arithmetic_on_either_database(programme, cents, per_unit, rounding, points):
    EarningRule.objects.filter(kind=RuleKind.SPEND).update(points_per_unit=Decimal(per_unit), rounding=rounding)
    EarningRule.objects.filter(kind=RuleKind.FIRST_ORDER).update(is_active=False)
    order = {"days_ago": 3, "status": "paid", "cents": cents, "shipping_cents": 0, "tax_cents": 0, "rate": "1"}
    customer, _ = _customer_with([order], ShopFactory(), None)

    orders_award([customer.id], now=NOW)

    assert PointsEntry.objects.get(customer=customer).pending == points


def test_the_net_amount_rounds_half_up_to_the_cent(programme):
    """10.00 with 0.50 of tax at 1.03: 10.00 − 0.515 = 9.485, kept as 9.49 (half up; halves to
    even would keep 9.48), so at 100 points per unit 949 points, not 948."""
    EarningRule.objects.filter(kind=RuleKind.SPEND).update(points_per_unit=Decimal(100))
    EarningRule.objects.filter(kind=RuleKind.FIRST_ORDER).update(is_active=False)
    customer = CustomerFactory()
    OrderFactory(
        customer=customer,
        placed_at=NOW - timedelta(days=3),
        status="paid",
        total=Decimal("10.00"),
        tax_total=Decimal("0.50"),
        shipping_total=Decimal(0),
        exchange_rate=Decimal("1.03"),
        total_base=Decimal("10.00"),
    )

    orders_award([customer.id], now=NOW)

    entry = PointsEntry.objects.get(customer=customer)
    assert (entry.basis, entry.pending) == (Decimal("9.49"), 949)
