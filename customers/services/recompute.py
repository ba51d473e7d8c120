"""Recompute everything derived about customers, one chunk per transaction.

A chunk's aggregates (orders count, net revenue, first and last order), metrics, RFM, CLV
and stage all come from one read of its orders (``customers.services.lifecycle``). The
Celery tasks and ``manage.py recompute_customers`` call these two functions.
"""

from collections.abc import Sequence

from customers.services.chunks import chunked, id_list_condition
from customers.services.lifecycle import Context, lifecycle_recompute_chunk
from customers.services.transactions import atomic_retrying


def customers_recompute(*, customer_ids: Sequence[int], ctx: Context | None = None) -> int:
    """Recompute these customers; returns how many there were."""
    ctx = ctx or Context.load()
    total = 0
    for chunk in chunked(sorted(set(customer_ids))):
        where, params = id_list_condition(chunk)
        total += atomic_retrying(lambda: lifecycle_recompute_chunk(ctx, where=where, params=params))  # noqa: B023
    return total


def customers_recompute_range(*, first_id: int, last_id: int, ctx: Context | None = None) -> int:
    """Recompute every customer with first_id ≤ id ≤ last_id: one chunk of a full recompute."""
    ctx = ctx or Context.load()
    return atomic_retrying(
        lambda: lifecycle_recompute_chunk(ctx, where="{col} BETWEEN %s AND %s", params=[first_id, last_id])
    )
