"""Per-customer aggregates, recomputed set-based.

One SQL statement per chunk of customers computes orders count, net revenue, first and
last order time and average order value from orders and refunds, and writes them back
(UPDATE … FROM an aggregate subquery; PostgreSQL and SQLite ≥ 3.33 both run it). No
Python loop touches a customer. Cancelled orders are left out; refunds are subtracted.
"""

from collections.abc import Iterable, Iterator, Sequence

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from customers.models import Customer, Order, Refund

CHUNK_SIZE = 5000


def chunked(ids: Iterable[int], size: int = CHUNK_SIZE) -> Iterator[list[int]]:
    chunk: list[int] = []
    for i in ids:
        chunk.append(i)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


COUNTED_STATUSES_EXCLUDED = (Order.Status.CANCELLED, Order.Status.REFUNDED)


def _sql(where: str) -> str:
    """The UPDATE for one chunk of customers.

    ``where`` is a condition on the customer id column ``{col}``; it is applied twice (to the
    refunds and to the customers), so its params come twice: see ``_params``.
    """
    customer = Customer._meta.db_table
    order = Order._meta.db_table
    refund = Refund._meta.db_table
    return f"""
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
                   COUNT(o.id) AS orders_count,
                   COALESCE(SUM(o.net), 0) AS net_revenue,
                   MIN(o.placed_at) AS first_order_at,
                   MAX(o.placed_at) AS last_order_at
            FROM {customer} c
            LEFT JOIN (
                SELECT o.id, o.customer_id, o.placed_at,
                       CASE WHEN o.total_base > COALESCE(rf.refunded, 0)
                            THEN o.total_base - COALESCE(rf.refunded, 0) ELSE 0 END AS net
                FROM {order} o
                LEFT JOIN (
                    SELECT r.order_id, SUM(r.amount_base) AS refunded
                    FROM {refund} r JOIN {order} ro ON ro.id = r.order_id
                    WHERE {where.format(col="ro.customer_id")}
                    GROUP BY r.order_id
                ) rf ON rf.order_id = o.id
                WHERE o.status NOT IN (%s, %s)
            ) o ON o.customer_id = c.id
            WHERE {where.format(col="c.id")}
            GROUP BY c.id
        ) AS agg
        WHERE {customer}.id = agg.customer_id
    """


def _params(*where_params) -> list:
    return [timezone.now(), *where_params, *COUNTED_STATUSES_EXCLUDED, *where_params]


def aggregates_recompute(*, customer_ids: Sequence[int]) -> int:
    """Recompute the aggregates of ``customer_ids``; returns how many customers were updated."""
    updated = 0
    for chunk in chunked(sorted(set(customer_ids))):
        placeholders = ", ".join(["%s"] * len(chunk))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_sql(f"{{col}} IN ({placeholders})"), _params(*chunk))
            updated += cursor.rowcount
    return updated


def aggregates_recompute_range(*, first_id: int, last_id: int) -> int:
    """Recompute every customer with first_id ≤ id ≤ last_id (one chunk of a full recompute)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_sql("{col} BETWEEN %s AND %s"), _params(first_id, last_id))
        return cursor.rowcount


def customer_id_ranges(size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    """Primary-key ranges of at most ``size`` ids each, together covering every customer."""
    bounds = Customer.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return []
    return [(lo, min(lo + size - 1, bounds["hi"])) for lo in range(bounds["lo"], bounds["hi"] + 1, size)]
