"""The platforms' webhook path skips the middleware that serves people
(``crm.connectors.middleware``) and keeps every check a delivery needs."""

import pytest

from core.secrets import secret_encrypt
from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.tests.shopify_payloads import SECRET, deliver, order
from customers.services.api_keys import shop_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    shop, _ = shop_create(slug="acme", name="Acme")
    return ShopConnection.objects.create(
        shop=shop, platform="shopify", domain="acme.myshopify.com", secret_encrypted=secret_encrypt(SECRET)
    )


def test_a_delivery_passes_none_of_the_staff_pages_layers(client, acme):
    response = deliver(client, acme, "orders/create", order())

    assert response.status_code == 200 and WebhookDelivery.objects.count() == 1
    # No session, CSRF cookie, CSP or frame headers: those layers did not run.
    assert not response.cookies
    assert "Content-Security-Policy" not in response and "X-Frame-Options" not in response
    # SecurityMiddleware, before it, still does.
    assert response["X-Content-Type-Options"] == "nosniff"
    # Another path has them all.
    assert "Content-Security-Policy" in client.get("/admin/login/")


def test_the_signature_is_still_checked_first(client, acme):
    response = deliver(client, acme, "orders/create", order(), signature="bm9wZQ==")

    assert response.status_code == 401 and WebhookDelivery.objects.count() == 0


def test_a_body_over_the_limit_is_413_before_it_is_read(client, acme, settings):
    settings.API_MAX_BODY_BYTES = 1000

    response = deliver(client, acme, "orders/create", order())

    assert response.status_code == 413
    assert response.content.decode().startswith("The request body is ")
    assert response.content.decode().endswith("; the limit is 1000 bytes.")
    assert WebhookDelivery.objects.count() == 0


def test_a_nul_in_the_path_is_400(client, acme):
    response = client.post(f"/connectors/shopify/{acme.token}%00/", data=b"{}", content_type="application/json")

    assert response.status_code == 400 and b"NUL character" in response.content
    assert WebhookDelivery.objects.count() == 0


def test_other_methods_and_unknown_paths_are_refused(client, acme):
    assert client.get(f"/connectors/shopify/{acme.token}/").status_code == 405
    assert client.post("/connectors/magento/x/", data=b"{}", content_type="application/json").status_code == 404
    assert (
        client.post("/connectors/shopify/no-such-token/", data=b"{}", content_type="application/json").status_code
        == 404
    )
