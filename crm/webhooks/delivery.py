"""Sending deliveries: claim the due ones, sign each attempt afresh, POST, and record.

- **Claim**: a batch of due pending deliveries of active endpoints is taken with
  ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer) and its next
  attempt pushed ``CLAIM`` ahead, in a short transaction. The requests are made outside
  any transaction; a worker killed mid-batch leaves its deliveries to be taken again once
  the claim runs out. Several senders at once take different batches.
- **Attempt**: the connection goes to the address the check allowed (``post_pinned``).
  The body is the delivery's stored payload, byte for byte the same on every
  attempt, as is ``webhook-id``; ``webhook-timestamp`` and ``webhook-signature`` are made
  at each attempt (Standard Webhooks, with the ``standardwebhooks`` reference code). The
  host's addresses are checked again first (``crm.webhooks.addresses``). Redirects are not
  followed. Any 2xx is a success.
- **Backoff**: after a failure the next attempt waits ``backoff(attempts)``: 30 s doubled
  each time, at most 4 h; a failure past ``give_up_at`` (``WEBHOOK_RETRY_FOR``, a day,
  after the delivery was made or sent again by hand) is the last (status failed).
- **Disabling**: each endpoint counts its failed attempts in a row (a success resets it).
  Once every attempt has failed for ``WEBHOOK_DISABLE_AFTER`` (a day), or
  ``WEBHOOK_DISABLE_AFTER_FAILURES`` attempts in a row have failed, the endpoint is switched
  off with the reason; the admin's endpoint list and pages say so, each manager is emailed
  once (``crm.webhooks.alerts``, queued in the same transaction), and its pending
  deliveries wait until a manager switches it back on.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from requests.adapters import HTTPAdapter
from standardwebhooks.webhooks import Webhook

from core.secrets import SecretUnreadable, secret_decrypt
from crm.webhooks.addresses import UnsafeAddress, url_check
from crm.webhooks.alerts import endpoint_off_alert
from crm.webhooks.models import OutboundDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

CLAIM = timedelta(minutes=3)
BATCH = 50
TIMEOUT = (5, 10)  # seconds: to connect, and between bytes of the answer
# Seconds a task spends attempting; well inside the task's soft limit (core.task_policy).
SEND_BUDGET = 60
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=4)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min … 4 h."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""


def deliveries_claim(*, now: datetime, limit: int = BATCH) -> list[int]:
    """Take up to ``limit`` due deliveries for this sender; returns their ids."""
    with transaction.atomic():
        due = (
            OutboundDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=OutboundDelivery.Status.PENDING, next_attempt_at__lte=now, endpoint__active=True)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        ids = list(due)
        OutboundDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now + CLAIM)
    return ids


def sign_headers(*, secret: str, message_id: str, body: bytes, now: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=now, data=body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "CRM-Webhooks/1",
    }


class _PinnedTls(HTTPAdapter):
    """TLS to an address given by number, with the name's SNI and certificate check."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.hostname
        kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


def post_pinned(url: str, address: str, *, body: bytes, headers: dict[str, str]) -> requests.Response:
    """POST ``url`` at ``address``, the address ``url_check`` just allowed: the connection
    goes where the check looked, so a name that resolves elsewhere a moment later (DNS
    rebinding) is not followed. The Host header, TLS SNI and the certificate check use the
    URL's name."""
    parts = urlsplit(url)
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: it would resolve the name itself
        if parts.scheme == "https":
            session.mount("https://", _PinnedTls(parts.hostname or ""))
        return session.post(
            urlunsplit(parts._replace(netloc=netloc)),
            data=body,
            headers={**headers, "host": parts.netloc},
            timeout=TIMEOUT,
            allow_redirects=False,
            verify=settings.WEBHOOK_CA_BUNDLE or True,
        )


def attempt(delivery: OutboundDelivery, *, now: datetime) -> Outcome:
    """One POST of ``delivery`` to its endpoint."""
    endpoint = delivery.endpoint
    try:
        addresses = url_check(endpoint.url)
    except UnsafeAddress as error:
        return Outcome(False, error=str(error))
    try:
        secret = secret_decrypt(endpoint.secret_encrypted)
    except SecretUnreadable:
        return Outcome(
            False, error="The signing secret cannot be read (the key changed?): give the endpoint a new one."
        )
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = sign_headers(secret=secret, message_id=delivery.message_id, body=body, now=now)
    try:
        response = post_pinned(endpoint.url, addresses[0], body=body, headers=headers)
    except requests.RequestException as error:
        return Outcome(False, error=f"{type(error).__name__}: {error}"[:500])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code)
    return Outcome(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")


def outcome_record(delivery: OutboundDelivery, outcome: Outcome, *, now: datetime) -> bool:
    """The attempt's result on the delivery, and on its endpoint's run of failures. True if
    the endpoint was switched off by it."""
    switched_off = False
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    with transaction.atomic():
        if outcome.ok:
            delivery.status = OutboundDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            endpoints.update(consecutive_failures=0, failing_since=None)
        else:
            if now >= delivery.give_up_at:
                delivery.status = OutboundDelivery.Status.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
            endpoints.filter(failing_since__isnull=True).update(failing_since=now)
            endpoints.update(consecutive_failures=F("consecutive_failures") + 1)
            switched_off = _disable_if_failing(delivery.endpoint_id, now)
        delivery.save(
            update_fields=[
                "attempts",
                "last_attempt_at",
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    return switched_off


def _disable_if_failing(endpoint_id: int, now: datetime) -> bool:
    active = WebhookEndpoint.objects.filter(pk=endpoint_id, active=True)
    reasons = [
        (Q(failing_since__lte=now - settings.WEBHOOK_DISABLE_AFTER), "every attempt failed for a day"),
        (
            Q(consecutive_failures__gte=settings.WEBHOOK_DISABLE_AFTER_FAILURES),
            f"{settings.WEBHOOK_DISABLE_AFTER_FAILURES} attempts in a row failed",
        ),
    ]
    for condition, reason in reasons:
        if active.filter(condition).update(active=False, disabled_at=now, disabled_reason=f"Switched off: {reason}."):
            logger.warning("Webhook endpoint %s switched off: %s", endpoint_id, reason)
            # Only the one update that switched it off gets here: one email per switch-off.
            shop_name = WebhookEndpoint.objects.filter(pk=endpoint_id).values_list("shop__name", flat=True).get()
            endpoint_off_alert(endpoint_id=endpoint_id, shop_name=shop_name, reason=reason, disabled_at=now)
            return True
    return False


def deliveries_send(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Claim a batch of due deliveries and attempt each, for at most ``SEND_BUDGET``
    seconds. Returns the deliveries taken (a full batch: more may wait)."""
    ids = deliveries_claim(now=now or timezone.now(), limit=limit)
    deliveries = list(OutboundDelivery.objects.filter(pk__in=ids).select_related("endpoint").order_by("pk"))
    switched_off: set[int] = set()
    started = time.monotonic()
    for done, delivery in enumerate(deliveries):
        if time.monotonic() - started > SEND_BUDGET:
            # Slow receivers took the task's time: the rest are due again at once, for the
            # next task (the claim would otherwise hold them for minutes).
            rest = [d.pk for d in deliveries[done:]]
            OutboundDelivery.objects.filter(pk__in=rest, status=OutboundDelivery.Status.PENDING).update(
                next_attempt_at=now or timezone.now()
            )
            return done
        if delivery.endpoint_id in switched_off:  # by an earlier failure of this batch
            continue
        at = now or timezone.now()
        if outcome_record(delivery, attempt(delivery, now=at), now=at):
            switched_off.add(delivery.endpoint_id)
    return len(ids)
