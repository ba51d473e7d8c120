"""WooCommerce's webhooks end to end through HTTP, signed as WooCommerce signs them."""

import json
import uuid
from decimal import Decimal

import pytest

from core.secrets import secret_encrypt
from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.tests.shopify_payloads import sign
from customers.models import Customer, Order, Refund
from customers.services.api_keys import shop_create

pytestmark = pytest.mark.django_db

SECRET = "wc-webhook-secret"


@pytest.fixture
def site(db):
    shop, _ = shop_create(slug="woo", name="Woo")
    return ShopConnection.objects.create(
        shop=shop, platform="woocommerce", domain="https://shop.example.org", secret_encrypted=secret_encrypt(SECRET)
    )


def deliver(client, connection, topic, payload, *, secret=SECRET, source="https://shop.example.org/", body=None):
    body = body if body is not None else json.dumps(payload).encode()
    resource, _, event = topic.partition(".")
    headers = {
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,  # a new one each attempt
        "X-WC-Webhook-Signature": sign(body, secret),
    }
    return client.post(
        f"/connectors/woocommerce/{connection.token}/", data=body, content_type="application/json", headers=headers
    )


def wc_order(oid=727, *, status="processing", modified="2026-02-01T10:00:05", refunds=()):
    return {
        "id": oid,
        "number": str(oid),
        "status": status,
        "currency": "USD",
        "prices_include_tax": False,
        "date_created_gmt": "2026-02-01T10:00:00",
        "date_modified_gmt": modified,
        "discount_total": "10.00",
        "discount_tax": "0.00",
        "shipping_total": "5.00",
        "shipping_tax": "0.00",
        "cart_tax": "8.00",
        "total": "103.00",
        "total_tax": "8.00",
        "customer_id": 26,
        "created_via": "checkout",
        "billing": {"first_name": "Bo", "last_name": "Ng", "email": "bo@example.com", "phone": "555", "country": "CA"},
        "shipping": {"address_1": "9 Elm St", "address_2": "", "city": "Ottawa", "postcode": "K1A", "country": "CA"},
        "line_items": [
            {
                "id": 1,
                "name": "Hoodie",
                "sku": "HOOD",
                "quantity": 2,
                "subtotal": "60.00",
                "total": "54.00",
                "price": 27.0,
            },
            {"id": 2, "name": "Cap", "sku": "CAP", "quantity": 3, "subtotal": "40.00", "total": "36.00", "price": 12.0},
        ],
        "coupon_lines": [{"id": 3, "code": "tenoff", "discount": "10.00"}],
        "fee_lines": [],
        "refunds": list(refunds),
    }


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def go(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(*args, **kwargs)

    return go


def test_the_creation_ping_is_answered_and_stores_nothing(client, site):
    response = client.post(
        f"/connectors/woocommerce/{site.token}/",
        data=b"webhook_id=12",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200 and WebhookDelivery.objects.count() == 0


def test_a_signed_order_is_stored_and_counted(client, site, run):
    assert run(client, site, "order.created", wc_order()).status_code == 200

    placed = Order.objects.get()
    assert (placed.external_id, placed.status, placed.total, placed.subtotal) == (
        "727",
        "paid",
        Decimal("103.00"),
        Decimal("99.99"),
    )
    # 3 caps at 40.00 are 13.33 each (subtotal 99.99): the cent lost counts with shipping.
    assert (placed.discount_total, placed.tax_total, placed.shipping_total) == (
        Decimal("10.00"),
        Decimal("8.00"),
        Decimal("5.01"),
    )
    buyer = Customer.objects.get()
    assert (buyer.email, buyer.country, buyer.orders_count, buyer.net_revenue) == (
        "bo@example.com",
        "CA",
        1,
        Decimal("103.00"),
    )


def test_a_duplicate_order_created_is_stored_once(client, site, run):
    run(client, site, "order.created", wc_order())
    run(client, site, "order.created", wc_order())  # WooCommerce sends it twice, each with a new delivery id

    assert WebhookDelivery.objects.count() == 1
    assert WebhookDelivery.objects.get().delivery_key == "order:727:2026-02-01T10:00:05"
    assert Order.objects.count() == 1 and Customer.objects.get().orders_count == 1


def test_refunds_come_from_the_orders_refunds_array(client, site, run):
    run(client, site, "order.created", wc_order())
    refunded = wc_order(modified="2026-02-03T09:00:00", refunds=[{"id": 801, "reason": "Too small", "total": "-20.00"}])
    run(client, site, "order.updated", refunded)
    run(client, site, "order.updated", {**refunded, "date_modified_gmt": "2026-02-03T09:30:00"})

    assert list(Refund.objects.values_list("external_id", "amount", "reason")) == [
        ("801", Decimal("20.00"), "Too small"),
    ]
    assert Customer.objects.get().net_revenue == Decimal("83.00")


def test_an_older_update_changes_nothing(client, site, run):
    run(client, site, "order.updated", wc_order(status="completed", modified="2026-02-04T00:00:00"))
    run(client, site, "order.created", wc_order(status="pending"))

    assert Order.objects.get().status == "fulfilled"


def test_the_signature_is_checked_on_the_raw_bytes(client, site):
    body = json.dumps(wc_order()).encode()
    resent = json.dumps(wc_order(), indent=1).encode()

    bad = deliver(client, site, "order.created", None, body=resent, secret="guessed")
    reparsed = client.post(
        f"/connectors/woocommerce/{site.token}/",
        data=resent,
        content_type="application/json",
        headers={"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": sign(body, SECRET)},
    )

    assert (bad.status_code, reparsed.status_code) == (401, 401)
    assert WebhookDelivery.objects.count() == 0


def test_another_sites_webhook_is_refused(client, site):
    response = deliver(client, site, "order.created", wc_order(), source="https://evil.example.com/")

    assert response.status_code == 401 and WebhookDelivery.objects.count() == 0


def test_a_customer(client, site, run):
    customer = {
        "id": 26,
        "date_modified_gmt": "2026-01-05T08:00:00",
        "email": "bo@example.com",
        "first_name": "Bo",
        "last_name": "Ng",
        "billing": {"phone": "555-1", "country": "CA"},
    }
    run(client, site, "customer.created", customer)

    person = Customer.objects.get()
    assert (person.first_name, person.phone, person.country) == ("Bo", "555-1", "CA")
