"""Celery tasks: thin and idempotent; they take ids and call services."""

from celery import shared_task

from customers.services.aggregates import (
    CHUNK_SIZE,
    aggregates_recompute,
    aggregates_recompute_range,
    chunked,
    customer_id_ranges,
)


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def recompute_customer_aggregates(customer_ids: list[int]) -> int:
    """Recompute the aggregates of these customers. Safe to run twice: it converges."""
    return aggregates_recompute(customer_ids=customer_ids)


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def recompute_customer_aggregates_range(first_id: int, last_id: int) -> int:
    return aggregates_recompute_range(first_id=first_id, last_id=last_id)


@shared_task
def recompute_all_customers() -> int:
    """Daily (CELERY_BEAT_SCHEDULE): queue a recompute of every customer; returns the task count."""
    return enqueue_full_recompute()


def enqueue_aggregates(customer_ids: list[int]) -> None:
    """Queue the recompute in chunks, so a big import spreads over the workers."""
    for chunk in chunked(sorted(set(customer_ids)), CHUNK_SIZE):
        recompute_customer_aggregates.delay(chunk)


def enqueue_full_recompute() -> int:
    """Queue one task per primary-key range of customers; returns the number of tasks."""
    ranges = customer_id_ranges()
    for first_id, last_id in ranges:
        recompute_customer_aggregates_range.delay(first_id, last_id)
    return len(ranges)
