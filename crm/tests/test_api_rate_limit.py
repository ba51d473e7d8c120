"""Requests per API key (API_RATE_PER_KEY): over the limit, 429 with Retry-After and the
API's error body; each key has its own allowance; a bulk POST is one request. The tests use
a day's window, so that no test straddles two windows."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from crm.api.throttling import parse_rate
from customers.models import Order
from customers.services.api_keys import shop_create


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.mark.django_db
def test_a_key_over_its_rate_gets_429_with_retry_after_and_writes_nothing(api, order_payload):
    with override_settings(API_RATE_PER_KEY="3/day"):
        statuses = [api.get("/api/v1/customers").status_code for _ in range(3)]
        refused = api.post("/api/v1/orders", order_payload, format="json")

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 86400
    body = refused.json()
    assert body["errors"] == {}
    assert body["detail"].startswith("Request was throttled. Expected available in ")
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_each_key_has_its_own_allowance(api, other_api):
    with override_settings(API_RATE_PER_KEY="2/day"):
        mine = [api.get("/api/v1/customers").status_code for _ in range(3)]
        theirs = [other_api.get("/api/v1/customers").status_code for _ in range(2)]
    assert mine == [200, 200, 429]
    assert theirs == [200, 200]


@pytest.mark.django_db
def test_a_bulk_post_of_many_orders_counts_as_one_request(api, order_payload):
    orders = [{**order_payload, "external_id": str(n)} for n in range(50)]
    with override_settings(API_RATE_PER_KEY="2/day"):
        bulk = api.post("/api/v1/orders/bulk", {"orders": orders}, format="json")
        after = api.get("/api/v1/customers")
        refused = api.get("/api/v1/customers")
    assert (bulk.status_code, after.status_code, refused.status_code) == (200, 200, 429)
    assert Order.objects.count() == 50


@pytest.mark.django_db
def test_the_default_rate_is_far_above_the_benchmark_s_sequential_client(api):
    """`make bench` sends single POSTs one after another at ~10 ms each (about 6,000 a
    minute): the default must leave it room, also with two client threads."""
    from django.conf import settings

    limit, window = parse_rate(settings.API_RATE_PER_KEY)
    assert limit / window >= 2 * 100
    assert [api.get("/api/v1/customers").status_code for _ in range(30)] == [200] * 30


@pytest.mark.parametrize(
    ("rate", "parsed"), [("6000/minute", (6000, 60)), ("10/s", (10, 1)), ("5/hour", (5, 3600)), ("1/day", (1, 86400))]
)
def test_rates_are_read_as_drf_writes_them(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.django_db
def test_a_missing_key_is_refused_by_authentication_not_counted(order_payload):
    _, issued = shop_create(slug="main", name="Main")
    anonymous = APIClient()
    with override_settings(API_RATE_PER_KEY="1/day"):
        assert [anonymous.get("/api/v1/customers").status_code for _ in range(3)] == [401, 401, 401]
        assert client_for(issued.key).get("/api/v1/customers").status_code == 200


@pytest.mark.django_db
def test_an_empty_rate_means_no_limit(api):
    with override_settings(API_RATE_PER_KEY=""):
        assert [api.get("/api/v1/customers").status_code for _ in range(5)] == [200] * 5
