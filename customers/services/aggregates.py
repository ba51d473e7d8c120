"""Per-customer aggregates, recomputed set-based.

One SQL statement per chunk of customers computes orders count, net revenue, first and
last order time and average order value from orders and refunds, and writes them back
(WITH … UPDATE … FROM; PostgreSQL and SQLite ≥ 3.33 both run it). No
Python loop touches a customer. Cancelled orders are left out; refunds are subtracted.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence

from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

from customers.models import Customer, Order
from customers.services.transactions import atomic_retrying

CHUNK_SIZE = 5000


def chunked[T](items: Iterable[T], size: int = CHUNK_SIZE) -> Iterator[list[T]]:
    """Lists of up to ``size`` items, in order."""
    chunk: list[T] = []
    for i in items:
        chunk.append(i)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


COUNTED_STATUSES_EXCLUDED = (Order.Status.CANCELLED, Order.Status.REFUNDED)


def _sql(where: str) -> str:
    """The UPDATE for one chunk of customers.

    ``where`` is a condition on a customer id column ``{col}``, used twice (the chunk's orders,
    the chunk's customers); its params come twice too: see ``_params``. Net revenue is
    read from each order's ``refunded_base``, so no join to refunds is needed.
    """
    customer = Customer._meta.db_table
    order = Order._meta.db_table
    return f"""
        WITH per_customer AS (
            SELECT o.customer_id,
                   COUNT(*) AS orders_count,
                   SUM(CASE WHEN o.total_base > o.refunded_base
                            THEN o.total_base - o.refunded_base ELSE 0 END) AS net_revenue,
                   MIN(o.placed_at) AS first_order_at,
                   MAX(o.placed_at) AS last_order_at
            FROM {order} o
            WHERE {where.format(col="o.customer_id")} AND o.status NOT IN (%s, %s)
            GROUP BY o.customer_id
        )
        UPDATE {customer} SET
            orders_count = agg.orders_count,
            net_revenue = agg.net_revenue,
            avg_order_value = CASE WHEN agg.orders_count > 0
                THEN ROUND(agg.net_revenue / agg.orders_count, 2) ELSE 0 END,
            first_order_at = agg.first_order_at,
            last_order_at = agg.last_order_at,
            aggregates_updated_at = %s
        FROM (
            SELECT c.id AS customer_id,
                   COALESCE(pc.orders_count, 0) AS orders_count,
                   COALESCE(pc.net_revenue, 0) AS net_revenue,
                   pc.first_order_at,
                   pc.last_order_at
            FROM {customer} c LEFT JOIN per_customer pc ON pc.customer_id = c.id
            WHERE {where.format(col="c.id")}
        ) AS agg
        WHERE {customer}.id = agg.customer_id
          -- Only rows whose figures changed: a nightly pass rewrites almost nothing.
          AND ({customer}.orders_count IS DISTINCT FROM agg.orders_count
               OR {customer}.net_revenue IS DISTINCT FROM agg.net_revenue
               OR {customer}.first_order_at IS DISTINCT FROM agg.first_order_at
               OR {customer}.last_order_at IS DISTINCT FROM agg.last_order_at)
    """


def _params(*where_params) -> list:
    return [*where_params, *COUNTED_STATUSES_EXCLUDED, timezone.now(), *where_params]


# Called with (where, where_params) inside a chunk's transaction, after its aggregates.
ChunkHook = Callable[[str, list], object]


def _run(sql: str, params: list, where: str, where_params: list, then: Callable[[], object] | None) -> int:
    """Execute one chunk's UPDATE, then ``then``; return how many customers' figures changed.

    The chunk's customer rows are locked in id order first: two recomputes (or a recompute
    and an ingestion) over overlapping customers then queue instead of deadlocking. A
    deadlock that still happens (with an ingestion, which locks by email) is retried. The
    lock is raw SQL on the chunk's own condition: the ORM's ``pk__in`` with 5,000
    placeholders cost more than the lock itself.
    """
    customer = Customer._meta.db_table
    lock = f"SELECT c.id FROM {customer} c WHERE {where.format(col='c.id')} ORDER BY c.id FOR UPDATE"

    def update() -> int:
        with connection.cursor() as cursor:
            if connection.features.has_select_for_update:  # SQLite locks the whole file on write
                cursor.execute(lock, where_params)
            cursor.execute(sql, params)
            if cursor.rowcount >= 0:
                count = cursor.rowcount
            else:  # Python's sqlite3 reports no rowcount for a statement that starts with WITH.
                cursor.execute("SELECT changes()")
                count = cursor.fetchone()[0]
        if then is not None:
            then()
        return count

    return atomic_retrying(update)


def aggregates_recompute(*, customer_ids: Sequence[int], then: ChunkHook | None = None) -> int:
    """Recompute the aggregates of ``customer_ids``; returns how many customers' figures changed.

    ``then(where, params)`` runs in each chunk's transaction after its update; ``where`` is
    the chunk's condition on a customer id column ``{col}``.
    """
    updated = 0
    for chunk in chunked(sorted(set(customer_ids))):
        where, params = _id_list_condition(chunk)
        updated += _run(
            _sql(where),
            _params(*params),
            where,
            params,
            (lambda w=where, p=params: then(w, list(p))) if then else None,
        )
    return updated


def _id_list_condition(ids: list[int]) -> tuple[str, list]:
    """``{col}`` among ``ids``: one array parameter on PostgreSQL (an IN list of 5,000
    placeholders, repeated in each query, doubled the chunk's time), an IN list elsewhere."""
    if connection.vendor == "postgresql":
        return "{col} = ANY(%s)", [list(ids)]
    return f"{{col}} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def aggregates_recompute_range(*, first_id: int, last_id: int, then: ChunkHook | None = None) -> int:
    """Recompute every customer with first_id ≤ id ≤ last_id (one chunk of a full recompute)."""
    where = "{col} BETWEEN %s AND %s"
    return _run(
        _sql(where),
        _params(first_id, last_id),
        where,
        [first_id, last_id],
        (lambda: then(where, [first_id, last_id])) if then else None,
    )


def customer_id_ranges(size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    """Primary-key ranges of at most ``size`` ids each, together covering every customer."""
    bounds = Customer.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return []
    return [(lo, min(lo + size - 1, bounds["hi"])) for lo in range(bounds["lo"], bounds["hi"] + 1, size)]
