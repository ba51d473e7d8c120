"""POST /api/v1/products: the shop's catalogue, with what recommendations need to know."""

from decimal import Decimal

import pytest

from customers.models import Product
from customers.tests.factories import ExchangeRateFactory

pytestmark = pytest.mark.django_db


def test_products_are_added_and_changed_by_sku_keeping_what_is_left_out(api, shop, other_api):
    ExchangeRateFactory(currency="EUR", rate_to_base=Decimal("1.10"))
    Product.objects.create(shop=shop, sku="tea", name="Tea", category="drinks", price=Decimal("4.00"))

    response = api.post(
        "/api/v1/products",
        {
            "products": [
                {"sku": "tea", "in_stock": False, "replenish_days": 30},
                {
                    "sku": "kettle",
                    "name": "Kettle",
                    "price": "39.90",
                    "currency": "eur",
                    "url": "https://shop.example/kettle",
                    "is_active": False,
                },
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"created": ["kettle"], "updated": ["tea"]}
    tea, kettle = Product.objects.get(sku="tea"), Product.objects.get(sku="kettle")
    assert (tea.name, tea.category, tea.price, tea.in_stock, tea.is_active, tea.replenish_days) == (
        "Tea",
        "drinks",
        Decimal("4.00"),
        False,
        True,
        30,
    )
    assert (kettle.shop_id, kettle.name, kettle.price, kettle.currency, kettle.url, kettle.is_active) == (
        shop.pk,
        "Kettle",
        Decimal("39.90"),
        "EUR",
        "https://shop.example/kettle",
        False,
    )
    assert (kettle.in_stock, kettle.replenish_days) == (True, None)

    # null: no longer consumable; another shop's same sku is its own product.
    api.post("/api/v1/products", {"products": [{"sku": "tea", "replenish_days": None}]}, format="json")
    other_api.post("/api/v1/products", {"products": [{"sku": "tea", "replenish_days": 7}]}, format="json")
    assert Product.objects.get(shop=shop, sku="tea").replenish_days is None
    assert Product.objects.exclude(shop=shop).get(sku="tea").replenish_days == 7


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"sku": "a", "replenish_days": 0}, "products[0].replenish_days"),
        ({"sku": "a", "replenish_days": 5000}, "products[0].replenish_days"),
        ({"sku": "a", "in_stock": "yes"}, "products[0].in_stock"),
        ({"sku": "a", "url": "javascript:alert(1)"}, "products[0].url"),
        ({"sku": "a", "price": "-1.00"}, "products[0].price"),
        ({"sku": "a", "price": 3.5}, "products[0].price"),
        ({"sku": ""}, "products[0].sku"),
        ({"sku": "a", "currency": "euro"}, "products[0].currency"),
        ({"sku": "a", "currency": "ZZZ", "price": "5.00"}, "products[0].currency"),  # no exchange rate
    ],
)
def test_a_bad_product_is_a_400_naming_the_field_and_nothing_is_written(api, item, field):
    response = api.post("/api/v1/products", {"products": [{"sku": "ok"}, item]}, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field.replace("[0]", "[1]")]
    assert not Product.objects.exists()


def test_the_same_sku_twice_is_a_400(api):
    response = api.post("/api/v1/products", {"products": [{"sku": "a"}, {"sku": "a"}]}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["products[1].sku"]
