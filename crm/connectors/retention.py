"""How long the platforms' raw deliveries are kept: ``CONNECTOR_DELIVERY_LOG_DAYS`` after
they arrived, once processed or failed (a pending one is kept until it is processed). The
bodies are the shops' payloads, with their customers' personal data."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from crm.connectors.models import WebhookDelivery


def deliveries_purge(*, now: datetime | None = None, batch: int = 10_000) -> int:
    """Delete finished deliveries past the log's days, in batches; returns how many."""
    now = now or timezone.now()
    old = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.PROCESSED, WebhookDelivery.Status.FAILED],
        received_at__lt=now - timedelta(days=settings.CONNECTOR_DELIVERY_LOG_DAYS),
    )
    deleted = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:batch]):
        deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
    return deleted
