"""The id a shop's key knows a customer by is its shop group's, never the CRM's.

The CRM numbers customers in one sequence for every shop: a person shop A brought in long
ago has an id far below the latest, so shown to shop B's key it would tell B that the person
is already someone else's customer. Through a key, a customer is named by the id its group
was given when it first knew the person (docs/api.md, "Customer ids").
"""

import copy

import pytest
from rest_framework.test import APIClient

from customers.models import Customer, CustomerIdentity
from customers.services.api_keys import shop_create

pytestmark = pytest.mark.django_db

VOLATILE = {"id", "customer_id", "email", "external_ids", "external_id", "created_at", "updated_at", "first_seen_at"}


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def shops(db, identity_ids_apart):
    (a, key_a), (b, key_b) = shop_create(slug="shop-a", name="Shop A"), shop_create(slug="shop-b", name="Shop B")
    return {"a": a, "b": b, "A": _client(key_a.key), "B": _client(key_b.key)}


def order(external_id: str, customer: dict) -> dict:
    return {
        "external_id": external_id,
        "placed_at": "2026-01-02T10:00:00Z",
        "currency": "USD",
        "status": "paid",
        "total": "59.90",
        "customer": customer,
        "lines": [{"sku": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "29.95"}],
    }


@pytest.fixture
def pat_at_a(shops):
    """Pat, a customer of shop A for a while: an order, tags, a profile; and others after her."""
    placed = shops["A"].post(
        "/api/v1/orders",
        order("a-1", {"external_id": "pat", "email": "pat@example.com", "first_name": "Pat", "country": "FR"}),
        format="json",
    )
    assert placed.status_code == 201
    for i in range(5):
        shops["A"].post("/api/v1/customers", {"email": f"a{i}@example.com", "tags": ["vip"]}, format="json")
    return placed.json()["customer_id"]


def shape(value):
    """A body with what differs between two people by nature (ids, emails, times) blanked:
    what is left must be equal for a person known elsewhere and a new one."""
    if isinstance(value, dict):
        return {k: ("…" if k in VOLATILE and v is not None else shape(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return value


def test_a_shop_cannot_tell_a_person_known_elsewhere_from_a_new_one(shops, pat_at_a):
    """B introduces a new person, then Pat (A's customer for a while), then another new one:
    every body B gets is the same but for ids, emails and times, and the ids and times
    follow the order in which B sent them, not A's."""
    sent = {}
    for name in ("new-1", "pat", "new-2"):
        email = "pat@example.com" if name == "pat" else f"{name}@example.com"
        sent[name] = shops["B"].post("/api/v1/customers", {"email": email, "first_name": "X"}, format="json")
    bodies = {name: response.json() for name, response in sent.items()}

    assert {response.status_code for response in sent.values()} == {201}
    assert shape(bodies["pat"]) == shape(bodies["new-1"]) == shape(bodies["new-2"])
    assert bodies["new-1"]["id"] < bodies["pat"]["id"] < bodies["new-2"]["id"]
    assert pat_at_a < bodies["new-1"]["id"]  # nothing of A's numbering shows through
    for stamp in ("created_at", "first_seen_at", "updated_at"):
        assert bodies["new-1"][stamp] <= bodies["pat"][stamp] <= bodies["new-2"][stamp], stamp

    # Read back, one by one and in the list, the same holds.
    details = {name: shops["B"].get(f"/api/v1/customers/{body['id']}").json() for name, body in bodies.items()}
    listed = shops["B"].get("/api/v1/customers").json()["results"]
    assert shape(details["pat"]) == shape(details["new-1"])
    assert [c["id"] for c in listed] == [bodies["new-2"]["id"], bodies["pat"]["id"], bodies["new-1"]["id"]]

    # An order and an event for her get the same answers as for a new person.
    orders = {
        name: shops["B"].post("/api/v1/orders", order(f"b-{name}", {"email": body["email"]}), format="json")
        for name, body in bodies.items()
    }
    assert {r.status_code for r in orders.values()} == {201}
    assert shape(orders["pat"].json()) == shape(orders["new-1"].json())
    assert [orders[n].json()["customer_id"] for n in ("new-1", "pat", "new-2")] == [
        bodies[n]["id"] for n in ("new-1", "pat", "new-2")
    ]


def test_segment_lists_through_a_key_are_in_the_groups_order(shops, pat_at_a):
    from campaigns.services import segment_create

    ids = [
        shops["B"].post("/api/v1/customers", {"email": email, "country": "DE"}, format="json").json()["id"]
        for email in ("new-1@example.com", "pat@example.com", "new-2@example.com")
    ]
    rule = {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}
    segment = segment_create(name="Germany", rule=rule)

    preview = shops["B"].post("/api/v1/segments/preview", {"rule": rule}, format="json").json()
    members = shops["B"].get(f"/api/v1/segments/{segment.pk}/members").json()["results"]

    assert [c["id"] for c in preview["sample"]] == [c["id"] for c in members] == ids[::-1]


def test_each_shops_id_works_with_its_own_key_only(shops, pat_at_a):
    pat_at_b = shops["B"].post("/api/v1/customers", {"email": "pat@example.com"}, format="json").json()["id"]
    pat = Customer.objects.get(email_normalized="pat@example.com")

    assert len({pat_at_a, pat_at_b, pat.pk}) == 3
    for suffix in ("", "/segments", "/tickets", "/loyalty"):
        assert shops["A"].get(f"/api/v1/customers/{pat_at_a}{suffix}").status_code == 200, suffix
        assert shops["B"].get(f"/api/v1/customers/{pat_at_b}{suffix}").status_code == 200, suffix
        assert shops["A"].get(f"/api/v1/customers/{pat_at_b}{suffix}").status_code == 404, suffix
        assert shops["B"].get(f"/api/v1/customers/{pat_at_a}{suffix}").status_code == 404, suffix
        if pat.pk not in (pat_at_a, pat_at_b):  # the CRM's id names no one through a key
            assert shops["B"].get(f"/api/v1/customers/{pat.pk}{suffix}").status_code == 404, suffix


def test_every_body_names_the_customer_by_the_keys_id(shops, pat_at_a, admin_user):
    from loyalty.models import Reward
    from loyalty.services import points_adjust

    pat_at_b = shops["B"].post("/api/v1/customers", {"external_id": "p", "email": "pat@example.com"}, format="json")
    pat_at_b = pat_at_b.json()["id"]
    who = {"external_id": "p"}
    pat = Customer.objects.get(email_normalized="pat@example.com")
    points_adjust(customer=pat, group_id=shops["b"].group_id, points=500, reason="opening", staff_id=admin_user.pk)
    reward = Reward.objects.create(name="$5 off", kind=Reward.Kind.FIXED_AMOUNT, value=5, points_cost=100)

    single = shops["B"].post("/api/v1/orders", order("b-1", who), format="json").json()
    bulk = shops["B"].post("/api/v1/orders/bulk", {"orders": [order("b-2", who)]}, format="json").json()
    event = shops["B"].post("/api/v1/events", {"type": "product_viewed", "customer": who}, format="json").json()
    nps = shops["B"].post("/api/v1/nps", {"customer": who, "score": 9}, format="json").json()
    loyalty = shops["B"].get(f"/api/v1/customers/{pat_at_b}/loyalty").json()
    code = shops["B"].post(f"/api/v1/customers/{pat_at_b}/loyalty/redeem", {"reward_id": reward.pk}, format="json")
    checked = shops["B"].get(f"/api/v1/loyalty/codes/{code.json()['code']}").json()

    named = [single, bulk["results"][0], event, nps, loyalty, code.json(), checked]
    assert [body["customer_id"] for body in named] == [pat_at_b] * len(named)


def test_a_replayed_request_answers_with_the_same_id(shops, pat_at_a):
    body = order("b-1", {"email": "pat@example.com"})
    first = shops["B"].post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = shops["B"].post("/api/v1/orders", copy.deepcopy(body), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert again.headers["Idempotent-Replayed"] == "true"
    assert (
        first.json()["customer_id"] == again.json()["customer_id"] == CustomerIdentity.objects.get(shop=shops["b"]).pk
    )


def test_an_id_a_shop_kept_still_works_once_its_shop_joins_a_group(shops, pat_at_a):
    """Grouped with A, B shows Pat by the group's first id of her (A's), and B's still finds her."""
    from customers.models import ApiKey
    from customers.services.api_keys import api_keys_forget
    from loyalty.groups import shop_group_join

    pat_at_b = shops["B"].post("/api/v1/customers", {"email": "pat@example.com"}, format="json").json()["id"]
    shop_group_join(shop_id=shops["b"].pk, group_id=shops["a"].group_id)
    api_keys_forget(prefixes=list(ApiKey.objects.filter(shop=shops["b"]).values_list("prefix", flat=True)))

    assert shops["B"].get(f"/api/v1/customers/{pat_at_b}").json()["id"] == pat_at_a
    assert shops["B"].get(f"/api/v1/customers/{pat_at_a}").json()["id"] == pat_at_a
