"""The Idempotency-Key makes every POST of the API replay-safe: the same key and body sent
twice write once, and the second answer is the first one again."""

import pytest
from django.apps import apps
from django.urls import URLPattern

from crm.api import urls as api_urls
from crm.models import IdempotencyRecord
from crm.roles import MANAGER
from crm.tests.api_ids import own_id
from customers.models import Customer, CustomerIdentity, Order, Product, Refund
from loyalty.models import Reward
from loyalty.referrals import referral_code_of
from loyalty.services import points_adjust, reward_redeem
from loyalty.tests.conftest import programme  # noqa: F401 (a fixture shared with loyalty)
from support.tickets import TicketData, ticket_open

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    """How many rows every table holds: a second write anywhere shows up here."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def post_endpoints() -> set[str]:
    """The names of every API route whose view answers POST."""
    return {
        p.name
        for p in api_urls.urlpatterns
        if isinstance(p, URLPattern) and hasattr(getattr(p.callback, "view_class", None), "post")
    }


@pytest.fixture
def world(api, shop, admin_user, role_api, order_payload, programme):  # noqa: F811
    """One of everything a POST needs: an order to refund, a customer with points, a reward,
    a code to consume, a referrer's code, a product to review, a ticket to follow up, a Manager key."""
    assert api.post("/api/v1/orders", order_payload, format="json").status_code == 201
    ann = Customer.objects.get()
    points_adjust(customer=ann, group_id=shop.group_id, points=500, reason="opening balance", staff_id=admin_user.pk)
    newcomer = Customer.objects.create(email="new@example.com", email_normalized="new@example.com")
    CustomerIdentity.objects.create(shop=shop, customer=newcomer, external_id="c-new")
    reward = Reward.objects.create(name="$5 off", kind=Reward.Kind.FIXED_AMOUNT, value=5, points_cost=100)
    code = reward_redeem(customer=ann, shop=shop, reward_id=reward.pk)
    Product.objects.create(shop=shop, sku="MUG-9", name="Mug")
    person = {"external_id": "c-1", "email": "ann@example.com"}
    loyalty = f"/api/v1/customers/{own_id(ann)}/loyalty"
    rule = {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}
    order = dict(order_payload, external_id="idem-1")
    ticket, _ = ticket_open(customer=ann, shop=shop, data=TicketData(subject="Where?", body="My order"))
    return {
        "api-orders": (api, "/api/v1/orders", order),
        "api-orders-bulk": (api, "/api/v1/orders/bulk", {"orders": [dict(order_payload, external_id="idem-2")]}),
        "api-order-refunds": (api, "/api/v1/orders/1001/refunds", {"amount": "5.00"}),
        "api-customers": (api, "/api/v1/customers", {"email": "someone@example.com", "first_name": "Sam"}),
        "api-events": (api, "/api/v1/events", {"type": "product_viewed", "customer": person}),
        "api-segments-preview": (api, "/api/v1/segments/preview", {"rule": rule}),
        "api-tickets": (api, "/api/v1/tickets", {"customer": person, "subject": "Where?", "message": "My order"}),
        "api-ticket-messages": (api, f"/api/v1/tickets/{ticket.pk}/messages", {"message": "Any news?"}),
        "api-reviews": (api, "/api/v1/reviews", {"customer": person, "sku": "MUG-9", "rating": 5, "body": "Nice"}),
        "api-nps": (api, "/api/v1/nps", {"customer": person, "score": 9, "comment": "Good"}),
        "api-subscriptions": (
            api,
            "/api/v1/subscriptions",
            {"email": "reader@example.com", "consent": True, "source": "footer_form", "shown_text": "News, monthly"},
        ),
        "api-customer-loyalty-redeem": (api, f"{loyalty}/redeem", {"reward_id": reward.pk}),
        "api-customer-loyalty-adjust": (
            role_api(shop, MANAGER),
            f"{loyalty}/adjust",
            {"points": 25, "reason": "goodwill"},
        ),
        "api-customer-loyalty-referral": (
            api,
            f"/api/v1/customers/{own_id(newcomer)}/loyalty/referral",
            {"referral_code": referral_code_of(ann.pk, shop.group_id)},
        ),
        "api-loyalty-code-consume": (api, f"/api/v1/loyalty/codes/{code.code}/consume", {}),
        "api-products": (api, "/api/v1/products", {"products": [{"sku": "TEA-1", "replenish_days": 30}]}),
        "api-customer-erasure-request": (api, f"/api/v1/customers/{own_id(ann)}/erasure-request", {}),
    }


def test_every_post_endpoint_is_covered_here(world):
    assert set(world) == post_endpoints()


@pytest.mark.parametrize("name", sorted(post_endpoints()))
def test_the_same_key_twice_writes_once_and_replays_the_first_answer(world, name):
    client, path, body = world[name]
    before = row_counts()

    first = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=f"retry-{name}")
    after_first = row_counts()
    again = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=f"retry-{name}")

    assert 200 <= first.status_code < 300, first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert (again.status_code, again.content) == (first.status_code, first.content)  # byte for byte
    assert again["Content-Type"] == "application/json"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert row_counts() == after_first  # the retry wrote nothing
    assert after_first[IdempotencyRecord._meta.label] == before[IdempotencyRecord._meta.label] + 1


def test_a_refund_without_external_id_sent_three_times_with_one_key_is_one_refund(api, order_payload):
    api.post("/api/v1/orders", order_payload, format="json")
    responses = [
        api.post("/api/v1/orders/1001/refunds", {"amount": "10.00"}, format="json", HTTP_IDEMPOTENCY_KEY="refund-1")
        for _ in range(3)
    ]

    assert [r.status_code for r in responses] == [201, 201, 201]
    assert responses[1].json() == responses[2].json() == responses[0].json()
    assert Refund.objects.count() == 1
    assert str(Order.objects.get().refunds.get().amount) == "10.00"


def test_the_same_key_on_another_endpoint_is_409_and_writes_nothing(api, order_payload):
    api.post("/api/v1/orders", order_payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = api.post("/api/v1/orders/1001/refunds", {"amount": "10.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 409 and "Idempotency-Key" in response.json()["errors"]
    assert Refund.objects.count() == 0


def test_a_refused_request_stores_nothing_and_a_corrected_retry_runs(api, order_payload):
    api.post("/api/v1/orders", order_payload, format="json")
    too_much = api.post(
        "/api/v1/orders/1001/refunds", {"amount": "999.00"}, format="json", HTTP_IDEMPOTENCY_KEY="refund-2"
    )
    corrected = api.post(
        "/api/v1/orders/1001/refunds", {"amount": "9.00"}, format="json", HTTP_IDEMPOTENCY_KEY="refund-2"
    )

    assert (too_much.status_code, corrected.status_code) == (400, 201)
    assert Refund.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


def test_without_a_key_a_refund_without_external_id_is_a_new_refund_each_time(api, order_payload):
    """The key is what makes a retry safe; a refund with no external id and no key is taken as meant twice."""
    api.post("/api/v1/orders", order_payload, format="json")
    for _ in range(2):
        assert api.post("/api/v1/orders/1001/refunds", {"amount": "1.00"}, format="json").status_code == 201
    assert Refund.objects.count() == 2


@pytest.mark.parametrize("key", ["a\x00b", "tab\there", "x" * 256])
def test_a_key_with_a_nul_a_control_character_or_too_long_is_a_400_naming_the_header(api, order_payload, key):
    response = api.post("/api/v1/orders", order_payload, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert not Order.objects.exists() and not IdempotencyRecord.objects.exists()
