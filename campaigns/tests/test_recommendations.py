"""Product recommendations: the nightly build, a customer's list, the held-out check."""

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from campaigns.models import PopularProduct, ProductNeighbour, RecommendationBuild
from campaigns.recommendations import build as build_module
from campaigns.recommendations.build import ShopLines, recommendations_build
from campaigns.recommendations.evaluation import hit_rate, shop_hit_rate
from campaigns.recommendations.selectors import recommendations_for, recommended_products
from campaigns.tasks import build_recommendations
from customers.models import Order, Product
from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ShopFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def product(shop, sku, category="mugs", **fields):
    defaults = {"name": sku.title(), "category": category, "price": Decimal("10.00"), "currency": "EUR"} | fields
    return Product.objects.get_or_create(shop=shop, sku=sku, defaults=defaults)[0]


def buy(shop, customer, *skus, days_ago=0, status=Order.Status.PAID):
    order = OrderFactory(shop=shop, customer=customer, placed_at=NOW - timedelta(days=days_ago), status=status)
    for sku in skus:
        found = Product.objects.get(shop=shop, sku=sku)
        OrderLineFactory(order=order, product=found, sku=sku, name=found.name)
    return order


def skus(customer, shop=None, **kwargs):
    return [
        item.sku
        for item in recommendations_for(customer_ids=[customer.pk], shop_id=shop and shop.pk, **kwargs)[customer.pk]
    ]


@pytest.fixture
def shop():
    shop = ShopFactory()
    for sku in ("kettle", "mug", "tea", "spoon", "plate"):
        product(shop, sku)
    return shop


@pytest.fixture
def together(shop):
    """Three customers bought a kettle with a mug, two a spoon with a plate, one a mug alone."""
    for _ in range(3):
        buy(shop, CustomerFactory(), "kettle", "mug", days_ago=5)
    for _ in range(2):
        buy(shop, CustomerFactory(), "spoon", "plate", days_ago=5)
    buy(shop, CustomerFactory(), "mug", days_ago=5)
    return shop


def test_a_customer_who_bought_a_kettle_is_offered_the_mug_others_bought_with_it(together):
    ann = CustomerFactory()
    buy(together, ann, "kettle", days_ago=1)
    recommendations_build(shop_id=together.pk, now=NOW)

    items = recommendations_for(customer_ids=[ann.pk], shop_id=together.pk, now=NOW)[ann.pk]

    assert [(i.sku, i.reason) for i in items][:1] == [("mug", "bought_together")]
    assert "kettle" not in [i.sku for i in items]  # bought already, not consumable
    # Then the shop's most popular products she has not bought (no other neighbour).
    assert [(i.sku, i.reason) for i in items[1:]] == [
        ("spoon", "popular_in_category"),  # ties with the plate: the lower id first
        ("plate", "popular_in_category"),
    ]
    assert items[0].price == Decimal("10.00") and items[0].currency == "EUR"


def test_the_build_stores_neighbours_both_ways_and_popular_products_by_category(together):
    result = recommendations_build(shop_id=together.pk, now=NOW)

    kettle, mug, spoon, plate = (Product.objects.get(shop=together, sku=s) for s in ("kettle", "mug", "spoon", "plate"))
    pairs = set(ProductNeighbour.objects.filter(shop=together).values_list("product_id", "neighbour_id", "rank"))
    assert pairs == {(kettle.pk, mug.pk, 1), (mug.pk, kettle.pk, 1), (spoon.pk, plate.pk, 1), (plate.pk, spoon.pk, 1)}
    # cosine 3w² / √(3w²·4w²) shrunk by 3w² / (3w² + 5), w the weight of a purchase 5 days old
    score = ProductNeighbour.objects.get(product=kettle).score
    w2 = 0.5 ** (2 * 5 / 180)
    assert score == pytest.approx(3 / np.sqrt(12) * 3 * w2 / (3 * w2 + 5), rel=1e-4)
    popular = list(
        PopularProduct.objects.filter(shop=together).order_by("rank").values_list("product__sku", "rank", "shop_rank")
    )
    assert popular == [("mug", 1, 1), ("kettle", 2, 2), ("spoon", 3, 3), ("plate", 4, 4)]
    assert (result.lines, result.customers, result.products, result.neighbours) == (11, 6, 4, 4)
    assert RecommendationBuild.objects.get(shop=together).neighbours == 4


def test_a_consumable_comes_back_when_due_and_not_before(shop):
    tea = Product.objects.get(shop=shop, sku="tea")
    tea.replenish_days = 30
    tea.save()
    due, early = CustomerFactory(), CustomerFactory()
    buy(shop, due, "tea", days_ago=40)
    buy(shop, early, "tea", days_ago=10)
    recommendations_build(shop_id=shop.pk, now=NOW)

    lists = recommendations_for(customer_ids=[due.pk, early.pk], shop_id=shop.pk, now=NOW)

    assert [(i.sku, i.reason) for i in lists[due.pk]] == [("tea", "due_again")]
    assert lists[early.pk] == []  # nothing else was ever bought in this shop


def test_out_of_stock_and_inactive_products_are_left_out_at_once_without_a_rebuild(together):
    ann = CustomerFactory()
    buy(together, ann, "kettle", days_ago=1)
    recommendations_build(shop_id=together.pk, now=NOW)
    assert skus(ann, together, now=NOW) == ["mug", "spoon", "plate"]

    Product.objects.filter(shop=together, sku="mug").update(in_stock=False)
    Product.objects.filter(shop=together, sku="plate").update(is_active=False)

    assert skus(ann, together, now=NOW) == ["spoon"]


def test_a_thin_history_falls_back_to_popular_products_in_the_customers_categories(shop):
    for sku, category in (("black", "tea"), ("green", "tea"), ("oolong", "tea"), ("bowl", "bowls")):
        product(shop, sku, category)
    for _ in range(3):
        buy(shop, CustomerFactory(), "bowl", days_ago=3)
    buy(shop, CustomerFactory(), "green", days_ago=3)
    buy(shop, CustomerFactory(), "green", days_ago=3)
    buy(shop, CustomerFactory(), "oolong", days_ago=3)
    ann, newcomer = CustomerFactory(), CustomerFactory()
    buy(shop, ann, "black", days_ago=1)  # nobody else bought it: no neighbours
    recommendations_build(shop_id=shop.pk, now=NOW)

    items = recommendations_for(customer_ids=[ann.pk, newcomer.pk], shop_id=shop.pk, now=NOW)

    assert [(i.sku, i.reason) for i in items[ann.pk]] == [
        ("green", "popular_in_category"),
        ("oolong", "popular_in_category"),
        ("bowl", "popular"),
    ]
    # No purchase in the shop: its most popular products.
    assert [(i.sku, i.reason) for i in items[newcomer.pk]] == [
        ("bowl", "popular"),
        ("green", "popular"),
        ("black", "popular"),
        ("oolong", "popular"),
    ]


def test_recent_orders_weigh_more_than_old_ones(shop):
    # The plate was bought with the kettle by as many customers as the mug, but two years ago.
    for _ in range(3):
        buy(shop, CustomerFactory(), "kettle", "plate", days_ago=730)
    for _ in range(3):
        buy(shop, CustomerFactory(), "kettle", "mug", days_ago=2)
    ann = CustomerFactory()
    buy(shop, ann, "kettle", days_ago=1)
    recommendations_build(shop_id=shop.pk, now=NOW)

    assert skus(ann, shop, now=NOW)[:2] == ["mug", "plate"]
    # Without the recency weight they would tie, and the tie goes to the lower id (the mug).
    assert Product.objects.get(shop=shop, sku="plate").pk > Product.objects.get(shop=shop, sku="mug").pk
    kettle = Product.objects.get(shop=shop, sku="kettle")
    scores = dict(ProductNeighbour.objects.filter(product=kettle).values_list("neighbour__sku", "score"))
    assert scores["mug"] > 10 * scores["plate"]


def test_cancelled_orders_and_other_shops_orders_are_not_purchases(together):
    other = ShopFactory()
    product(other, "mug")
    ann = CustomerFactory()
    buy(together, ann, "kettle", days_ago=1, status=Order.Status.CANCELLED)
    buy(other, ann, "mug", days_ago=1)
    recommendations_build(shop_id=together.pk, now=NOW)

    items = recommendations_for(customer_ids=[ann.pk], shop_id=together.pk, now=NOW)[ann.pk]

    assert [i.reason for i in items] == ["popular"] * 4  # no purchase here counts
    assert {Product.objects.get(pk=i.product_id).shop_id for i in items} == {together.pk}


def test_a_failed_build_keeps_the_previous_one(together, monkeypatch):
    recommendations_build(shop_id=together.pk, now=NOW)
    before = sorted(ProductNeighbour.objects.values_list("product_id", "neighbour_id", "score"))
    popular_before = sorted(PopularProduct.objects.values_list("product_id", "rank"))
    built_before = RecommendationBuild.objects.get(shop=together).built_at
    buy(together, CustomerFactory(), "kettle", "plate", days_ago=0)
    real = build_module.insert_columns

    def insert_then_fail(model, columns):
        real(model, columns)
        if model is PopularProduct:
            raise RuntimeError("the worker died")

    monkeypatch.setattr(build_module, "insert_columns", insert_then_fail)
    with pytest.raises(RuntimeError):
        recommendations_build(shop_id=together.pk, now=NOW + timedelta(days=1))

    assert sorted(ProductNeighbour.objects.values_list("product_id", "neighbour_id", "score")) == before
    assert sorted(PopularProduct.objects.values_list("product_id", "rank")) == popular_before
    assert RecommendationBuild.objects.get(shop=together).built_at == built_before


def test_a_rebuild_replaces_the_shops_rows_and_leaves_other_shops_alone(together):
    other = ShopFactory()
    for sku in ("a", "b"):
        product(other, sku)
    buy(other, CustomerFactory(), "a", "b")
    recommendations_build(shop_id=other.pk, now=NOW)
    recommendations_build(shop_id=together.pk, now=NOW)
    recommendations_build(shop_id=together.pk, now=NOW)

    assert ProductNeighbour.objects.filter(shop=together).count() == 4
    assert ProductNeighbour.objects.filter(shop=other).count() == 2


def test_the_nightly_task_builds_every_active_shop(together):
    ShopFactory(is_active=False)

    assert build_recommendations.delay().get() == 1
    assert RecommendationBuild.objects.get().shop_id == together.pk
    assert ProductNeighbour.objects.filter(shop=together).count() == 4


def test_email_templates_get_plain_dicts_from_the_shop_of_the_latest_purchase(together):
    other = ShopFactory()
    product(other, "cup", url="https://other.example/cup")
    ann, nobody = CustomerFactory(), CustomerFactory()
    buy(together, ann, "kettle", days_ago=200)
    buy(other, ann, "cup", days_ago=1)
    buy(other, CustomerFactory(), "cup", days_ago=1)
    Product.objects.filter(shop=together, sku="mug").update(url="https://main.example/mug")
    recommendations_build(shop_id=together.pk, now=NOW)
    recommendations_build(shop_id=other.pk, now=NOW)

    values = recommended_products([ann.pk, nobody.pk])

    assert values[nobody.pk] == []
    assert values[ann.pk] == []  # her latest shop has nothing she has not bought
    buy(together, ann, "spoon", days_ago=0)
    assert recommended_products([ann.pk])[ann.pk][0] == {
        "name": "Plate",
        "sku": "plate",
        "price": "10.00",
        "currency": "EUR",
    }
    assert skus(ann, together)[:1] == ["plate"]
    assert {"name": "Mug", "sku": "mug", "price": "10.00", "currency": "EUR", "url": "https://main.example/mug"} in (
        recommended_products([ann.pk])[ann.pk]
    )


def test_the_held_out_hit_rate_counts_each_customers_hidden_last_order(shop):
    for sku in ("a", "b", "c"):
        product(shop, sku)
    hiders = [CustomerFactory() for _ in range(4)]
    for customer in hiders:  # a and b together, then c (hidden)
        buy(shop, customer, "a", "b", days_ago=20)
        buy(shop, customer, "c", days_ago=10)
    for _ in range(2):  # a, then b (hidden): the neighbours and the popular list both offer b
        customer = CustomerFactory()
        buy(shop, customer, "a", days_ago=20)
        buy(shop, customer, "b", days_ago=10)
    buy(shop, CustomerFactory(), "c", days_ago=5)  # one order: nothing before it, not counted

    rate = shop_hit_rate(shop_id=shop.pk)

    assert rate.customers == 6
    assert (rate.hit_at_5, rate.hit_at_10) == (pytest.approx(2 / 6), pytest.approx(2 / 6))
    assert (rate.popular_hit_at_5, rate.popular_hit_at_10) == (pytest.approx(2 / 6), pytest.approx(2 / 6))


def test_on_shoppers_with_category_habits_the_recommendations_beat_most_popular():
    rng = np.random.default_rng(7)
    customers, products, categories = 4000, 200, 10
    category = rng.integers(0, categories, products)
    members = [np.flatnonzero(category == c) for c in range(categories)]
    taste = rng.integers(0, categories, customers)
    popularity = 1 / np.arange(1, products + 1)
    popularity /= popularity.sum()
    rows = []
    for order in range(12_000):
        customer = int(rng.integers(0, customers))
        for _ in range(int(rng.integers(1, 4))):
            own = rng.random() < 0.7
            item = rng.choice(members[taste[customer]]) if own else rng.choice(products, p=popularity)
            rows.append((customer, order, int(item), order * 60_000_000))
    c, o, p, t = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    lines = ShopLines(
        c,
        o,
        p,
        t,
        np.arange(products),
        [str(i) for i in range(categories)],
        category,
        np.zeros(products, dtype=np.int64),
    )

    rate = hit_rate(lines, batch=1000)

    assert rate.customers > 2000
    assert rate.hit_at_10 > rate.popular_hit_at_10 + 0.05
    assert rate.hit_at_5 > rate.popular_hit_at_5
    assert 0 < rate.hit_at_5 <= rate.hit_at_10 <= 1


def test_the_command_builds_the_shops_named_and_reports_the_hit_rate(together):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("build_recommendations", "--shop", together.slug, "--evaluate", verbosity=0, stdout=out)

    text = out.getvalue()
    assert f"{together.slug}: 11 order lines, 6 customers, 4 products bought, 4 neighbours" in text
    assert f"{together.slug}: held-out hit rate over 0 customers" in text  # one order each: nothing to hide
    assert ProductNeighbour.objects.filter(shop=together).count() == 4
    with pytest.raises(CommandError, match="No shop called nowhere"):
        call_command("build_recommendations", "--shop", "nowhere", verbosity=0)


def test_a_shop_without_orders_builds_empty_and_its_customers_get_nothing():
    empty = ShopFactory()
    product(empty, "lonely")
    ann = CustomerFactory()

    result = recommendations_build(shop_id=empty.pk, now=NOW)

    assert (result.lines, result.customers, result.products, result.neighbours, result.popular) == (0, 0, 0, 0, 0)
    assert recommendations_for(customer_ids=[ann.pk], shop_id=empty.pk)[ann.pk] == []
    assert recommended_products([ann.pk]) == {ann.pk: []}
