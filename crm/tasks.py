from django.core.cache import cache

from core.task_policy import crm_task
from crm.follow_up import DRAIN_QUEUED, pending_updates_drain, queue_drain
from crm.services import idempotency_records_purge


@crm_task()
def purge_idempotency_records() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): forget Idempotency-Key responses older than a day."""
    return idempotency_records_purge()


@crm_task()
def drain_pending_updates() -> int:
    """After data arrives (queued by ``crm.follow_up.pending_updates_kick``) and every 30 s
    (CELERY_BEAT_SCHEDULE): bring marked customers up to date, in batches. Several may run
    at once: each takes its own batches. A full batch queues one more, so a backlog spreads
    over the workers."""
    cache.delete(DRAIN_QUEUED)  # marks from now on queue a drain after this one
    return pending_updates_drain(on_full_batch=queue_drain)
