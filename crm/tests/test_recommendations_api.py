"""GET /api/v1/customers/{id}/recommendations: the key's shop's products, for its customers only."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.recommendations.build import recommendations_build
from crm.tests.api_ids import api_id
from customers.models import Product
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, OrderLineFactory
from messaging.services import message_queue

pytestmark = pytest.mark.django_db


def buy(shop, customer, *skus, days_ago=1):
    order = OrderFactory(shop=shop, customer=customer, placed_at=timezone.now() - timedelta(days=days_ago))
    for sku in skus:
        product, _ = Product.objects.get_or_create(
            shop=shop,
            sku=sku,
            defaults={"name": sku.title(), "category": "kitchen", "price": Decimal("12.50"), "currency": "USD"},
        )
        OrderLineFactory(order=order, product=product, sku=sku, name=product.name)


@pytest.fixture
def ann(shop):
    for _ in range(3):
        buy(shop, CustomerFactory(), "kettle", "mug", "spoon")
    customer = CustomerFactory()
    IdentityFactory(shop=shop, customer=customer)
    buy(shop, customer, "kettle")
    Product.objects.filter(shop=shop, sku="mug").update(url="https://shop.example/mug")
    recommendations_build(shop_id=shop.pk)
    return customer


def test_a_storefront_reads_a_customers_recommendations(api, shop, ann, django_assert_num_queries):
    ref = api_id(shop, ann)
    # The key and its last use (2), the customer through the key, then her purchases, their
    # neighbours, the popular products and the chosen products' details.
    with django_assert_num_queries(7):
        response = api.get(f"/api/v1/customers/{ref}/recommendations")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer_id"] == api_id(shop, ann)
    assert [(p["sku"], p["reason"]) for p in body["products"]] == [
        ("mug", "bought_together"),
        ("spoon", "bought_together"),
    ]
    assert body["products"][0] | {"score": 0} == {
        "sku": "mug",
        "name": "Mug",
        "category": "kitchen",
        "price": "12.50",
        "currency": "USD",
        "url": "https://shop.example/mug",
        "reason": "bought_together",
        "score": 0,
    }
    limited = api.get(f"/api/v1/customers/{api_id(shop, ann)}/recommendations?limit=1")
    assert [p["sku"] for p in limited.json()["products"]] == ["mug"]


@pytest.mark.parametrize("limit", ["0", "51", "x", "-1"])
def test_a_bad_limit_is_a_400_naming_it(api, shop, ann, limit):
    response = api.get(f"/api/v1/customers/{api_id(shop, ann)}/recommendations?limit={limit}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["limit"]


def test_another_shops_key_gets_404_and_never_sees_this_shops_products(api, other_api, shop, ann):
    ref = api_id(shop, ann)

    assert other_api.get(f"/api/v1/customers/{ref}/recommendations").status_code == 404
    assert api.get("/api/v1/customers/999999999/recommendations").status_code == 404


def test_a_customer_of_this_shop_who_buys_elsewhere_gets_only_this_shops_products(api, shop, ann):
    from customers.models import Shop

    other = Shop.objects.create(slug="elsewhere", name="Elsewhere")
    for _ in range(2):
        buy(other, CustomerFactory(), "kettle", "teapot")
    buy(other, ann, "kettle", days_ago=0)
    recommendations_build(shop_id=other.pk)

    products = api.get(f"/api/v1/customers/{api_id(shop, ann)}/recommendations").json()["products"]

    assert {p["sku"] for p in products} == {"mug", "spoon"}


def test_the_schema_describes_the_endpoint(api):
    schema = api.get("/api/v1/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/customers/{id}/recommendations"]["get"]
    assert operation["operationId"] == "customers_recommendations"
    assert {"200", "400", "401", "404"} <= set(operation["responses"])


def test_an_email_to_the_customer_carries_their_recommended_products(shop, ann):
    body = "{% for product in recommended_products %}<p>{{ product.name }}</p>{% endfor %}"
    message = message_queue(
        key="reco",
        template="authored",
        kind="marketing",
        customer_id=ann.pk,
        context={"authored": {"subject": "For you", "body": body}},
    )
    receipt = message_queue(key="receipt", template="test", customer_id=ann.pk)

    assert "recommended_products" not in receipt.context  # its template prints none: not worked out
    assert message.context["recommended_products"] == [
        {"name": "Mug", "sku": "mug", "price": "12.50", "currency": "USD", "url": "https://shop.example/mug"},
        {"name": "Spoon", "sku": "spoon", "price": "12.50", "currency": "USD"},
    ]
