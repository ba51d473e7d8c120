"""The customers list filtered by when they bought and by predicted CLV (where the
dashboard's numbers lead): what it matches, and bad values named, never a 500."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from customers.models import CustomerMetrics, Order
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:customers_customer_changelist")


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00").replace(tzinfo=UTC)


@pytest.fixture
def people():
    web, eu = ShopFactory(slug="web"), ShopFactory(slug="eu")
    ann, bob, cat = (
        CustomerFactory(email="ann@x.io"),
        CustomerFactory(email="bob@x.io"),
        CustomerFactory(email="cat@x.io"),
    )
    OrderFactory(customer=ann, shop=web, placed_at=at("2026-01-05"))
    OrderFactory(customer=ann, shop=web, placed_at=at("2026-02-05"))
    OrderFactory(customer=ann, shop=web, placed_at=at("2026-02-06"))
    OrderFactory(customer=bob, shop=eu, placed_at=at("2026-02-10"))
    OrderFactory(customer=bob, shop=eu, placed_at=at("2026-02-10"))  # the same day
    OrderFactory(customer=cat, shop=web, placed_at=at("2026-02-11"), status=Order.Status.CANCELLED)
    for customer, clv in ((ann, 120.0), (bob, None)):
        CustomerMetrics.objects.create(
            customer=customer, computed_at=at("2026-03-01"), stage_since=at("2026-03-01"), clv_predicted=clv
        )
    return {"ann": ann, "bob": bob, "cat": cat, "web": web}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"bought": "2026-02-01..2026-02-28"}, {"ann", "bob"}),  # cat's order was cancelled
        ({"bought": "2026-02-01..2026-02-28", "not_bought": "..2026-01-31"}, {"bob"}),  # first bought in February
        ({"bought": "2026-01-01..2026-01-31,2026-02-01..2026-02-28"}, {"ann"}),  # in both months
        ({"bought": "2026-02-01..*2"}, {"ann"}),  # on two different days: bob's two orders are one day
        ({"bought": "2026-02-01..", "bought_shop": "WEB"}, {"ann"}),
        ({"clv": "100..250"}, {"ann"}),
        ({"clv": "none"}, {"bob"}),
    ],
)
def test_the_dashboards_filters_pick_the_customers_they_name(admin_client, people, params, expected):
    params = {name: str(people["web"].pk) if value == "WEB" else value for name, value in params.items()}
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert {c.email.split("@")[0] for c in response.context["cl"].result_list} == expected
    assert "Clear" in response.content.decode()  # the filter shows what it asked, with a way out


@pytest.mark.parametrize(
    "params",
    [
        {"bought": "yesterday"},
        {"bought": "2026-02-30..2026-03-01"},
        {"bought": "2026-03-01..2026-02-01"},
        {"not_bought": "2026-01-01..2026-01-31*2"},
        {"bought": ",".join(["2026-01-01..2026-01-31"] * 5)},
        {"bought_shop": "web"},
        {"clv": "lots"},
        {"clv": "1e999.."},
        {"clv": "NaN..1"},
    ],
)
def test_a_value_that_does_not_read_is_refused_as_a_bad_filter(admin_client, people, params):
    response = admin_client.get(URL, params)
    assert response.status_code == 302 and response.url.endswith("?e=1")
