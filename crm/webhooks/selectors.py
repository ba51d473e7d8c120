"""Reads about webhooks for the admin."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q

from crm.webhooks.models import WebhookEndpoint


def endpoints_switched_off() -> int:
    """Endpoints switched off after repeated failures (the sidebar's badge, the list's banner)."""
    return WebhookEndpoint.objects.filter(active=False, disabled_at__isnull=False).count()


def endpoint_managers() -> list[tuple[int, str]]:
    """(id, email) of the people told when an endpoint is switched off: active staff with an
    email address who may switch it back on (the change permission on endpoints, through a
    role or given directly: managers; superusers)."""
    may_change = Permission.objects.filter(content_type__app_label="crm", codename="change_webhookendpoint")
    return list(
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .exclude(email="")
        .filter(Q(is_superuser=True) | Q(groups__permissions__in=may_change) | Q(user_permissions__in=may_change))
        .distinct()
        .order_by("pk")
        .values_list("pk", "email")
    )
