"""Celery tasks: thin and idempotent; they take ids and call services."""

from datetime import timedelta

from django.utils import timezone

from core.chunks import CHUNK_SIZE, NIGHTLY_CHUNK_SIZE, chunked, id_ranges
from core.task_policy import crm_task
from customers.models import Customer
from customers.services.clv_fitting import clv_fit
from customers.services.recompute import (
    changed_customer_ids,
    customers_recompute,
    customers_recompute_range,
    customers_rescore_range,
    metrics_vacuum,
)

# The nightly pass recomputes from orders every customer whose orders changed this recently,
# so a lost per-order update is repaired by the next night even if one night is missed.
REPAIR_LOOKBACK = timedelta(days=3)


@crm_task()
def recompute_customers(customer_ids: list[int]) -> int:
    """Recompute these customers from their orders. Safe to run twice: it converges."""
    return customers_recompute(customer_ids=customer_ids)


@crm_task()
def rescore_customers_range(first_id: int, last_id: int) -> int:
    """One primary-key chunk of the nightly pass; a chunk that dies can simply run again."""
    return customers_rescore_range(first_id=first_id, last_id=last_id)


@crm_task()
def recompute_customers_range(first_id: int, last_id: int) -> int:
    """One primary-key chunk of a rebuild from orders."""
    return customers_recompute_range(first_id=first_id, last_id=last_id)


@crm_task()
def refit_and_recompute_all() -> int:
    """Nightly (CELERY_BEAT_SCHEDULE): queue the repair of customers whose orders changed
    lately, vacuum the metrics table, refit the CLV model, then queue the pass over every
    customer in chunks. Returns
    the number of chunk tasks of that pass.

    The repair and the pass may run in any order: a pass chunk never overwrites a row
    recomputed from orders after it read it, and the repair reads the orders themselves.
    """
    since = timezone.now() - REPAIR_LOOKBACK
    enqueue_recompute(changed_customer_ids(since))
    metrics_vacuum()  # last night's row versions
    clv_fit()
    return enqueue_full_recompute()


@crm_task()
def rebuild_all_from_orders() -> int:
    """Weekly (CELERY_BEAT_SCHEDULE): rebuild every customer from their orders, the deep
    repair under the nightly one. Returns the number of chunk tasks queued."""
    return enqueue_full_recompute(from_orders=True)


def enqueue_recompute(customer_ids: list[int]) -> None:
    """Queue the recompute in chunks, so a big import spreads over the workers."""
    for chunk in chunked(sorted(set(customer_ids)), CHUNK_SIZE):
        recompute_customers.delay(chunk)


def enqueue_full_recompute(*, from_orders: bool = False) -> int:
    """Queue one task per primary-key range of customers; returns the number of tasks."""
    task = recompute_customers_range if from_orders else rescore_customers_range
    ranges = id_ranges(Customer, CHUNK_SIZE if from_orders else NIGHTLY_CHUNK_SIZE)
    for first_id, last_id in ranges:
        task.delay(first_id, last_id)
    return len(ranges)
