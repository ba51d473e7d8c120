"""API keys: 401 without a valid key, and a key reaches only its own shop's data (else 404)."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import ApiKey
from customers.services.api_keys import api_key_revoke

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer crm_nope_nope", "Token abc", "Basic dXNlcjpwYXNz", "Bearer crm_000000000000_x"],
)
def test_missing_or_wrong_key_is_401(shop, header, order_payload):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)

    response = client.post("/api/v1/orders", order_payload, format="json")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"]


def test_a_revoked_key_is_401_at_once_even_after_use(api, shop_and_key, order_payload):
    assert api.get("/api/v1/customers").status_code == 200  # the key's lookup is now cached

    api_key_revoke(api_key=shop_and_key[1].api_key)

    assert api.post("/api/v1/orders", order_payload, format="json").status_code == 401


def test_a_key_of_the_right_prefix_with_a_wrong_secret_is_401(shop_and_key, order_payload):
    key = shop_and_key[1].key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key[:-1]}{'A' if key[-1] != 'A' else 'B'}")

    assert client.post("/api/v1/orders", order_payload, format="json").status_code == 401


def test_using_a_key_records_when_it_was_last_used(api, shop_and_key):
    before = timezone.now()
    api.get("/api/v1/customers")

    assert ApiKey.objects.get().last_used_at >= before


def test_another_shops_key_cannot_see_the_customer(api, other_api, order_payload):
    customer_id = api.post("/api/v1/orders", order_payload, format="json").json()["customer_id"]

    assert api.get(f"/api/v1/customers/{customer_id}").status_code == 200
    assert other_api.get(f"/api/v1/customers/{customer_id}").status_code == 404
    assert other_api.get("/api/v1/customers").json()["results"] == []


def test_another_shops_key_cannot_refund_the_order(api, other_api, order_payload):
    api.post("/api/v1/orders", order_payload, format="json")

    response = other_api.post("/api/v1/orders/1001/refunds", {"amount": "1.00"}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/customers/99999999999999999999999", "/api/v1/customers/abc"])
def test_ids_out_of_range_are_404_not_500(api, path):
    assert api.get(path).status_code == 404
