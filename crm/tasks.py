from celery import shared_task

from crm.services import idempotency_records_purge


@shared_task
def purge_idempotency_records() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): forget Idempotency-Key responses older than a day."""
    return idempotency_records_purge()
