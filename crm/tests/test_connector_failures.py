"""Inbound deliveries that fail: an invalid one is failed at once with its reason, shown in
the admin's delivery log; one that met a database outage or a lock timeout is tried again
after a backoff and then applied."""

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from core.secrets import secret_encrypt
from crm.connectors.models import ConnectorVersion, ShopConnection, WebhookDelivery
from crm.connectors.processing import INVALID, deliveries_process_due
from crm.tests.shopify_payloads import SECRET, deliver, order
from customers.models import Order
from customers.services.api_keys import shop_create


@pytest.fixture
def acme(db):
    shop, _ = shop_create(slug="acme", name="Acme")
    return ShopConnection.objects.create(
        shop=shop, platform="shopify", domain="acme.myshopify.com", secret_encrypted=secret_encrypt(SECRET)
    )


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def go(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(*args, **kwargs)

    return go


def _due_later(hours: float) -> None:
    """The clock moves on: whatever waits for a retry within ``hours`` is due now."""
    WebhookDelivery.objects.filter(next_attempt_at__lte=timezone.now() + timedelta(hours=hours)).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, reason",
    [
        ({"currency": "XX"}, "currency: 'XX' is not an ISO 4217 code."),
        ({"line_items": [{"sku": "MUG-1", "price": "49.50", "quantity": "two"}]}, "line_items[0].quantity: 'two'"),
        ({"total_price": "-5"}, "total_price: -5 is out of range"),
    ],
)
def test_an_invalid_order_fails_at_once_with_its_reason_in_the_delivery_log(
    client, admin_client, acme, run, change, reason
):
    assert run(client, acme, "orders/create", {**order(), **change}).status_code == 200  # Shopify is answered

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert delivery.error.startswith(INVALID + reason)
    page = admin_client.get("/admin/crm/webhookdelivery/").content.decode()
    assert "Invalid, not tried again (replay it once the cause is fixed): " in page
    assert reason.replace("'", "&#x27;") in page

    # Days later, the sweep leaves it alone: the same body would fail the same way.
    _due_later(hours=48)
    assert deliveries_process_due() == 0
    assert WebhookDelivery.objects.get().attempts == 1
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_fails_at_once(client, acme, run):
    run(client, acme, "orders/create", [1, 2, 3])

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.next_attempt_at, delivery.error) == (
        "failed",
        None,
        INVALID + "The body is not a JSON object.",
    )


@pytest.mark.django_db
def test_an_invalid_delivery_replayed_once_fixed_is_applied(client, admin_client, acme, run):
    run(client, acme, "orders/create", order(currency="EUR"))  # no EUR rate yet
    delivery = WebhookDelivery.objects.get()
    assert delivery.next_attempt_at is None and "No exchange rate from EUR" in delivery.error

    from customers.models import ExchangeRate

    ExchangeRate.objects.create(currency="EUR", rate_to_base=Decimal("1.10"))
    admin_client.post("/admin/crm/webhookdelivery/", {"action": "replay", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error, delivery.attempts) == ("processed", "", 2)
    assert Order.objects.get().total_base == Decimal("225.32")


@contextmanager
def _table_locked(table: str):
    """Another connection holds ``table`` so this one's writes to it time out (PostgreSQL:
    a lock, with a 200 ms ``lock_timeout`` here) or are refused (SQLite's shared cache:
    another connection's read transaction on the table) until it lets go."""
    other = connections.create_connection("default")
    cursor = other.cursor()
    if connection.vendor == "postgresql":
        cursor.execute("BEGIN")
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as mine:
            mine.execute("SET lock_timeout = '200ms'")
    else:
        cursor.execute("BEGIN")
        cursor.execute(f"SELECT count(*) FROM {table}")
    try:
        yield
    finally:
        cursor.execute("ROLLBACK")
        other.close()
        if connection.vendor == "postgresql":
            with connection.cursor() as mine:
                mine.execute("RESET lock_timeout")


@pytest.mark.django_db(transaction=True)
def test_a_lock_timeout_is_tried_again_after_a_backoff_and_then_applied(client, acme):
    with _table_locked(ConnectorVersion._meta.db_table):
        assert deliver(client, acme, "orders/create", order()).status_code == 200  # stored, then applied: it waits

        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts) == ("failed", 1)
        assert delivery.error.startswith("OperationalError: ") and not delivery.error.startswith(INVALID)
        # Tried again a minute later (then 2, 4 … minutes), not given up.
        assert timezone.now() + timedelta(seconds=50) < delivery.next_attempt_at < timezone.now() + timedelta(minutes=1)
        assert deliveries_process_due() == 0  # not due yet
        assert Order.objects.count() == 0

    _due_later(hours=1)
    assert deliveries_process_due() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error, delivery.attempts) == ("processed", "", 2)
    assert Order.objects.get().external_id == "5001"
