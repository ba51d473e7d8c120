"""Writing to the points ledger: the one way points move.

Every write goes the same way, inside one transaction:

1. ``accounts_lock``: create the customers' accounts if missing, then lock their rows
   (in id order, so two writers never wait on each other in a cycle). While a customer's
   row is locked nobody else moves their points, so what a writer reads of the ledger is
   what it writes against.
2. ``entries_post``: insert the entries; an entry whose ``key`` is already there is skipped
   (``ON CONFLICT DO NOTHING``), which makes a replayed order or a re-run task a no-op.
   Then each account moves by the entries that went in: ``balance = balance + delta``,
   relative to the stored value like an ``F()`` update, for many accounts in one statement.

So the cached balance and the ledger change together or not at all; ``loyalty_verify``
checks that they agree.

On PostgreSQL a writer that can say its entries as a ``SELECT`` (the award's earns, the
nightly expiry) uses ``entries_insert_select`` instead: the insert and the accounts' move
are one statement, and no entry is built in Python.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg
from django.db import connection
from django.utils import timezone

from customers.services.chunks import chunked
from loyalty.models import Account

# Rows per INSERT: 13 parameters each stays under both databases' limits on parameters.
INSERT_BATCH = 1000
COLUMNS = (
    "customer_id",
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
    *("bigint", "text", "bigint", "bigint", "text", "text", "bigint", "bigint"),
    *("numeric", "timestamptz", "text", "bigint", "bigint", "timestamptz"),
)


@dataclass(frozen=True)
class Entry:
    customer_id: int
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
SELECTED = COLUMNS[:11]


def server_binding_cursor():
    """A psycopg cursor on Django's connection (so in its transaction) that sends parameters
    apart from the query: Django's own cursor binds them client-side, writing a 15,000-item
    array out as SQL text in Python, which cost more than the insert itself."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def accounts_ensure(customer_ids: Iterable[int]) -> list[int]:
    """Create the accounts that are missing; returns the ids, sorted."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    if connection.vendor != "postgresql":
        for chunk in chunked(ids, 5000):
            Account.objects.bulk_create([Account(customer_id=i) for i in chunk], ignore_conflicts=True)
        return ids
    # One array parameter: an IN list of thousands of placeholders, or thousands of model
    # instances, cost more than the statement takes to run.
    with server_binding_cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_account (customer_id, balance, pending, tier_qualifying, updated_at) "
            "SELECT id, 0, 0, 0, now() FROM unnest(%b::bigint[]) AS id ON CONFLICT (customer_id) DO NOTHING",
            [ids],
        )
    return ids


def accounts_lock(customer_ids: Iterable[int]) -> list[int]:
    """Create the accounts that are missing and lock all of them until the transaction ends."""
    ids = accounts_ensure(customer_ids)
    if not ids or connection.vendor != "postgresql":  # SQLite: one writer at a time, nothing to lock
        return ids
    with server_binding_cursor() as cursor:
        cursor.execute(
            "SELECT customer_id FROM loyalty_account WHERE customer_id = ANY(%b::bigint[]) "
            "ORDER BY customer_id FOR UPDATE",
            [ids],
        )
        return [row[0] for row in cursor.fetchall()]


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
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for e in entries:
        deltas[e.customer_id][0] += e.available
        deltas[e.customer_id][1] += e.pending
    rows = [(cid, a, p) for cid, (a, p) in sorted(deltas.items()) if a or p]
    if not rows:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        ids, available, pending = (list(col) for col in zip(*rows, strict=True))
        with server_binding_cursor() as cursor:
            cursor.execute(
                "UPDATE loyalty_account a SET balance = a.balance + d.available, pending = a.pending + d.pending, "
                "updated_at = %b FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[]) AS d(id, available, pending) "
                "WHERE a.customer_id = d.id",
                [now, ids, available, pending],
            )
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE loyalty_account SET balance = balance + %s, pending = pending + %s, updated_at = %s "
            "WHERE customer_id = %s",
            [(a, p, now, cid) for cid, a, p in rows],
        )


def entries_insert_select(select_sql: str, params: Sequence, *, now: datetime, due_by: datetime | None = None):
    """PostgreSQL: insert the entries a SELECT yields (columns named as ``SELECTED``) that are
    not there yet (by key), and move their accounts, in one statement. Returns (entries
    written, of which pending points due by ``due_by``). ``params`` are the SELECT's (``%s``).

    Call inside a transaction, after ``accounts_lock`` for every customer it may yield."""
    names = ", ".join(SELECTED)
    sql = f"""
    WITH ins AS (
        INSERT INTO loyalty_pointsentry ({names}, created_at)
        SELECT {names}, %s FROM ({select_sql}) AS selected
        ORDER BY customer_id, key
        ON CONFLICT (key) DO NOTHING
        RETURNING customer_id, available, pending, matures_at
    ), moved AS (
        UPDATE loyalty_account a
        SET balance = a.balance + d.available, pending = a.pending + d.pending, updated_at = %s
        FROM (
            SELECT customer_id, sum(available) AS available, sum(pending) AS pending FROM ins GROUP BY customer_id
        ) d
        WHERE a.customer_id = d.customer_id
    )
    SELECT count(*), count(*) FILTER (WHERE matures_at <= %s) FROM ins
    """
    with server_binding_cursor() as cursor:
        cursor.execute(sql, [now, *params, now, due_by or now])
        written, due = cursor.fetchone()
    return written, due
