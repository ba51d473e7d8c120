"""Shopify deliveries processed by a real Celery worker from a real Redis (not eager)."""

from decimal import Decimal

import pytest

from core.secrets import secret_encrypt
from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.tests.shopify_payloads import SECRET, deliver, order
from customers.models import Customer
from customers.services.api_keys import shop_create
from tests.live_worker import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_delivery_is_answered_then_processed_by_the_worker(worker, client):
    shop, _ = shop_create(slug="acme", name="Acme")
    connection = ShopConnection.objects.create(
        shop=shop, platform="shopify", domain="acme.myshopify.com", secret_encrypted=secret_encrypt(SECRET)
    )

    assert deliver(client, connection, "orders/create", order()).status_code == 200

    assert wait_for(lambda: WebhookDelivery.objects.get().status == "processed")
    assert wait_for(lambda: Customer.objects.get().orders_count == 1)
    assert Customer.objects.get().net_revenue == Decimal("204.84")
