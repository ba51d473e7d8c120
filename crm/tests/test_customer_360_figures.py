"""The figures of the customer 360 page as a person reads them: money with its currency and
thousands separators, P(alive) as a percentage (and not at all for one-time buyers), the
stage said once, and what each figure means one hover or click away."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from customers.models import CustomerMetrics, StageChange
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory, RefundFactory, ShopFactory, fitted_model

pytestmark = pytest.mark.django_db


def days_ago(n: int):
    return timezone.now() - timedelta(days=n)


def page_html(client, customer) -> str:
    response = client.get(reverse("admin:crm_customer360_change", args=[customer.pk]))
    assert response.status_code == 200
    return response.content.decode()


def text(html: str, element_id: str | None = None) -> str:
    """What a person reads: the text, white space folded. A figure's label (``<b>``) is a
    line of its own above the value: it reads as a separate word."""
    if element_id:
        match = re.search(rf'id="{element_id}"[^>]*>(.*?)</div>', html, re.S)
        assert match, element_id
        html = match.group(1).replace("</b>", "</b> ")
    return " ".join(strip_tags(html).split())


def title_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*title="([^"]*)"', html)
    assert match, element_id
    return match.group(1)


@pytest.fixture
def euro_customer():
    """Two orders at a euro shop (one partly refunded) and one in dollars, the base currency."""
    customer = CustomerFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    eu = ShopFactory(name="EU Store")
    first = OrderFactory(
        customer=customer,
        shop=eu,
        external_id="EU-1",
        placed_at=days_ago(60),
        currency="EUR",
        total=Decimal("1200.00"),
        total_base=Decimal("1296.00"),
        exchange_rate=Decimal("1.08"),
    )
    RefundFactory(order=first, amount=Decimal("200.00"), amount_base=Decimal("216.00"), refunded_at=days_ago(55))
    OrderFactory(
        customer=customer,
        shop=eu,
        placed_at=days_ago(30),
        currency="EUR",
        total=Decimal("100.00"),
        total_base=Decimal("108.00"),
        exchange_rate=Decimal("1.08"),
    )
    OrderFactory(customer=customer, placed_at=days_ago(3), currency="USD", total=Decimal("12.00"))
    fitted_model()
    customers_recompute(customer_ids=[customer.pk])
    return customer


def test_every_money_figure_names_its_currency_with_thousands_separators(admin_client, euro_customer):
    html = page_html(admin_client, euro_customer)

    # The customer's figures are in the base currency, converted at each order's rate…
    assert text(html, "fact-clv-historical").startswith("Historical CLV 1,200.00 USD over 3 orders")
    # …and say which currencies the money came in.
    assert text(html, "fact-clv-historical").endswith("paid as 1,100.00 EUR + 12.00 USD")
    assert text(html, "fact-aov") == "Average order 400.00 USD"
    metrics = CustomerMetrics.objects.get(customer=euro_customer)
    assert text(html, "fact-clv-predicted") == f"Predicted CLV, next 12 months {metrics.clv_predicted:,.2f} USD"
    assert text(html, "fact-clv-simple") == f"Simple CLV {metrics.clv_simple:,.2f} USD"
    # Orders and refunds in the timeline in their own currency.
    timeline = text(html.split('id="timeline"')[1])
    assert "Order EU-1 at EU Store: 1,200.00 EUR, Paid" in timeline
    assert "200.00 EUR on order EU-1" in timeline


def test_a_customer_paying_only_in_the_base_currency_gets_no_breakdown(admin_client):
    customer = CustomerFactory()
    OrderFactory(customer=customer, placed_at=days_ago(3), total=Decimal("2500.00"))
    customers_recompute(customer_ids=[customer.pk])

    html = page_html(admin_client, customer)

    assert text(html, "fact-clv-historical") == "Historical CLV 2,500.00 USD over 1 order"
    assert "paid as" not in html


def test_each_figure_says_what_it_is_on_hover_and_the_page_says_why_the_clvs_differ(admin_client, euro_customer):
    html = page_html(admin_client, euro_customer)

    assert "converted to USD at its exchange rate" in title_of(html, "fact-clv-historical")
    assert "in the coming 12 months" in title_of(html, "fact-clv-predicted")
    assert "BG/NBD" in title_of(html, "fact-clv-predicted")
    assert "× 3 years" in title_of(html, "fact-clv-simple")
    assert "still buying" in title_of(html, "fact-p-alive")
    for element in ("fact-rfm", "fact-aov", "fact-last-order", "c360-loyalty", "c360-stage"):
        assert title_of(html, element)
    about = text(re.search(r'<details id="c360-about">(.*?)</details>', html, re.S).group(1))
    assert about.startswith("What these figures mean, and why the three CLVs differ")
    assert "Historical is the past: money already received" in about
    assert "Predicted is the next 12 months only" in about


def test_p_alive_is_a_percentage_for_repeat_buyers(admin_client, euro_customer):
    html = page_html(admin_client, euro_customer)

    p_alive = CustomerMetrics.objects.get(customer=euro_customer).p_alive
    assert text(html, "fact-p-alive") == f"P(alive) {round(p_alive * 100)}%"
    assert text(html, "fact-last-order").endswith("(3 days ago)")


def test_a_lapsed_one_time_buyer_reads_not_estimated_instead_of_p_alive_1(admin_client):
    fitted_model()
    customer = CustomerFactory()
    OrderFactory(customer=customer, placed_at=days_ago(400), total=Decimal("80.00"))
    customers_recompute(customer_ids=[customer.pk])
    assert CustomerMetrics.objects.get(customer=customer).p_alive == 1.0  # what BG/NBD says, by construction

    html = page_html(admin_client, customer)

    assert text(html, "fact-p-alive") == "P(alive) not estimated for one-time buyers"
    stage = text(re.search(r'<p id="c360-stage-line">(.*?)</p>', html, re.S).group(1))
    assert stage == "Lapsed: last order 400 days ago; lapsed after 365 days without one"
    assert "P(alive)" not in stage  # 1 by construction: it would contradict "Lapsed"


def test_the_stage_is_said_once_even_in_reasons_stored_before_the_fix(admin_client):
    customer = CustomerFactory()
    for age in (70, 60, 50):
        OrderFactory(customer=customer, placed_at=days_ago(age))
    customers_recompute(customer_ids=[customer.pk])
    StageChange.objects.create(
        customer=customer,
        from_stage="active",
        to_stage="at_risk",
        changed_at=days_ago(1),
        reason="at risk: last order 49 days ago; usually orders every 10 days; P(alive) 0.31",
    )

    html = page_html(admin_client, customer)

    stage = text(re.search(r'<p id="c360-stage-line">(.*?)</p>', html, re.S).group(1))
    assert stage == "At risk: last order 50 days ago; usually orders every 10 days"
    timeline = text(html.split('id="timeline"')[1])
    assert "Active → At risk: last order 49 days ago;" in timeline
    assert "at risk: at risk" not in timeline.lower()
