"""Writes that belong to the composition layer itself."""

from datetime import timedelta

from django.utils import timezone

from crm.models import IdempotencyRecord

# How long a stored response answers a retry with the same Idempotency-Key.
IDEMPOTENCY_TTL = timedelta(hours=24)


def idempotency_records_purge(*, older_than: timedelta = IDEMPOTENCY_TTL) -> int:
    """Delete stored responses past their time; returns how many. One DELETE on an index."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
