"""The platforms' raw deliveries are kept for the delivery log's days, then deleted: their
bodies hold customers' personal data (docs/privacy.md)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.connectors.retention import deliveries_purge
from crm.privacy.models import PrivacyRequest
from crm.tasks import purge_connector_deliveries
from customers.tests.factories import ShopFactory

pytestmark = pytest.mark.django_db


def test_finished_deliveries_past_the_log_days_go_and_the_rest_stay(settings):
    settings.CONNECTOR_DELIVERY_LOG_DAYS = 30
    now = timezone.now()
    shop = ShopFactory()
    connection = ShopConnection.objects.create(shop=shop, platform="shopify", domain="a.myshopify.com")

    def delivery(key, status, days_ago):
        return WebhookDelivery.objects.create(
            connection=connection,
            shop=shop,
            delivery_key=key,
            topic="orders/create",
            headers={},
            body=b'{"email": "ann@example.com"}',
            received_at=now - timedelta(days=days_ago),
            status=status,
        )

    old_done = delivery("old-done", "processed", 31)
    delivery("old-failed", "failed", 45)
    delivery("old-pending", "pending", 60)
    delivery("new-done", "processed", 29)
    PrivacyRequest.objects.create(
        kind="customer_redact", delivery=old_done, received_at=old_done.received_at, due_at=now
    )

    assert deliveries_purge(now=now) == 2
    assert sorted(WebhookDelivery.objects.values_list("delivery_key", flat=True)) == ["new-done", "old-pending"]
    assert PrivacyRequest.objects.get().delivery is None  # the request stays, the raw body goes
    assert purge_connector_deliveries() == 0


def test_the_purge_is_scheduled_hourly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-connector-deliveries"]
    assert (entry["task"], entry["schedule"]) == ("crm.tasks.purge_connector_deliveries", 3600.0)
