"""One review per customer and product: a second post updates the first (200, the same
review), the order's review link offers no product the customer has reviewed, however they
reviewed it, and the database holds no second one."""

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from crm.merging.services import customers_merge
from customers.models import Customer, CustomerSignal, Product
from customers.tests.factories import CustomerFactory, ShopFactory
from support.models import Review, Ticket
from support.tests.factories import open_ticket

pytestmark = pytest.mark.django_db

ANN = {"email": "ann@example.com", "first_name": "Ann", "last_name": "Reed"}
ORDER = {
    "external_id": "1001",
    "placed_at": "2026-01-02T10:00:00Z",
    "currency": "USD",
    "status": "fulfilled",
    "total": "20.00",
    "customer": ANN,
    "lines": [
        {"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": "12.00"},
        {"sku": "TEA", "name": "Tea", "quantity": 1, "unit_price": "8.00"},
    ],
}


def review(api, **change):
    body = {"customer": ANN, "sku": "MUG", "rating": 5, "title": "Lovely", "body": "Keeps tea hot", **change}
    return api.post("/api/v1/reviews", body, format="json")


@pytest.fixture
def bought(api):
    """Ann's fulfilled order of a mug and tea, through the API: she is a verified buyer."""
    assert api.post("/api/v1/orders", ORDER, format="json").status_code == 201


def test_a_second_review_of_the_same_product_updates_the_first(api, bought):
    first = review(api)
    second = review(api, rating=4, title="Good", body="Chipped a little")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert (second.json()["rating"], second.json()["title"], second.json()["body"]) == (4, "Good", "Chipped a little")
    stored = Review.objects.get()
    assert (stored.rating, stored.title, stored.status, stored.verified_buyer) == (4, "Good", "published", True)
    (listed,) = api.get("/api/v1/products/MUG/reviews").json()["results"]
    assert listed["rating"] == 4


def test_a_replayed_review_is_a_200_that_changes_nothing(api, bought):
    first = review(api, rating=1, title="Cracked")
    again = review(api, rating=1, title="Cracked")

    assert (first.status_code, again.status_code) == (201, 200)
    assert Review.objects.count() == 1
    assert Ticket.objects.filter(review__isnull=False).count() == 1  # one follow-up, not two


def test_an_edited_review_is_moderated_again_and_its_signal_follows_the_new_rating(api, bought):
    review(api, rating=5)
    assert CustomerSignal.objects.get(source="review").kind == "promoter"

    edited = review(api, rating=1, title="Broke in a week")

    assert edited.status_code == 200
    assert (edited.json()["status"], edited.json()["rating"]) == ("pending", 1)  # 1 star waits for a person
    assert api.get("/api/v1/products/MUG/reviews").json()["results"] == []
    assert list(CustomerSignal.objects.filter(source="review").values_list("kind", flat=True)) == ["detractor"]
    follow_up = Ticket.objects.get(review_id=edited.json()["id"])
    assert "Broke in a week" in follow_up.messages.get().body


def test_reviews_of_one_product_by_two_customers_are_two(api, bought):
    review(api)
    other = review(api, customer={"email": "bob@example.com"})

    assert other.status_code == 201
    assert Review.objects.count() == 2


def test_the_review_link_offers_no_product_the_customer_reviewed_through_the_api(api, client, bought):
    assert review(api, rating=4, title="Nice mug").status_code == 201
    link = api.get("/api/v1/orders/1001/review-link").json()["url"]
    path = link.removeprefix("http://127.0.0.1:8000")

    page = client.get(path).content.decode()

    mug, tea = page.split('id="product-MUG"')[1].split('id="product-TEA"')
    assert "You gave it 4★" in mug and "<form" not in mug
    assert "<form" in tea
    refused = client.post(path, {"sku": "MUG", "rating": "1"})  # a page open from before
    assert refused.status_code == 200
    assert list(Review.objects.values_list("product__sku", "rating")) == [("MUG", 4)]


def test_a_review_through_the_link_is_then_updated_by_the_api(api, client, bought):
    path = api.get("/api/v1/orders/1001/review-link").json()["url"].removeprefix("http://127.0.0.1:8000")
    client.post(path, {"sku": "TEA", "rating": "3"})

    updated = review(api, sku="TEA", rating=5, title="Grew on me")

    assert updated.status_code == 200
    assert list(Review.objects.values_list("product__sku", "rating", "title")) == [("TEA", 5, "Grew on me")]


def test_the_database_holds_one_review_per_customer_and_product():
    shop = ShopFactory()
    customer, product = CustomerFactory(), Product.objects.create(shop=shop, sku="MUG", name="Mug")
    Review.objects.create(shop=shop, customer=customer, product=product, rating=5, created_at=timezone.now())

    with pytest.raises(IntegrityError):
        Review.objects.create(shop=shop, customer=customer, product=product, rating=1, created_at=timezone.now())


def test_a_merge_keeps_the_survivor_s_review_of_a_product_both_reviewed():
    shop = ShopFactory()
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    mug, tea = (Product.objects.create(shop=shop, sku=sku, name=sku) for sku in ("MUG", "TEA"))
    now = timezone.now()
    for customer, product, rating in ((survivor, mug, 5), (duplicate, mug, 2), (duplicate, tea, 4)):
        Review.objects.create(shop=shop, customer=customer, product=product, rating=rating, created_at=now)

    customers_merge(survivor_id=survivor.pk, merged_id=duplicate.pk)

    mine = set(Review.objects.filter(customer=survivor).values_list("product__sku", "rating"))
    assert mine == {("MUG", 5), ("TEA", 4)}
    assert list(Review.objects.filter(customer=duplicate).values_list("product__sku", "rating")) == [("MUG", 2)]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_each_customer_s_newest_review_of_a_product():
    before, after = ("support", "0010_inbound_email"), ("support", "0011_review_one_per_customer_and_product")
    MigrationExecutor(connection).migrate([before])
    try:
        shop = ShopFactory()
        ann, bob = CustomerFactory(), CustomerFactory()
        mug = Product.objects.create(shop=shop, sku="MUG", name="Mug")
        now = timezone.now()

        def written(customer: Customer, rating: int, days_ago: int) -> Review:
            made = now - timezone.timedelta(days=days_ago)
            return Review.objects.create(shop=shop, customer=customer, product=mug, rating=rating, created_at=made)

        oldest, older, newest, bobs = written(ann, 1, 30), written(ann, 2, 20), written(ann, 4, 10), written(bob, 3, 5)
        ticket = open_ticket(ann, "Follow up")
        Ticket.objects.filter(pk=ticket.pk).update(review=oldest)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([after])

    assert set(Review.objects.values_list("pk", flat=True)) == {newest.pk, bobs.pk}
    assert not Review.objects.filter(pk__in=[oldest.pk, older.pk]).exists()
    ticket.refresh_from_db()
    assert ticket.review_id == newest.pk
