"""Celery tasks: thin and idempotent; they take ids and call services."""

from core.chunks import NIGHTLY_CHUNK_SIZE, id_ranges
from core.task_policy import crm_task
from customers.models import Customer
from loyalty.earning import orders_award, points_mature
from loyalty.nightly import loyalty_nightly_pass
from loyalty.referrals import referrals_settle


@crm_task()
def award_points_for_customers(customer_ids: list[int]) -> int:
    """Bring these customers' order points in line with their orders. Safe to run twice."""
    return orders_award(customer_ids)


@crm_task()
def mature_points() -> int:
    """Scheduled: pending points whose return window has passed become spendable."""
    return points_mature()


@crm_task()
def settle_referrals() -> int:
    """Scheduled: referrals whose new customer's first paid order has cleared the return
    window are paid (or held for review)."""
    return referrals_settle()


@crm_task()
def loyalty_nightly_range(first_id: int, last_id: int) -> dict:
    """One range of customers of the nightly pass. Safe to run twice (each step is keyed or
    conditional). Returns what each step did."""
    return loyalty_nightly_pass(first_id, last_id)


@crm_task()
def loyalty_nightly() -> int:
    """Nightly (CELERY_BEAT_SCHEDULE): queue the pass over every customer in ranges; returns
    the number of range tasks."""
    ranges = id_ranges(Customer, NIGHTLY_CHUNK_SIZE)
    for first_id, last_id in ranges:
        loyalty_nightly_range.delay(first_id, last_id)
    return len(ranges)
