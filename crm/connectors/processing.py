"""Processing stored deliveries: after each one arrives, and in a periodic sweep.

A delivery is claimed (a lease, so two workers never apply it at once), applied in one
transaction together with its outcome, or, if anything fails, rolled back whole and
recorded as failed with the error. What happens next depends on the error
(``failure_is_permanent``):
- **invalid** (the payload breaks a rule: ``DeliveryError``, a ``DomainError`` or a
  ``ValidationError`` of the services): failed at once, "Invalid, not tried again: …",
  since the same body fails the same way every time;
- **anything else** (the database unavailable, a lock timeout, a deadlock, and anything
  unforeseen) and **not yet** (``DeliveryNotReady``: the refund that came before its
  order): tried again after a backoff, up to ``MAX_ATTEMPTS``.
Any failed delivery can be replayed from the admin at any time. Nothing is lost: the raw
body stays, whatever happens.

``deliveries_kick`` runs after each delivery's response: with a broker it queues one
``process_webhook_deliveries`` task (a burst of ten thousand costs one task, not ten
thousand); on the embedded default it processes in-process (``core.kicks``). Beat runs
the same task every 30 s, so deliveries stored while Redis was down are processed when
it returns.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import DomainError
from core.kicks import Kick
from crm.connectors import shopify, woocommerce
from crm.connectors.errors import DeliveryError, DeliveryNotReady
from crm.connectors.models import Platform, WebhookDelivery

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
TO_DO = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED)
MAX_ATTEMPTS = 8  # then only a replay from the admin tries again
# How the error of an invalid delivery begins, in the admin's delivery log.
INVALID = "Invalid, not tried again (replay it once the cause is fixed): "
BATCH = 500
SWEEP_SECONDS = 60

APPLY: dict[str, Callable[[WebhookDelivery], str]] = {
    Platform.SHOPIFY: shopify.delivery_apply,
    Platform.WOOCOMMERCE: woocommerce.delivery_apply,
}


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each failed attempt, at most six hours."""
    return min(timedelta(minutes=2 ** (attempts - 1)), timedelta(hours=6))


def failure_is_permanent(exc: BaseException) -> bool:
    """Whether applying the same body again would fail the same way: the payload is invalid
    (not a database outage, a lock timeout or a refund waiting for its order)."""
    if isinstance(exc, DeliveryNotReady):
        return False
    return isinstance(exc, (DeliveryError, DomainError, ValidationError))


def _message(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def delivery_process(delivery_id: int) -> bool:
    """Apply one delivery if it is still to do and no one else holds it; True if it was
    processed now."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status__in=TO_DO)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("connection", "shop").get(pk=delivery_id)
    try:
        with transaction.atomic():
            result = APPLY[delivery.connection.platform](delivery)
            WebhookDelivery.objects.filter(pk=delivery_id).update(
                status=WebhookDelivery.Status.PROCESSED,
                result=result[:500],
                error="",
                processed_at=timezone.now(),
                locked_until=None,
                next_attempt_at=None,
            )
    except Exception as exc:
        if failure_is_permanent(exc):
            error, again = f"{INVALID}{_message(exc)}", None
        else:
            error = f"{type(exc).__name__}: {exc}"
            again = timezone.now() + retry_delay(delivery.attempts) if delivery.attempts < MAX_ATTEMPTS else None
        logger.warning("Webhook delivery %s (%s) failed: %s", delivery_id, delivery.topic, error)
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED, error=error, result="", locked_until=None, next_attempt_at=again
        )
        return False
    return True


def _due_ids(limit: int) -> list[int]:
    now = timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            Q(status=WebhookDelivery.Status.PENDING) | Q(status=WebhookDelivery.Status.FAILED, next_attempt_at__lte=now)
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def deliveries_process_due(*, seconds: float = SWEEP_SECONDS, on_full_batch=None) -> int:
    """Process what is due (new deliveries, failed ones whose retry time came), oldest first,
    in batches, for ``seconds`` at most; returns how many were processed."""
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        ids = _due_ids(BATCH)
        for delivery_id in ids:
            done += delivery_process(delivery_id)
        if len(ids) < BATCH:
            break
        if on_full_batch is not None:
            on_full_batch()
    return done


def deliveries_replay(ids: Iterable[int]) -> tuple[int, int]:
    """The admin's replay: failed deliveries applied again now, whatever their attempts.
    Returns (processed, still failing)."""
    failed = list(
        WebhookDelivery.objects.filter(pk__in=list(ids), status=WebhookDelivery.Status.FAILED)
        .order_by("id")
        .values_list("id", flat=True)
    )
    ok = sum(delivery_process(delivery_id) for delivery_id in failed)
    return ok, len(failed) - ok


class Coalesced:
    """A kick run at most once per ``gap`` seconds in this process: a burst of a thousand
    deliveries a second asks the broker once every half second, not a thousand times (each
    ask is a Redis round trip). A kick that comes within the gap is not dropped: one more
    runs when the gap ends. On the embedded default (tasks in-process) every kick runs at
    once, as the in-process work is one thread at a time already (``core.kicks``)."""

    def __init__(self, kick: Kick, *, gap: float):
        self.kick, self.gap = kick, gap
        self._lock = threading.Lock()
        self._last = -gap
        self._timer: threading.Timer | None = None

    def __call__(self) -> None:
        if current_app.conf.task_always_eager:
            self.kick()
            return
        with self._lock:
            now = time.monotonic()
            run_now = now - self._last >= self.gap
            if run_now:
                self._last = now
            elif self._timer is None:
                self._timer = threading.Timer(self.gap - (now - self._last), self._fire)
                self._timer.daemon = True
                self._timer.start()
        if run_now:
            self.kick()

    def _fire(self) -> None:
        with self._lock:
            self._timer, self._last = None, time.monotonic()
        self.kick()


deliveries_kick = Kick(
    flag="crm:connectors:process-queued",
    task="crm.tasks.process_webhook_deliveries",
    seconds=SWEEP_SECONDS,
    run=lambda: deliveries_process_due(),
    log=logger,
)
# What each delivery's response runs (crm.connectors.views).
deliveries_kick_coalesced = Coalesced(deliveries_kick, gap=0.5)
