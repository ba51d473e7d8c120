"""orders_ingest and the aggregates, below the API."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.chunks import id_ranges
from customers.models import Customer, ExchangeRate, Order
from customers.services.customers import CustomerData
from customers.services.orders import LineData, OrderData, Outcome, order_check, orders_ingest
from customers.services.recompute import customers_recompute, customers_recompute_range
from customers.tests.factories import CustomerFactory, OrderFactory, RefundFactory, ShopFactory

WHEN = datetime(2026, 1, 2, 10, tzinfo=UTC)


def order(external_id="1", total="10.00", currency="USD", **kwargs) -> OrderData:
    return OrderData(
        external_id=external_id,
        placed_at=kwargs.pop("placed_at", WHEN),
        currency=currency,
        total=Decimal(total),
        customer=kwargs.pop("customer", CustomerData(external_id="c1", email="a@example.com")),
        **kwargs,
    )


@pytest.mark.django_db
class TestIngest:
    def test_outcomes_created_unchanged_updated(self):
        shop = ShopFactory()
        assert orders_ingest(shop=shop, orders=[order()])[0].outcome == Outcome.CREATED
        assert orders_ingest(shop=shop, orders=[order()])[0].outcome == Outcome.UNCHANGED
        assert orders_ingest(shop=shop, orders=[order(status="cancelled")])[0].outcome == Outcome.UPDATED
        assert Order.objects.get().status == "cancelled"

    def test_a_new_customer_name_fills_in_but_never_switches_the_email(self):
        shop = ShopFactory()
        orders_ingest(shop=shop, orders=[order()])
        orders_ingest(
            shop=shop,
            orders=[order("2", customer=CustomerData(external_id="c1", email="other@example.com", first_name="Al"))],
        )

        customer = Customer.objects.get()
        assert (customer.email_normalized, customer.first_name) == ("a@example.com", "Al")

    def test_many_orders_of_one_new_customer_in_one_batch_make_one_customer(self):
        shop = ShopFactory()
        results = orders_ingest(shop=shop, orders=[order(str(i)) for i in range(5)])

        assert {r.order.customer_id for r in results} == {Customer.objects.get().pk}


@pytest.mark.django_db
def test_aggregates_exclude_cancelled_and_subtract_refunds_in_base_currency():
    customer = CustomerFactory()
    kept = OrderFactory(
        customer=customer,
        total=Decimal("100.00"),
        total_base=Decimal("110.00"),
        currency="EUR",
        placed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    OrderFactory(
        customer=customer,
        total=Decimal("40.00"),
        total_base=Decimal("40.00"),
        placed_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    OrderFactory(
        customer=customer, status="cancelled", total_base=Decimal("999.00"), placed_at=datetime(2026, 5, 1, tzinfo=UTC)
    )
    RefundFactory(order=kept, amount=Decimal("10.00"), amount_base=Decimal("11.00"))
    RefundFactory(order=kept, amount=Decimal("5.00"), amount_base=Decimal("5.50"))
    untouched = CustomerFactory()

    assert customers_recompute(customer_ids=[customer.pk]) == 1

    customer.refresh_from_db()
    assert customer.orders_count == 2
    assert customer.net_revenue == Decimal("133.50")
    assert customer.avg_order_value == Decimal("66.75")
    assert customer.first_order_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert customer.last_order_at == datetime(2026, 3, 1, tzinfo=UTC)
    untouched.refresh_from_db()
    assert untouched.aggregates_updated_at is None


@pytest.mark.django_db
def test_full_recompute_ranges_cover_every_customer_once():
    customers = CustomerFactory.create_batch(7)
    for c in customers:
        OrderFactory(customer=c)

    ranges = id_ranges(Customer, size=3)
    updated = sum(customers_recompute_range(first_id=a, last_id=b) for a, b in ranges)

    assert updated == 7
    assert set(Customer.objects.values_list("orders_count", flat=True)) == {1}


cents = st.integers(min_value=0, max_value=10_000_00).map(lambda c: Decimal(c) / 100)


@given(
    lines=st.lists(st.tuples(st.integers(1, 20), cents), min_size=1, max_size=6),
    discount=cents,
    shipping=cents,
    tax=cents,
    error=st.integers(min_value=-500, max_value=500),
)
def test_totals_check_accepts_exactly_the_orders_that_add_up(lines, discount, shipping, tax, error):
    subtotal = sum((q * p for q, p in lines), Decimal(0))
    total = subtotal - discount + shipping + tax + Decimal(error) / 100
    assume(total >= 0)
    data = order(
        total=str(total),
        lines=tuple(LineData(name="x", quantity=q, unit_price=p) for q, p in lines),
        discount_total=discount,
        shipping_total=shipping,
        tax_total=tax,
    )
    errors = order_check(data, {"USD": Decimal(1)})

    # One cent of rounding is tolerated; anything more is reported on the total.
    assert (errors == {}) == (abs(error) <= 1), errors
    assert errors == {} or list(errors) == ["total"]


@pytest.mark.django_db
def test_an_unknown_currency_is_reported_not_written():
    ExchangeRate.objects.create(currency="EUR", rate_to_base=Decimal("1.1"))
    results = orders_ingest(shop=ShopFactory(), orders=[order(currency="EUR"), order("2", currency="CHF")])

    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.ERROR]
    assert "currency" in results[1].errors
    assert Order.objects.count() == 1


@pytest.mark.django_db
class TestEmailFillIn:
    def test_a_customer_known_by_id_only_gets_the_email_when_one_arrives(self):
        shop = ShopFactory()
        orders_ingest(shop=shop, orders=[order(customer=CustomerData(external_id="c9"))])
        orders_ingest(shop=shop, orders=[order("2", customer=CustomerData(external_id="c9", email=" Zoe@Example.com"))])

        customer = Customer.objects.get()
        assert (customer.email, customer.email_normalized) == ("Zoe@Example.com", "zoe@example.com")

    def test_an_email_another_customer_has_is_not_taken(self):
        shop = ShopFactory()
        orders_ingest(shop=shop, orders=[order(customer=CustomerData(external_id="c9"))])
        other = CustomerFactory(email="taken@example.com", email_normalized="taken@example.com")

        results = orders_ingest(
            shop=shop, orders=[order("2", customer=CustomerData(external_id="c9", email="taken@example.com"))]
        )

        assert results[0].outcome == Outcome.CREATED
        assert results[0].order.customer_id != other.pk
        assert Customer.objects.get(pk=results[0].order.customer_id).email_normalized is None
