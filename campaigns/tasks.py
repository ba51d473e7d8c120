"""Celery tasks for segments: thin, idempotent, take ids."""

from datetime import date

from campaigns.backfill import DAYS_PER_STATEMENT, segment_backfill_days, segment_history_backfill
from campaigns.models import Segment
from campaigns.services import segment_refresh, segments_refresh_customers
from core.chunks import chunked
from core.task_policy import crm_task


@crm_task()
def refresh_segment(segment_id: int) -> tuple[int, int]:
    """Bring one segment's membership up to date: (entered, exited). The first refresh starts
    the segment's history; the days before it are then worked out where the rule allows."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return 0, 0
    moved = segment_refresh(segment=segment)
    segment.refresh_from_db(fields=["history_since"])
    for days in chunked(segment_backfill_days(segment), DAYS_PER_STATEMENT):
        backfill_segment_history.delay(segment_id, [day.isoformat() for day in days])
    return moved


@crm_task()
def backfill_segment_history(segment_id: int, days: list[str]) -> int:
    """The member counts of these days before the segment's recorded history (ISO dates);
    returns the days stored. Safe to run twice: a day already counted is kept."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return 0
    return segment_history_backfill(segment=segment, days=[date.fromisoformat(day) for day in days])


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


@crm_task(time_limit=30 * 60)
def attribute_conversions(full: bool = False) -> dict:
    """The attribution pass (campaigns/attribution/passes.py): incremental unless ``full``."""
    from campaigns.attribution.passes import attribution_run

    result = attribution_run(full=full)
    return {"full": result.full, "touches": result.touches_added, "orders": result.orders, "credits": result.credits}
