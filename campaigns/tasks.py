"""Celery tasks for segments: thin, idempotent, take ids."""

from campaigns.models import Segment
from campaigns.services import segment_refresh, segments_refresh_customers
from core.task_policy import crm_task


@crm_task()
def refresh_segment(segment_id: int) -> tuple[int, int]:
    """Bring one segment's membership up to date: (entered, exited)."""
    segment = Segment.objects.filter(pk=segment_id).first()
    return segment_refresh(segment=segment) if segment else (0, 0)


@crm_task()
def refresh_all_segments() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): one refresh task per dynamic segment; returns how many."""
    ids = list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC).values_list("pk", flat=True))
    for segment_id in ids:
        refresh_segment.delay(segment_id)
    return len(ids)


@crm_task()
def refresh_segments_for_customers(customer_ids: list[int]) -> None:
    """After the pipeline recomputed these customers: their memberships, up to date."""
    segments_refresh_customers(customer_ids=customer_ids)
