"""Races that only a real PostgreSQL shows: concurrent duplicates end as one row."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from crm.tests.api_ids import api_id
from customers.models import Customer, Order, OrderLine, Refund

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(n, fn):
    """Run ``fn`` in ``n`` threads released at the same instant; return their results."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = fn()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_simultaneous_posts_of_the_same_new_order_give_one_order(shop_and_key, order_payload):
    key = shop_and_key[1].key
    for attempt in range(5):
        order_payload["external_id"] = f"race-{attempt}"
        order_payload["customer"] = {"external_id": f"c-{attempt}", "email": f"race{attempt}@example.com"}
        statuses = _race(4, lambda: _client(key).post("/api/v1/orders", order_payload, format="json").status_code)

        assert sorted(statuses) == [200, 200, 200, 201]
    assert Order.objects.count() == 5
    assert OrderLine.objects.count() == 5
    assert Customer.objects.count() == 5


def test_simultaneous_bulk_requests_with_overlapping_orders(shop_and_key, order_payload):
    key = shop_and_key[1].key
    items = [dict(order_payload, external_id=f"b{i}", customer={"email": f"b{i % 7}@example.com"}) for i in range(200)]

    responses = _race(3, lambda: _client(key).post("/api/v1/orders/bulk", {"orders": items}, format="json").json())

    assert sum(r["created"] for r in responses) == 200
    assert Order.objects.count() == 200 and Customer.objects.count() == 7


def test_concurrent_refunds_never_exceed_the_total(shop_and_key, order_payload):
    key = shop_and_key[1].key
    _client(key).post("/api/v1/orders", order_payload, format="json")

    statuses = _race(
        4, lambda: _client(key).post("/api/v1/orders/1001/refunds", {"amount": "20.00"}, format="json").status_code
    )

    assert sorted(statuses) == [201, 201, 400, 400]
    assert Refund.objects.count() == 2


def test_concurrent_bulk_requests_with_the_same_new_customers_in_different_orders(shop_and_key, order_payload):
    """Each request brings the same new people in its own order: no deadlock, no duplicates."""
    key = shop_and_key[1].key
    people = [{"external_id": f"p{i}", "email": f"p{i}@example.com"} for i in range(60)]
    bodies = []
    for t in range(3):
        shuffled = people[t:] + people[:t]
        shuffled = shuffled[::-1] if t % 2 else shuffled
        bodies.append(
            {"orders": [dict(order_payload, external_id=f"t{t}-{i}", customer=p) for i, p in enumerate(shuffled)]}
        )
    index = iter(range(3))
    lock = threading.Lock()

    def send():
        with lock:
            body = bodies[next(index)]
        return _client(key).post("/api/v1/orders/bulk", body, format="json")

    responses = _race(3, send)

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert sum(r.json()["created"] for r in responses) == 180
    assert Customer.objects.count() == 60


def test_simultaneous_replays_of_a_ticket_or_a_review_store_one(shop_and_key):
    from customers.models import Product
    from support.models import Review, Ticket

    shop, issued = shop_and_key
    Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    customer = {"email": "race@example.com"}
    ticket = {"customer": customer, "subject": "Help", "message": "Hi", "external_id": "form-1"}
    review = {"customer": customer, "sku": "MUG-1", "rating": 1, "external_id": "rev-1"}

    for path, body in (("/api/v1/tickets", ticket), ("/api/v1/reviews", review)):
        statuses = _race(
            4, lambda path=path, body=body: _client(issued.key).post(path, body, format="json").status_code
        )
        assert sorted(statuses) == [200, 200, 200, 201], path

    assert Review.objects.count() == 1
    # The contact-form ticket, and the one follow-up the 1-star review opened.
    assert Ticket.objects.count() == 2 and Ticket.objects.filter(review__isnull=False).count() == 1


def test_simultaneous_first_reviews_of_a_product_by_one_customer_store_one(shop_and_key):
    """One review per customer and product: posts racing with different ids (or none) end as
    one review, created once and updated by the others."""
    from customers.models import Product
    from support.models import Review

    shop, issued = shop_and_key
    Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    bodies = iter(
        {"customer": {"email": "race@example.com"}, "sku": "MUG-1", "rating": 4, "title": f"Take {i}", **ids}
        for i, ids in enumerate([{"external_id": "a"}, {"external_id": "b"}, {}, {}])
    )
    lock = threading.Lock()

    def send():
        with lock:
            body = next(bodies)
        return _client(issued.key).post("/api/v1/reviews", body, format="json").status_code

    statuses = _race(4, send)

    assert sorted(statuses) == [200, 200, 200, 201]
    assert Review.objects.count() == 1


def _customer_with_points(shop, points: int):
    from django.contrib.auth import get_user_model

    from customers.models import CustomerIdentity
    from loyalty.services import points_adjust

    person = Customer.objects.create(email="pts@example.com", email_normalized="pts@example.com")
    CustomerIdentity.objects.create(shop=shop, customer=person, external_id="pts")
    staff = get_user_model().objects.create_user("boss", is_staff=True)
    points_adjust(customer=person, group_id=shop.group_id, points=points, reason="opening balance", staff_id=staff.pk)
    return person


def test_concurrent_redemptions_never_overspend(shop_and_key):
    """Six redemptions of 100 points at once against 250, each of a different reward (so only
    the balance row's lock stands between them): two succeed, the rest are refused."""
    from loyalty.models import Account, Reward, RewardCode
    from loyalty.verify import balances_verify

    shop, issued = shop_and_key
    person = _customer_with_points(shop, 250)
    # One reward per thread; taking the next id from a list iterator is atomic under the GIL.
    reward_ids = iter([Reward.objects.create(name=f"R{i}", kind="free_shipping", points_cost=100).pk for i in range(6)])
    url = f"/api/v1/customers/{api_id(shop, person)}/loyalty/redeem"

    statuses = _race(
        6, lambda: _client(issued.key).post(url, {"reward_id": next(reward_ids)}, format="json").status_code
    )

    assert sorted(statuses) == [201, 201, 400, 400, 400, 400]
    assert Account.objects.get(customer=person, group=shop.group).balance == 50
    assert RewardCode.objects.count() == 2
    assert balances_verify()[1] == []


def test_a_code_consumed_at_once_by_two_checkouts_is_used_once(shop_and_key):
    from loyalty.models import Reward
    from loyalty.services import reward_redeem

    shop, issued = shop_and_key
    person = _customer_with_points(shop, 100)
    code = reward_redeem(
        customer=person,
        shop=shop,
        reward_id=Reward.objects.create(name="Free shipping", kind="free_shipping", points_cost=100).pk,
    ).code
    url = f"/api/v1/loyalty/codes/{code}/consume"

    statuses = _race(4, lambda: _client(issued.key).post(url).status_code)

    assert sorted(statuses) == [200, 409, 409, 409]


def test_simultaneous_retries_with_one_idempotency_key_write_once(shop_and_key, order_payload):
    """Four copies of a refund with no external id (and of a ticket, an NPS answer) sent at
    once with one Idempotency-Key: one row each, and every copy gets the same answer."""
    from support.models import NpsResponse, Ticket

    key = shop_and_key[1].key
    _client(key).post("/api/v1/orders", order_payload, format="json")
    customer = {"email": "race@example.com"}
    cases = [
        ("/api/v1/orders/1001/refunds", {"amount": "5.00"}, Refund),
        ("/api/v1/tickets", {"customer": customer, "subject": "Help", "message": "Hi"}, Ticket),
        ("/api/v1/nps", {"customer": customer, "score": 3}, NpsResponse),
    ]
    for attempt in range(3):
        for path, body, model in cases:
            before = model.objects.count()
            headers = {"HTTP_IDEMPOTENCY_KEY": f"retry-{attempt}-{path}"}

            responses = _race(
                4, lambda path=path, body=body, h=headers: _client(key).post(path, body, format="json", **h)
            )

            assert [r.status_code for r in responses] == [201] * 4, path
            assert all(r.json() == responses[0].json() for r in responses), path
            assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == ["", "true", "true", "true"]
            assert model.objects.count() == before + 1, path


def test_concurrent_redemptions_through_two_shops_of_one_group_never_overspend(shop_and_key):
    """Shops A and B share one balance (a manager grouped them): six redemptions of 100 points
    at once, three through each shop's key, against 250. Two succeed; the joint balance is 50."""
    from customers.models import CustomerIdentity
    from customers.services.api_keys import shop_create
    from loyalty.groups import shop_group_join
    from loyalty.models import Account, Reward, RewardCode
    from loyalty.verify import balances_verify

    shop, issued = shop_and_key
    other, other_issued = shop_create(slug="second", name="Second Store")
    shop_group_join(shop_id=other.pk, group_id=shop.group_id)
    person = _customer_with_points(shop, 250)
    CustomerIdentity.objects.create(shop=other, customer=person, external_id="pts")
    reward_ids = iter([Reward.objects.create(name=f"R{i}", kind="free_shipping", points_cost=100).pk for i in range(6)])
    keys = iter([issued.key, other_issued.key] * 3)
    url = f"/api/v1/customers/{api_id(shop, person)}/loyalty/redeem"

    statuses = _race(
        6, lambda: _client(next(keys)).post(url, {"reward_id": next(reward_ids)}, format="json").status_code
    )

    assert sorted(statuses) == [201, 201, 400, 400, 400, 400]
    assert Account.objects.get(customer=person, group_id=shop.group_id).balance == 50
    assert RewardCode.objects.count() == 2
    assert balances_verify()[1] == []
