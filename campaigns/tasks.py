"""Celery tasks of the campaigns app (segments, recommendations, campaigns, flows): thin,
idempotent, take ids."""

from datetime import date

from campaigns.backfill import DAYS_PER_STATEMENT, segment_backfill_days, segment_history_backfill
from campaigns.campaigns.sending import campaigns_send_due
from campaigns.flows.engine import FLOW_PASS_SECONDS, flows_pass
from campaigns.models import Flow, Segment
from campaigns.recommendations.build import recommendations_build
from campaigns.services import segment_refresh, segments_refresh_customers
from core.chunks import chunked
from core.task_policy import crm_task
from customers.models import Shop


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


@crm_task()
def build_recommendations() -> int:
    """Nightly (CELERY_BEAT_SCHEDULE): one build task per active shop; returns how many."""
    ids = list(Shop.objects.filter(is_active=True).values_list("pk", flat=True))
    for shop_id in ids:
        build_shop_recommendations.delay(shop_id)
    return len(ids)


# Below the broker's visibility timeout (150 s); a million customers' build takes about a
# minute (docs/benchmarks.md).
@crm_task(time_limit=140)
def build_shop_recommendations(shop_id: int) -> int:
    """One shop's neighbours and popular products, in one transaction (a failure keeps the
    previous build); returns the neighbour rows stored. Safe to run twice."""
    if not Shop.objects.filter(pk=shop_id).exists():
        return 0
    return recommendations_build(shop_id=shop_id).neighbours


@crm_task()
def send_due_campaigns() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE), and after Send now: a pass over each campaign
    that is due or still sending; returns how many were worked on."""
    return len(campaigns_send_due())


@crm_task()
def run_flows() -> int:
    """Every 30 s (CELERY_BEAT_SCHEDULE): one pass task per active flow; returns how many.
    A segment entry or an event is enrolled, and its first step taken, within a minute."""
    ids = list(Flow.objects.filter(active=True).values_list("pk", flat=True))
    for flow_id in ids:
        run_flow.delay(flow_id)
    return len(ids)


@crm_task(time_limit=FLOW_PASS_SECONDS + 60)
def run_flow(flow_id: int) -> int:
    """One flow's pass (campaigns.flows.engine): safe to run twice at once or to retry after
    a worker died, as each batch commits whole and each step runs once per run. Stops taking
    new batches after FLOW_PASS_SECONDS; the next pass carries on. Returns the steps taken."""
    return flows_pass(flow_ids=[flow_id], seconds=FLOW_PASS_SECONDS).steps_taken


# Below the broker's visibility timeout (150 s), or a second worker would be handed the same
# pass while the first still runs; the full pass of 5 M orders is measured in docs/benchmarks.md.
@crm_task(time_limit=140)
def attribute_conversions(full: bool = False) -> dict:
    """The attribution pass (campaigns/attribution/passes.py): incremental unless ``full``."""
    from campaigns.attribution.passes import attribution_run

    result = attribution_run(full=full)
    return {"full": result.full, "touches": result.touches_added, "orders": result.orders, "credits": result.credits}
