"""What staff do with webhooks (the admin calls these)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from core.secrets import secret_encrypt
from crm.webhooks.addresses import UnsafeAddress, url_check
from crm.webhooks.events import sources_start
from crm.webhooks.models import EventType, OutboundDelivery, WebhookEndpoint, WebhookEvent
from crm.webhooks.secrets import secret_generate
from customers.models import Shop


class WebhookError(DomainError):
    """Bad endpoint settings; ``field`` names the one at fault."""


def endpoint_check(*, url: str, events: Iterable[str]) -> list[str]:
    """The events, checked, with the URL; ``WebhookError`` names the field at fault."""
    try:
        url_check(url)
    except UnsafeAddress as error:
        raise WebhookError(str(error), field="url") from error
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in EventType.values]
    if unknown:
        raise WebhookError(f"No such event: {', '.join(unknown)}.", field="events")
    if not chosen:
        raise WebhookError("Choose at least one event.", field="events")
    return chosen


def endpoint_create(
    *, shop: Shop, url: str, events: Iterable[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of ``shop`` and its signing secret (returned once, stored encrypted)."""
    chosen = endpoint_check(url=url, events=events)
    secret = secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            shop=shop, url=url, events=chosen, description=description, secret_encrypted=secret_encrypt(secret)
        )
        sources_start(chosen)
    return endpoint, secret


def endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret for ``endpoint`` (the old one stops at once); returned once."""
    secret = secret_generate()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=secret_encrypt(secret))
    return secret


def endpoints_enable(endpoint_ids: Iterable[int]) -> int:
    """Switch endpoints back on: their failure count starts again, and their pending
    deliveries are due at once. Returns the endpoints switched on."""
    ids = list(endpoint_ids)
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk__in=ids, active=False).update(
            active=True, consecutive_failures=0, failing_since=None, disabled_at=None, disabled_reason=""
        )
        OutboundDelivery.objects.filter(endpoint_id__in=ids, status=OutboundDelivery.Status.PENDING).update(
            next_attempt_at=now
        )
    return changed


def deliveries_resend(delivery_ids: Iterable[int]) -> int:
    """Send deliveries again (delivered, failed or waiting): due at once, with a new day of
    retries; the same ``webhook-id``, so a receiver that had it drops the repeat."""
    now = timezone.now()
    return OutboundDelivery.objects.filter(pk__in=list(delivery_ids)).update(
        status=OutboundDelivery.Status.PENDING,
        next_attempt_at=now,
        give_up_at=now + settings.WEBHOOK_RETRY_FOR,
        delivered_at=None,
    )


def webhooks_purge(*, now=None, batch: int = 10_000) -> int:
    """Hourly: forget finished deliveries older than ``WEBHOOK_LOG_DAYS`` and outbox events
    the pass has read (older than a day). Returns the rows deleted."""
    now = now or timezone.now()
    deleted = 0
    finished = OutboundDelivery.objects.filter(
        status__in=[OutboundDelivery.Status.DELIVERED, OutboundDelivery.Status.FAILED],
        created_at__lt=now - timedelta(days=settings.WEBHOOK_LOG_DAYS),
    )
    read = WebhookEvent.objects.filter(created_at__lt=now - timedelta(days=1))
    for rows in (finished, read):
        while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:batch]):
            deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
    return deleted
