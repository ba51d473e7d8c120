"""A shop's key reaches only its shop group's slice of a customer (issue 16, section 2).

Shop B knows Bea (name, phone, birthday, a paid order). Shop A is in a group of its own, so
through A's key Bea is a stranger until A sends her, and then only what A sent shows.
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from customers.models import ApiKey, Customer, CustomerIdentity, Shop
from customers.services.api_keys import api_keys_forget, shop_create

pytestmark = pytest.mark.django_db

BEA = {
    "external_id": "b-1",
    "email": "bea@example.com",
    "first_name": "Bea",
    "last_name": "Bright",
    "phone": "+49 30 1234",
    "birthday": "1990-04-01",
    "country": "DE",
}


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _join_groups(shop, other):
    """Put ``shop`` in ``other``'s group, as the admin does (which also drops cached keys)."""
    Shop.objects.filter(pk=shop.pk).update(group=other.group)
    api_keys_forget(prefixes=list(ApiKey.objects.filter(shop=shop).values_list("prefix", flat=True)))


@pytest.fixture
def shops(db, identity_ids_apart):
    shop_a, key_a = shop_create(slug="shop-a", name="Shop A")
    shop_b, key_b = shop_create(slug="shop-b", name="Shop B")
    return {"a": shop_a, "b": shop_b, "api_a": _client(key_a.key), "api_b": _client(key_b.key)}


@pytest.fixture
def bea_at_b(shops, order_payload):
    """Bea, known only to shop B, with one paid order of 59.90 there."""
    order_payload["customer"] = BEA
    response = shops["api_b"].post("/api/v1/orders", order_payload, format="json")
    assert response.status_code == 201
    return response.json()["customer_id"]


def test_a_learns_nothing_of_what_b_sent_when_it_introduces_the_same_email(shops, bea_at_b):
    known = shops["api_a"].post("/api/v1/customers", {"email": "BEA@example.com"}, format="json")
    unknown = shops["api_a"].post("/api/v1/customers", {"email": "nobody@example.com"}, format="json")

    assert known.status_code == unknown.status_code == 201  # new to shop A either way
    body = known.json()
    # One person for the staff, but A's own id for her: numbered as A came to know people.
    assert Customer.objects.filter(email_normalized="bea@example.com").count() == 1
    assert bea_at_b < body["id"] < unknown.json()["id"]
    assert sorted(body) == sorted(unknown.json())
    assert (body["first_name"], body["last_name"], body["phone"], body["birthday"], body["country"]) == (
        "",
        "",
        "",
        None,
        "",
    )
    assert (body["orders_count"], body["net_revenue"], body["clv_historical"]) == (0, "0.00", "0.00")
    assert body["first_order_at"] is None and body["lifecycle"] is None
    assert body["email"] == "BEA@example.com"
    # Sent again, she is known to shop A now.
    assert shops["api_a"].post("/api/v1/customers", {"email": "bea@example.com"}, format="json").status_code == 200


def test_a_reads_its_own_slice_by_id_and_in_its_list(shops, bea_at_b):
    sent = {"email": "bea@example.com", "first_name": "Beatrix"}
    bea_at_a = shops["api_a"].post("/api/v1/customers", sent, format="json").json()["id"]

    detail = shops["api_a"].get(f"/api/v1/customers/{bea_at_a}").json()
    (listed,) = shops["api_a"].get("/api/v1/customers").json()["results"]

    for body in (detail, listed):
        assert (body["first_name"], body["last_name"], body["phone"]) == ("Beatrix", "", "")
        assert (body["orders_count"], body["net_revenue"]) == (0, "0.00")
    assert shops["api_a"].get("/api/v1/customers?country=DE").json()["results"] == []
    assert shops["api_a"].get("/api/v1/customers?min_orders=1").json()["results"] == []
    assert shops["api_b"].get("/api/v1/customers?min_orders=1").json()["results"][0]["id"] == bea_at_b


def test_a_write_never_changes_what_b_sent_but_the_staff_see_the_latest(shops, bea_at_b):
    bea_at_a = (
        shops["api_a"]
        .post(
            "/api/v1/customers",
            {"external_id": "a-9", "email": "bea@example.com", "first_name": "Eve", "phone": "+1 555"},
            format="json",
        )
        .json()["id"]
    )
    shops["api_a"].post(
        "/api/v1/events",
        {
            "type": "product_viewed",
            "occurred_at": "2026-01-03T10:00:00Z",
            "customer": {"external_id": "a-9", "email": "bea@example.com", "last_name": "Evil"},
        },
        format="json",
    )

    at_b = shops["api_b"].get(f"/api/v1/customers/{bea_at_b}").json()
    at_a = shops["api_a"].get(f"/api/v1/customers/{bea_at_a}").json()

    assert (at_b["first_name"], at_b["last_name"], at_b["phone"]) == ("Bea", "Bright", "+49 30 1234")
    assert (at_b["orders_count"], at_b["net_revenue"]) == (1, "59.90")
    assert (at_a["first_name"], at_a["last_name"], at_a["phone"]) == ("Eve", "Evil", "+1 555")
    identity_b = CustomerIdentity.objects.get(shop=shops["b"])
    assert (identity_b.first_name, identity_b.phone) == ("Bea", "+49 30 1234")
    staff = Customer.objects.get()  # the merged profile: the most recent update wins
    assert (staff.first_name, staff.last_name, staff.phone) == ("Eve", "Evil", "+1 555")


def test_shops_in_one_group_share_the_profile_and_the_orders(shops, bea_at_b):
    _join_groups(shops["a"], shops["b"])

    response = shops["api_a"].post("/api/v1/customers", {"email": "bea@example.com", "phone": "+49 1"}, format="json")

    assert response.status_code == 200  # known to the group
    body = response.json()
    assert (body["first_name"], body["phone"], body["orders_count"], body["net_revenue"]) == (
        "Bea",
        "+49 1",
        1,
        "59.90",
    )
    assert body["lifecycle"] == shops["api_b"].get(f"/api/v1/customers/{bea_at_b}").json()["lifecycle"]


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "bought_sku", "operator": "in", "value": ["SKU-1"], "within_days": 3650},
        {"field": "spent", "operator": "gte", "value": 50, "within_days": 3650},
        {"field": "orders_in_window", "operator": "gte", "value": 1, "within_days": 3650},
        {"field": "clv_historical", "operator": "gte", "value": 50},
        {"field": "net_revenue", "operator": "gte", "value": 50},
        {"field": "orders_count", "operator": "gte", "value": 1},
        {"field": "country", "operator": "eq", "value": "DE"},
        {"field": "event", "operator": "eq", "value": "product_viewed", "within_days": 3650},
    ],
)
def test_a_segment_preview_counts_only_what_a_shops_group_sent(shops, bea_at_b, condition):
    shops["api_b"].post(
        "/api/v1/events",
        {"type": "product_viewed", "occurred_at": "2026-01-03T10:00:00Z", "customer": {"external_id": "b-1"}},
        format="json",
    )
    shops["api_a"].post("/api/v1/customers", {"email": "bea@example.com"}, format="json")
    rule = {"match": "all", "children": [condition]}

    at_a = shops["api_a"].post("/api/v1/segments/preview", {"rule": rule}, format="json")
    at_b = shops["api_b"].post("/api/v1/segments/preview", {"rule": rule}, format="json")

    assert at_a.status_code == at_b.status_code == 200
    assert (at_a.json()["count"], at_b.json()["count"]) == (0, 1)


def test_person_wide_figures_tell_a_key_nothing_about_who_buys_elsewhere(shops, bea_at_b, order_payload):
    """Bea bought at A and at B, Ann only at A. While B is in another group, A's key sees
    neither's stage nor when their figures were updated, and every rule and segment on a
    person-wide figure answers the same for both: nothing tells Bea (who also buys at B)
    from Ann. Once A and B share a group, both show."""
    from campaigns.services import segment_create, segment_refresh
    from customers.services.recompute import customers_recompute

    order_payload.update(external_id="a-1", customer={"external_id": "a-9", "email": "bea@example.com"})
    placed = shops["api_a"].post("/api/v1/orders", order_payload, format="json")
    assert placed.status_code == 201
    bea = placed.json()["customer_id"]  # A's id of her
    order_payload.update(external_id="a-2", customer={"external_id": "a-8", "email": "ann@example.com"})
    ann = shops["api_a"].post("/api/v1/orders", order_payload, format="json").json()["customer_id"]
    customers_recompute(customer_ids=list(Customer.objects.values_list("pk", flat=True)))
    staged = segment_create(
        name="Staged", rule={"match": "all", "children": [{"field": "stage", "operator": "is_set"}]}
    )
    unstaged = segment_create(
        name="Unstaged", rule={"match": "all", "children": [{"field": "stage", "operator": "is_not_set"}]}
    )
    for segment in (staged, unstaged):
        segment_refresh(segment=segment)

    def seen_by_a():
        bodies = {pk: shops["api_a"].get(f"/api/v1/customers/{pk}").json() for pk in (bea, ann)}
        preview = {
            op: shops["api_a"]
            .post(
                "/api/v1/segments/preview",
                {"rule": {"match": "all", "children": [{"field": "stage", "operator": op}]}},
                format="json",
            )
            .json()["count"]
            for op in ("is_set", "is_not_set")
        }
        segments = {
            pk: [s for s in shops["api_a"].get(f"/api/v1/customers/{pk}/segments").json() if "taged" in s["name"]]
            for pk in (bea, ann)
        }
        members = {
            s.pk: sorted(m["id"] for m in shops["api_a"].get(f"/api/v1/segments/{s.pk}/members").json()["results"])
            for s in (staged, unstaged)
        }
        return bodies, preview, segments, members

    bodies, preview, segments, members = seen_by_a()
    for pk in (bea, ann):
        assert bodies[pk]["lifecycle"] is None and bodies[pk]["aggregates_updated_at"] is None
        assert (bodies[pk]["orders_count"], bodies[pk]["net_revenue"]) == (1, "59.90")  # A's own order
        assert [(s["name"], s["entered_at"]) for s in segments[pk]] == [("Unstaged", None)]
    assert preview == {"is_set": 0, "is_not_set": 2}
    assert members == {staged.pk: [], unstaged.pk: sorted([bea, ann])}
    # B sees Bea's figures no better: A is outside B's group.
    assert shops["api_b"].get(f"/api/v1/customers/{bea_at_b}").json()["lifecycle"] is None

    _join_groups(shops["a"], shops["b"])
    bodies, preview, segments, members = seen_by_a()
    for pk in (bea, ann):
        assert bodies[pk]["lifecycle"]["stage"] and bodies[pk]["aggregates_updated_at"]
        assert [s["name"] for s in segments[pk]] == ["Staged"] and segments[pk][0]["entered_at"]
    assert bodies[bea]["orders_count"] == 2  # the group's orders: A's and B's
    assert preview == {"is_set": 2, "is_not_set": 0}
    # One group now: Bea is shown by the group's first id of her (B's); A's still finds her.
    assert bodies[bea]["id"] == bea_at_b
    assert members == {staged.pk: sorted([bea_at_b, ann]), unstaged.pk: []}


def test_segment_members_through_a_key_follow_the_groups_data(shops, bea_at_b):
    from campaigns.services import segment_create, segment_refresh

    rule = {"match": "all", "children": [{"field": "spent", "operator": "gte", "value": 50, "within_days": 3650}]}
    segment = segment_create(name="Spenders", rule=rule)
    segment_refresh(segment=segment)
    bea_at_a = shops["api_a"].post("/api/v1/customers", {"email": "bea@example.com"}, format="json").json()["id"]

    at_a = shops["api_a"].get(f"/api/v1/segments/{segment.pk}/members").json()["results"]
    at_b = shops["api_b"].get(f"/api/v1/segments/{segment.pk}/members").json()["results"]
    mine_a = shops["api_a"].get(f"/api/v1/customers/{bea_at_a}/segments").json()
    mine_b = shops["api_b"].get(f"/api/v1/customers/{bea_at_b}/segments").json()

    assert at_a == [] and [m["id"] for m in at_b] == [bea_at_b]
    assert segment.pk not in [s["id"] for s in mine_a]
    assert segment.pk in [s["id"] for s in mine_b]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_shops_introduce_the_same_email_at_once(shops):
    barrier = threading.Barrier(2)
    results = {}

    def post(name, first_name):
        try:
            barrier.wait()
            results[name] = shops[f"api_{name}"].post(
                "/api/v1/customers",
                {"external_id": f"{name}-1", "email": "race@example.com", "first_name": first_name},
                format="json",
            )
        finally:
            connection.close()

    for attempt in range(3):
        CustomerIdentity.objects.all().delete()
        Customer.objects.all().delete()
        threads = [threading.Thread(target=post, args=(n, f"{n}-name")) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert results["a"].status_code == results["b"].status_code == 201, attempt
        assert Customer.objects.count() == 1 and CustomerIdentity.objects.count() == 2
        assert results["a"].json()["first_name"] == "a-name" and results["b"].json()["first_name"] == "b-name"
        at_a, at_b = results["a"].json()["id"], results["b"].json()["id"]  # each shop's own id
        assert at_a != at_b
        assert shops["api_a"].get(f"/api/v1/customers/{at_a}").json()["first_name"] == "a-name"
        assert shops["api_b"].get(f"/api/v1/customers/{at_b}").json()["first_name"] == "b-name"
        assert shops["api_a"].get(f"/api/v1/customers/{at_b}").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_eight_requests_introducing_one_person_at_once_one_is_told_it_created_them(shops):
    barrier = threading.Barrier(8)
    statuses = []

    def post(n):
        try:
            barrier.wait()
            response = shops["api_a"].post("/api/v1/customers", {"email": "crowd@example.com"}, format="json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    for attempt in range(3):
        statuses.clear()
        CustomerIdentity.objects.all().delete()
        Customer.objects.all().delete()
        threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert sorted(statuses) == [200] * 7 + [201], attempt
        assert Customer.objects.count() == CustomerIdentity.objects.count() == 1


def test_a_review_is_signed_with_the_name_the_reviewed_shops_group_has(shops, bea_at_b, order_payload):
    from customers.models import Product

    Product.objects.create(shop=shops["a"], sku="MUG-A", name="Mug")
    order_payload.update(external_id="a-1", customer={"external_id": "a-9", "email": "bea@example.com"})
    order_payload["lines"][0]["sku"] = "MUG-A"
    shops["api_a"].post("/api/v1/orders", order_payload, format="json")  # shop A never had her name
    review = {"customer": {"external_id": "a-9"}, "sku": "MUG-A", "rating": 5, "title": "Good"}

    created = shops["api_a"].post("/api/v1/reviews", review, format="json")
    listed = shops["api_a"].get("/api/v1/products/MUG-A/reviews").json()["results"]

    assert created.status_code == 201
    assert created.json()["author"] == listed[0]["author"] == "A customer"
    shops["api_a"].post(
        "/api/v1/customers", {"external_id": "a-9", "first_name": "Trix", "last_name": "Z"}, format="json"
    )
    assert shops["api_a"].get("/api/v1/products/MUG-A/reviews").json()["results"][0]["author"] == "Trix Z."


def test_a_segment_sample_and_members_show_the_groups_names(shops, bea_at_b):
    from campaigns.services import segment_create

    sent = {"email": "bea@example.com", "first_name": "Trix"}
    bea_at_a = shops["api_a"].post("/api/v1/customers", sent, format="json").json()["id"]
    rule = {"match": "all", "children": [{"field": "orders_count", "operator": "eq", "value": 0}]}
    segment = segment_create(name="No orders yet", rule=rule)

    (sample,) = shops["api_a"].post("/api/v1/segments/preview", {"rule": rule}, format="json").json()["sample"]
    (member,) = shops["api_a"].get(f"/api/v1/segments/{segment.pk}/members").json()["results"]

    assert sample == member == {"id": bea_at_a, "email": "bea@example.com", "first_name": "Trix", "last_name": ""}


def test_a_key_sees_and_tests_only_the_tags_its_group_sent(shops, bea_at_b):
    shops["api_b"].post("/api/v1/customers", {"external_id": "b-1", "tags": ["fraud-watch"]}, format="json")
    sent = {"email": "bea@example.com", "tags": ["newsletter"]}
    bea_at_a = shops["api_a"].post("/api/v1/customers", sent, format="json").json()["id"]
    rule = {"match": "all", "children": [{"field": "tags", "operator": "in", "value": ["fraud-watch"]}]}

    assert shops["api_a"].get(f"/api/v1/customers/{bea_at_a}").json()["tags"] == ["newsletter"]
    assert shops["api_b"].get(f"/api/v1/customers/{bea_at_b}").json()["tags"] == ["fraud-watch"]
    assert shops["api_a"].post("/api/v1/segments/preview", {"rule": rule}, format="json").json()["count"] == 0
    assert shops["api_b"].post("/api/v1/segments/preview", {"rule": rule}, format="json").json()["count"] == 1
    assert sorted(Customer.objects.get().tags.values_list("name", flat=True)) == [
        "fraud-watch",
        "newsletter",
    ]
