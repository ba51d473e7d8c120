"""Reads about webhooks for the admin."""

from crm.webhooks.models import WebhookEndpoint


def endpoints_switched_off() -> int:
    """Endpoints switched off after repeated failures (the sidebar's badge, the list's banner)."""
    return WebhookEndpoint.objects.filter(active=False, disabled_at__isnull=False).count()
