"""Recompute everything derived about customers, one chunk per transaction.

- ``customers_recompute``: the given customers, from their orders (after an order or refund).
- ``customers_refresh_changed``: the customers whose orders changed lately, from their
  orders; the nightly repair of an update that was lost (a worker that died, an order
  edited in the admin, an order dated in the future when it was pushed).
- ``customers_rescore_range``: one chunk of the nightly pass, from the stored summaries.
- ``customers_recompute_range``: one chunk of a rebuild from orders (``--from-orders``).

The Celery tasks and ``manage.py recompute_customers`` call these functions. Each chunk
runs through ``chunk_run_ids`` / ``chunk_run_range``: a customer whose rows cannot be
computed (a date or a sum out of range) is logged and left out, never the whole pass.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import Q

from core.chunks import chunk_run_ids, chunk_run_range, chunked, id_list_condition
from customers.models import CustomerMetrics, Order
from customers.services.recompute_chunk import Context, lifecycle_recompute_chunk, lifecycle_rescore_chunk


def customers_recompute(*, customer_ids: Sequence[int], ctx: Context | None = None) -> int:
    """Recompute these customers from their orders; returns how many there were."""
    ctx = ctx or Context.load()
    total = 0

    def run(ids: list[int]) -> int:
        where, params = id_list_condition(ids)
        return lifecycle_recompute_chunk(ctx, where=where, params=params)

    for chunk in chunked(sorted(set(customer_ids))):
        total += chunk_run_ids("recompute from orders", chunk, run)
    return total


def changed_customer_ids(since: datetime) -> list[int]:
    """Customers with an order written, changed or placed since ``since`` (both indexed)."""
    changed = Order.objects.filter(Q(updated_at__gte=since) | Q(placed_at__gte=since)).order_by()
    return list(changed.values_list("customer_id", flat=True).distinct())


def customers_refresh_changed(*, since: datetime, ctx: Context | None = None) -> int:
    """Recompute from their orders the customers whose orders changed since ``since``;
    returns how many."""
    return customers_recompute(customer_ids=changed_customer_ids(since), ctx=ctx)


def customers_rescore_range(*, first_id: int, last_id: int, ctx: Context | None = None) -> int:
    """The nightly pass over every customer with first_id ≤ id ≤ last_id."""
    ctx = ctx or Context.load()
    return chunk_run_range(
        "nightly pass", first_id, last_id, lambda lo, hi: lifecycle_rescore_chunk(ctx, first_id=lo, last_id=hi)
    )


def customers_recompute_range(*, first_id: int, last_id: int, ctx: Context | None = None) -> int:
    """Rebuild every customer with first_id ≤ id ≤ last_id from their orders."""
    ctx = ctx or Context.load()
    return chunk_run_range(
        "rebuild from orders",
        first_id,
        last_id,
        lambda lo, hi: lifecycle_recompute_chunk(ctx, where="{col} BETWEEN %s AND %s", params=[lo, hi]),
    )


def metrics_vacuum() -> None:
    """Reclaim the row versions the last nightly pass left in ``CustomerMetrics``, so the
    next pass can again rewrite every row in place (a HOT update needs free room on the
    row's page). Autovacuum would do it eventually; the nightly task does not wait for it.
    PostgreSQL only; VACUUM cannot run inside a transaction, so within one (a caller's
    atomic block, a test) it is left to autovacuum."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(CustomerMetrics._meta.db_table)}")
