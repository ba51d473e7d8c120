"""The ledger check: every cached balance (one per customer and shop group) recomputed from
the ledger, in one query."""

from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class Difference:
    customer_id: int
    group_id: int
    cached_balance: int
    ledger_balance: int
    cached_pending: int
    ledger_pending: int


def balances_verify(limit: int = 1000) -> tuple[int, list[Difference]]:
    """(accounts checked, up to ``limit`` accounts whose cached figures differ from their
    ledger). Entries for a (customer, group) without an account count as a difference too."""
    sql = """
        WITH ledger AS (
            SELECT customer_id, group_id, SUM(available) AS available, SUM(pending) AS pending
            FROM loyalty_pointsentry GROUP BY customer_id, group_id
        )
        SELECT COALESCE(a.customer_id, l.customer_id), COALESCE(a.group_id, l.group_id),
               COALESCE(a.balance, 0), COALESCE(l.available, 0), COALESCE(a.pending, 0), COALESCE(l.pending, 0)
        FROM loyalty_account a FULL OUTER JOIN ledger l ON l.customer_id = a.customer_id AND l.group_id = a.group_id
        WHERE COALESCE(a.balance, 0) <> COALESCE(l.available, 0) OR COALESCE(a.pending, 0) <> COALESCE(l.pending, 0)
        ORDER BY 1, 2
        LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM loyalty_account")
        (checked,) = cursor.fetchone()
        cursor.execute(sql, [limit])
        return checked, [Difference(*row) for row in cursor.fetchall()]
