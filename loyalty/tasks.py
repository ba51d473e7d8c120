"""Celery tasks: thin and idempotent; they take ids and call services."""

from celery import shared_task

from loyalty.earning import orders_award, points_mature


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def award_points_for_customers(customer_ids: list[int]) -> int:
    """Bring these customers' order points in line with their orders. Safe to run twice."""
    return orders_award(customer_ids)


@shared_task
def mature_points() -> int:
    """Scheduled: pending points whose return window has passed become spendable."""
    return points_mature()
