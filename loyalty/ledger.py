"""Writing to the points ledger: the one way points move.

Every write goes the same way, inside one transaction:

1. ``accounts_lock``: create the accounts the write needs if missing (an account is a
   customer's points in one shop group), then lock every account of the customers (in
   (customer, group) order, so two writers never wait on each other in a cycle). While a
   customer's rows are locked nobody else moves their points, so what a writer reads of the
   ledger is what it writes against.
2. ``entries_post``: insert the entries; an entry whose ``key`` is already there is skipped
   (``ON CONFLICT DO NOTHING``), which makes a replayed order or a re-run task a no-op.
   Then each (customer, group) account moves by the entries that went in: ``balance = balance + delta``,
   relative to the stored value like an ``F()`` update, for many accounts in one statement.

So the cached balance and the ledger change together or not at all; ``loyalty_verify``
checks that they agree.

A writer that can say its entries as a queryset (the award's earns) uses ``entries_write``:
on PostgreSQL it runs ``entries_insert_select``, where the insert and the accounts' move
are one statement and no entry is built in Python; elsewhere it reads the rows and posts
them with ``entries_post``. The nightly expiry calls ``entries_insert_select`` itself.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from core.chunks import chunked
from core.db.server_binding import server_binding_cursor
from customers.models import Order
from loyalty.models import Account

# Rows per INSERT: 15 parameters each stays under both databases' limits on parameters.
INSERT_BATCH = 1000
COLUMNS = (
    "customer_id",
    "group_id",
    "kind",
    "available",
    "pending",
    "key",
    "source",
    "rule_id",
    "order_id",
    "basis",
    "matures_at",
    "reason",
    "staff_id",
    "api_key_id",
    "created_at",
)
COLUMN_TYPES = (
    *("bigint", "bigint", "text", "bigint", "bigint", "text", "text", "bigint", "bigint"),
    *("numeric", "timestamptz", "text", "bigint", "bigint", "timestamptz"),
)


@dataclass(frozen=True)
class Entry:
    customer_id: int
    group_id: int  # with the customer, the account the entry moves
    kind: str
    key: str
    source: str
    available: int = 0
    pending: int = 0
    rule_id: int | None = None
    order_id: int | None = None
    basis: Decimal | None = None
    matures_at: datetime | None = None
    reason: str = ""
    staff_id: int | None = None
    api_key_id: int | None = None


# What ``entries_insert_select`` takes from its SELECT, by these names (``created_at`` is added).
SELECTED = COLUMNS[:12]


def accounts_ensure(pairs: Iterable[tuple[int, int]]) -> None:
    """Create the (customer id, group id) accounts that are missing."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    if connection.vendor != "postgresql":
        for chunk in chunked(pairs, 5000):
            Account.objects.bulk_create([Account(customer_id=c, group_id=g) for c, g in chunk], ignore_conflicts=True)
        return
    # Arrays as parameters: an IN list of thousands of placeholders, or thousands of model
    # instances, cost more than the statement takes to run.
    customers, groups = (list(column) for column in zip(*pairs, strict=True))
    with server_binding_cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_account (customer_id, group_id, balance, pending, tier_qualifying, updated_at) "
            "SELECT c, g, 0, 0, 0, now() FROM unnest(%b::bigint[], %b::bigint[]) AS p(c, g) "
            "ON CONFLICT (customer_id, group_id) DO NOTHING",
            [customers, groups],
        )


def accounts_ensure_for_orders(customer_ids: list[int]) -> None:
    """Create the accounts these customers' orders earn into: (customer, group of the order's
    shop), for every shop they ordered in."""
    if not customer_ids:
        return
    if connection.vendor != "postgresql":
        accounts_ensure(
            Order.objects.filter(customer_id__in=customer_ids)
            .values_list("customer_id", "shop__group_id")
            .distinct()
            .order_by()
        )
        return
    with server_binding_cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_account (customer_id, group_id, balance, pending, tier_qualifying, updated_at) "
            "SELECT DISTINCT o.customer_id, s.group_id, 0, 0, 0, now() FROM customers_order o "
            "JOIN customers_shop s ON s.id = o.shop_id "
            "WHERE o.customer_id BETWEEN %b AND %b AND o.customer_id = ANY(%b::bigint[]) "
            "ON CONFLICT (customer_id, group_id) DO NOTHING",
            [min(customer_ids), max(customer_ids), customer_ids],
        )


def accounts_lock(customer_ids: Iterable[int], *, pairs: Iterable[tuple[int, int]] = ()) -> list[int]:
    """Create the (customer id, group id) accounts in ``pairs`` that are missing, then lock
    every account of these customers (and of those in ``pairs``) until the transaction ends.
    Returns the customer ids, sorted."""
    pairs = list(pairs)
    accounts_ensure(pairs)
    ids = sorted(set(customer_ids) | {c for c, _ in pairs})
    if not ids or connection.vendor != "postgresql":  # SQLite: one writer at a time, nothing to lock
        return ids
    with server_binding_cursor() as cursor:
        cursor.execute(
            "SELECT customer_id FROM loyalty_account WHERE customer_id = ANY(%b::bigint[]) "
            "ORDER BY customer_id, group_id FOR UPDATE",
            [ids],
        )
    return ids


def entries_post(entries: Sequence[Entry], *, at: datetime | None = None) -> list[Entry]:
    """Insert the entries not there yet (by key) and move their accounts; returns those inserted.
    ``at`` is their time (now, unless a test or a seed needs the past).

    Call inside a transaction, after ``accounts_lock`` for every customer among them."""
    if not entries:
        return []
    now = at or timezone.now()
    by_key = {e.key: e for e in entries}
    if len(by_key) != len(entries):
        raise ValueError("Two entries share a key.")
    rows = [
        (
            e.customer_id,
            e.group_id,
            e.kind,
            e.available,
            e.pending,
            e.key,
            e.source,
            e.rule_id,
            e.order_id,
            e.basis,
            e.matures_at,
            e.reason,
            e.staff_id,
            e.api_key_id,
            now,
        )
        for e in entries
    ]
    # Normally there already (``accounts_lock``); an account missing would leave its entries
    # out of the cached balance.
    accounts_ensure({(e.customer_id, e.group_id) for e in entries})
    names = ", ".join(COLUMNS)
    inserted: list[Entry] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column, sent in binary: the statement does not grow with the rows,
            # and nothing is spelled out as SQL text on the way.
            arrays = ", ".join(f"%b::{t}[]" for t in COLUMN_TYPES)
            with server_binding_cursor() as binary:
                binary.execute(
                    f"INSERT INTO loyalty_pointsentry ({names}) SELECT * FROM unnest({arrays}) "
                    "ON CONFLICT (key) DO NOTHING RETURNING key",
                    [list(column) for column in zip(*rows, strict=True)],
                )
                inserted = [by_key[k] for (k,) in binary.fetchall()]
        else:
            row = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
            for batch in chunked(rows, INSERT_BATCH):
                cursor.execute(
                    f"INSERT INTO loyalty_pointsentry ({names}) VALUES {', '.join([row] * len(batch))} "
                    "ON CONFLICT (key) DO NOTHING RETURNING key",
                    [value for r in batch for value in r],
                )
                inserted.extend(by_key[k] for (k,) in cursor.fetchall())
    accounts_apply(inserted)
    return inserted


def accounts_apply(entries: Iterable[Entry]) -> None:
    """Move each account by the sum of its entries, relative to its stored figures."""
    deltas: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for e in entries:
        deltas[e.customer_id, e.group_id][0] += e.available
        deltas[e.customer_id, e.group_id][1] += e.pending
    rows = [(cid, gid, a, p) for (cid, gid), (a, p) in sorted(deltas.items()) if a or p]
    if not rows:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        ids, groups, available, pending = (list(col) for col in zip(*rows, strict=True))
        with server_binding_cursor() as cursor:
            cursor.execute(
                "UPDATE loyalty_account a SET balance = a.balance + d.available, pending = a.pending + d.pending, "
                "updated_at = %b FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[]) "
                "AS d(id, group_id, available, pending) WHERE a.customer_id = d.id AND a.group_id = d.group_id",
                [now, ids, groups, available, pending],
            )
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE loyalty_account SET balance = balance + %s, pending = pending + %s, updated_at = %s "
            "WHERE customer_id = %s AND group_id = %s",
            [(a, p, now, cid, gid) for cid, gid, a, p in rows],
        )


def entries_insert_select(select_sql: str, params: Sequence, *, now: datetime, due_by: datetime | None = None):
    """PostgreSQL: insert the entries a SELECT yields (columns named as ``SELECTED``) that are
    not there yet (by key), and move their accounts, in one statement. Returns (entries
    written, of which pending points due by ``due_by``). ``params`` are the SELECT's (``%s``).

    Call inside a transaction, after ``accounts_lock`` for every customer it may yield (with
    their accounts in the groups it may yield)."""
    names = ", ".join(SELECTED)
    sql = f"""
    WITH ins AS (
        INSERT INTO loyalty_pointsentry ({names}, created_at)
        SELECT {names}, %s FROM ({select_sql}) AS selected
        ORDER BY customer_id, key
        ON CONFLICT (key) DO NOTHING
        RETURNING customer_id, group_id, available, pending, matures_at
    ), moved AS (
        UPDATE loyalty_account a
        SET balance = a.balance + d.available, pending = a.pending + d.pending, updated_at = %s
        FROM (
            SELECT customer_id, group_id, sum(available) AS available, sum(pending) AS pending
            FROM ins GROUP BY customer_id, group_id
        ) d
        WHERE a.customer_id = d.customer_id AND a.group_id = d.group_id
    )
    SELECT count(*), count(*) FILTER (WHERE matures_at <= %s) FROM ins
    """
    with server_binding_cursor() as cursor:
        cursor.execute(sql, [now, *params, now, due_by or now])
        written, due = cursor.fetchone()
    return written, due


def entries_write(rows: QuerySet, *, now: datetime) -> tuple[int, int]:
    """Post the entries a queryset says, one per row, its values in ``SELECTED``'s order (a
    ``values_list``); returns (entries written, of which pending points due by ``now``).
    Entries already there (by key) are skipped, and ``created_at`` is ``now``.

    The same rows either way; only the I/O differs. On PostgreSQL the queryset is the SELECT
    of ``entries_insert_select``, so no row comes back to Python; elsewhere its rows are read
    and posted by ``entries_post``, in the same order (customer, then key).

    Call inside a transaction, after ``accounts_lock`` for every customer it may yield."""
    if connection.vendor == "postgresql":
        sql, params = rows.query.sql_with_params()
        return entries_insert_select(f"SELECT * FROM ({sql}) AS yielded({', '.join(SELECTED)})", params, now=now)
    entries = [Entry(**dict(zip(SELECTED, row, strict=True))) for row in rows]
    entries.sort(key=lambda e: (e.customer_id, e.key))
    inserted = entries_post(entries, at=now)
    return len(inserted), sum(1 for e in inserted if e.matures_at is not None and e.matures_at <= now)
