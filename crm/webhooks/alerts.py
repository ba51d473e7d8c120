"""Telling the staff that an endpoint was switched off after repeated failures.

When ``delivery._disable_if_failing`` switches an endpoint off, ``endpoint_off_alert`` queues
one email to each person who may switch it back on (``selectors.endpoint_managers``), through
the email channel's outbox (``messaging.services.message_queue``), in the same transaction as
the switch: the email exists if and only if the switch committed, is sent after the commit,
and waits in the database through an outage of Redis or the SMTP server. Its key names the
endpoint and the moment it was switched off, so one switch gives one email per person,
whatever retries the task, and switching it off again later gives new ones.

The email is sent as the CRM (not as the shop), and says which shop, why and where to act;
it does not carry the endpoint's URL, which may hold the receiver's own token (as many
webhook addresses do) and would otherwise sit in mailboxes and in the email log, which
support agents read (they see no endpoints).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse

from crm.webhooks.selectors import endpoint_managers
from messaging.rendering import register_template
from messaging.services import MessageRequest, messages_queue

TEMPLATE = "webhook_endpoint_off"

register_template(TEMPLATE, "To the managers: an outbound webhook endpoint was switched off after repeated failures.")


def alert_key(*, endpoint_id: int, disabled_at: datetime, user_id: int) -> str:
    return f"webhook-endpoint-off:{endpoint_id}:{disabled_at.timestamp():.6f}:{user_id}"


def endpoint_off_alert(*, endpoint_id: int, shop_name: str, reason: str, disabled_at: datetime) -> int:
    """Queue the email about one switch-off to each manager; call in the transaction that
    switched it off. Returns the messages queued (0 if nobody may act on it: the admin's
    banner and the warning in the log remain)."""
    link = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("admin:crm_webhookendpoint_change", args=[endpoint_id])
    context = {
        "shop": {"name": shop_name},
        "endpoint": {"number": endpoint_id, "reason": reason, "link": link},
    }
    requests = [
        MessageRequest(
            key=alert_key(endpoint_id=endpoint_id, disabled_at=disabled_at, user_id=user_id),
            template=TEMPLATE,
            to_email=email,
            context=context,
        )
        for user_id, email in endpoint_managers()
    ]
    return len(messages_queue(requests))
