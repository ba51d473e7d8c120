"""Rows no API request can write any more, planted straight into the database: what a
set-based pass must survive (issue 16). Shared by the bad-row tests of every app."""

from decimal import Decimal

from django.db import connection

from customers.models import Order

# What PostgreSQL stored for the API's "0001-01-01T00:00:00+14:00" and
# "9999-12-31T23:59:59-14:00": year 1 BC and year 10000, beyond Python's datetime. SQLite
# keeps text, so the same instants are planted as the text Django cannot parse.
PLANTED = {
    "year 1": ("0001-01-01T00:00:00+14:00", "0000-12-31 10:00:00"),
    "year 10000": ("9999-12-31T23:59:59-14:00", "10000-01-01 13:59:59"),
}
# Two of these overflow numeric(14,2) in the customer's net revenue.
MAX_TOTAL = Decimal("999999999999.99")


def plant_placed_at(order: Order, which: str) -> None:
    """Set the order's ``placed_at`` to ``PLANTED[which]``, past every check."""
    postgres, sqlite = PLANTED[which]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {Order._meta.db_table} SET placed_at = %s::timestamptz WHERE id = %s", [postgres, order.pk]
            )
        else:
            cursor.execute(f"UPDATE {Order._meta.db_table} SET placed_at = %s WHERE id = %s", [sqlite, order.pk])


def plant_overflowing_orders(customer, factory, **fields) -> None:
    """Two orders at the maximum total: their sum cannot be stored in any money column."""
    for _ in range(2):
        factory(customer=customer, total=MAX_TOTAL, subtotal=MAX_TOTAL, total_base=MAX_TOTAL, **fields)


def skipped(caplog) -> set[tuple[str, int]]:
    """(pass, customer id) of every customer a pass logged as left out."""
    return {(r.pass_name, r.customer_id) for r in caplog.records if hasattr(r, "customer_id")}
