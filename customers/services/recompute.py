"""Recompute everything derived about customers: aggregates, then metrics, RFM, CLV and stage.

Both run per chunk of customers in one transaction (``aggregates`` locks the chunk first).
The Celery tasks and ``manage.py recompute_customers`` call these two functions.
"""

from collections.abc import Sequence

from customers.services.aggregates import aggregates_recompute, aggregates_recompute_range
from customers.services.lifecycle import Context, lifecycle_recompute_chunk


class _Lifecycle:
    """The per-chunk hook: recomputes the chunk's metrics and counts the customers (once per
    chunk, even when a deadlock makes the chunk's transaction run again)."""

    def __init__(self, ctx: Context | None):
        self.ctx = ctx or Context.load()
        self.per_chunk: dict[str, int] = {}

    def __call__(self, where: str, params: list) -> None:
        self.per_chunk[repr(params)] = lifecycle_recompute_chunk(self.ctx, where=where, params=params)

    @property
    def customers(self) -> int:
        return sum(self.per_chunk.values())


def customers_recompute(*, customer_ids: Sequence[int], ctx: Context | None = None) -> int:
    """Recompute these customers; returns how many there were."""
    hook = _Lifecycle(ctx)
    aggregates_recompute(customer_ids=customer_ids, then=hook)
    return hook.customers


def customers_recompute_range(*, first_id: int, last_id: int, ctx: Context | None = None) -> int:
    """Recompute every customer with first_id ≤ id ≤ last_id: one chunk of a full recompute."""
    hook = _Lifecycle(ctx)
    aggregates_recompute_range(first_id=first_id, last_id=last_id, then=hook)
    return hook.customers
