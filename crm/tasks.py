from datetime import date, datetime

from celery import chain
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core.task_policy import crm_task
from crm.connectors.processing import deliveries_kick, deliveries_process_due
from crm.connectors.retention import deliveries_purge
from crm.dashboard.refresh import (
    dashboard_refresh,
    rebuild_months,
    rebuild_orders,
    rebuild_plan,
    rebuild_rest,
    rollups_built,
)
from crm.follow_up import pending_updates_drain, pending_updates_kick
from crm.merging.suggestions import suggestions_build
from crm.privacy.shop_redact import shop_redacts_continue
from crm.services import idempotency_records_purge
from crm.webhooks.delivery import BATCH as WEBHOOK_BATCH
from crm.webhooks.delivery import deliveries_send
from crm.webhooks.events import events_collect
from crm.webhooks.services import webhooks_purge


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
    pending_updates_kick.started()  # marks from now on queue a drain after this one
    return pending_updates_drain(on_full_batch=pending_updates_kick.queue)


@crm_task()
def continue_shop_erasures() -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): the started erasures of a shop's data go on, for
    up to 50 s each run (``crm.privacy.shop_redact``). Returns the requests answered."""
    return shop_redacts_continue(seconds=50.0)


@crm_task()
def send_webhooks() -> int:
    """Every 30 s (CELERY_BEAT_SCHEDULE): the outbox pass (new events from the history
    tables into deliveries), then a batch of due deliveries sent. A full batch queues one
    more, so a backlog spreads over the workers. Returns the attempts made."""
    events_collect()
    return send_due_webhooks()


@crm_task()
def purge_webhooks() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): finished deliveries past the log's days, read outbox events."""
    return webhooks_purge()


@crm_task()
def purge_connector_deliveries() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): the platforms' deliveries past the log's days."""
    return deliveries_purge()


@crm_task()
def send_due_webhooks() -> int:
    """A further batch of due deliveries (queued by ``send_webhooks`` after a full one)."""
    attempts = deliveries_send()
    if attempts == WEBHOOK_BATCH and not settings.CELERY_TASK_ALWAYS_EAGER:
        send_due_webhooks.delay()
    return attempts


# Below the broker's visibility timeout (150 s); 100,000 customers take about a second
# (docs/merge.md).
@crm_task(time_limit=140)
def build_duplicate_suggestions() -> int:
    """Nightly (CELERY_BEAT_SCHEDULE), and when the staff ask from the page: the suggested
    duplicates built afresh (``crm.merging.suggestions``). Returns the pairs found."""
    return suggestions_build().pairs


# ---------------------------------------------------------------------------- the dashboard

REBUILD_QUEUED = "crm:dashboard:rebuild-queued"


@crm_task()
def refresh_dashboard() -> int:
    """Every ten minutes (CELERY_BEAT_SCHEDULE): the dashboard's rollups for the recent days
    and the days of changed orders (``crm.dashboard.refresh``); the first time, a rebuild.
    Returns the order days recomputed."""
    if not rollups_built():
        if cache.add(REBUILD_QUEUED, True, timeout=3600):
            rebuild_dashboard.delay()
        return 0
    result = dashboard_refresh()
    if result.months_apart:
        rebuild_dashboard_months.delay([month.isoformat() for month in result.months_apart])
    return len(result.days)


@crm_task()
def rebuild_dashboard(since: str | None = None) -> int:
    """Weekly (CELERY_BEAT_SCHEDULE), and the first time: every rollup from scratch, as a
    chain of tasks (a few months of orders each, then the rest). Returns the steps queued."""
    started = timezone.now()
    plan = rebuild_plan(now=started, since=date.fromisoformat(since) if since else None)
    steps = [rebuild_dashboard_orders.si(first.isoformat(), last.isoformat()) for first, last in plan]
    rest_since = None if since or not plan else plan[0][0].isoformat()
    chain(*steps, rebuild_dashboard_rest.si(started.isoformat(), rest_since)).delay()
    return len(steps) + 1


@crm_task()
def rebuild_dashboard_orders(first: str, last: str) -> None:
    rebuild_orders(date.fromisoformat(first), date.fromisoformat(last))


@crm_task()
def rebuild_dashboard_rest(started: str, since: str | None = None) -> None:
    rebuild_rest(started=datetime.fromisoformat(started), since=date.fromisoformat(since) if since else None)
    cache.delete(REBUILD_QUEUED)


@crm_task()
def rebuild_dashboard_months(months: list[str]) -> None:
    """The months a refresh found too many changed days in (an import of old orders)."""
    rebuild_months([date.fromisoformat(month) for month in months])


# ------------------------------------------------------------------- the platforms' webhooks


@crm_task()
def process_webhook_deliveries() -> int:
    """After a webhook arrives (queued by ``crm.connectors.processing.deliveries_kick``) and
    every 30 s (CELERY_BEAT_SCHEDULE): stored deliveries applied, failed ones whose retry
    time came tried again. Returns how many were processed."""
    deliveries_kick.started()
    return deliveries_process_due(on_full_batch=deliveries_kick.queue)
