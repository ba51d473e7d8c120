"""Celery tasks: thin and idempotent; they take ids and call services."""

from celery import shared_task

from customers.services.chunks import CHUNK_SIZE, chunked, customer_id_ranges
from customers.services.clv_fitting import clv_fit
from customers.services.recompute import customers_recompute, customers_recompute_range


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def recompute_customers(customer_ids: list[int]) -> int:
    """Recompute these customers' aggregates, metrics and stage. Safe to run twice: it converges."""
    return customers_recompute(customer_ids=customer_ids)


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def recompute_customers_range(first_id: int, last_id: int) -> int:
    """One primary-key chunk of a full recompute; a chunk that dies can simply run again."""
    return customers_recompute_range(first_id=first_id, last_id=last_id)


@shared_task
def refit_and_recompute_all() -> int:
    """Nightly (CELERY_BEAT_SCHEDULE): refit the CLV model, then queue a recompute of every
    customer in chunks. Returns the number of chunk tasks queued."""
    clv_fit()
    return enqueue_full_recompute()


def enqueue_recompute(customer_ids: list[int]) -> None:
    """Queue the recompute in chunks, so a big import spreads over the workers."""
    for chunk in chunked(sorted(set(customer_ids)), CHUNK_SIZE):
        recompute_customers.delay(chunk)


def enqueue_full_recompute() -> int:
    """Queue one task per primary-key range of customers; returns the number of tasks."""
    ranges = customer_id_ranges()
    for first_id, last_id in ranges:
        recompute_customers_range.delay(first_id, last_id)
    return len(ranges)
