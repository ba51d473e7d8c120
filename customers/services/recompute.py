"""Recompute everything derived about customers: aggregates, then metrics, RFM, CLV and stage.

Both run per chunk of customers in one transaction (``aggregates`` locks the chunk first).
The Celery tasks and ``manage.py recompute_customers`` call these two functions.
"""

from collections.abc import Sequence

from customers.services.aggregates import aggregates_recompute, aggregates_recompute_range
from customers.services.lifecycle import Context, lifecycle_recompute_chunk


def customers_recompute(*, customer_ids: Sequence[int], ctx: Context | None = None) -> int:
    """Recompute these customers; returns how many were updated."""
    ctx = ctx or Context.load()
    return aggregates_recompute(
        customer_ids=customer_ids,
        then=lambda where, params: lifecycle_recompute_chunk(ctx, where=where, params=params),
    )


def customers_recompute_range(*, first_id: int, last_id: int, ctx: Context | None = None) -> int:
    """Recompute every customer with first_id ≤ id ≤ last_id: one chunk of a full recompute."""
    ctx = ctx or Context.load()
    return aggregates_recompute_range(
        first_id=first_id,
        last_id=last_id,
        then=lambda where, params: lifecycle_recompute_chunk(ctx, where=where, params=params),
    )
