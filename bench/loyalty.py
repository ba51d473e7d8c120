"""Loyalty benchmark (`make bench-loyalty`), on PostgreSQL.

1. A fresh database (BENCH_LOYALTY_DATABASE_URL, default crm_bench_loyalty), migrated.
2. Seeded with COPY: 1,000,000 customers (BENCH_LOYALTY_CUSTOMERS) with two orders each
   over the last two years, a points account each and three ledger entries each (an earn,
   its maturation, a redemption), consistent with the accounts; a programme (1 point per
   unit, a first-order bonus, 14 days pending) and two tiers (Silver 500, Gold 1,000 over
   the last 12 months).
3. Timed, in-process:
   - the pipeline's loyalty step for 100,000 new paid orders of 50,000 more customers, in
     the pipeline's chunks of 5,000 customers; then the same again (a replay: nothing new);
   - the maturation of those points after the return window;
   - the nightly pass over every customer (ranges of 25,000): codes, birthdays, expiry first
     in, first out over 12 months (the seed's credits span two years), then tiers;
   - ``loyalty_verify`` over every account.
Printed as Markdown, for docs/benchmarks.md.
"""

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_LOYALTY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_loyalty")
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")
os.environ.pop("REDIS_URL", None)  # in-process: the work itself is timed, not the queue

CUSTOMERS = int(os.environ.get("BENCH_LOYALTY_CUSTOMERS", "1000000"))
NEW_CUSTOMERS = 50_000
NEW_ORDERS = 100_000
CHUNK = 100_000


def fresh_database() -> None:
    base, _, name = DB_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


fresh_database()

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from core.chunks import CHUNK_SIZE, NIGHTLY_CHUNK_SIZE, chunked, id_ranges  # noqa: E402
from core.db import bulk_writer as bw  # noqa: E402
from customers.models import Customer, Order, Shop  # noqa: E402
from customers.services.demo_data import ORDER_COLUMNS  # noqa: E402
from loyalty.earning import orders_award, points_mature  # noqa: E402
from loyalty.models import Account, EarningRule, PointsEntry, Programme, Tier  # noqa: E402
from loyalty.nightly import loyalty_nightly_pass  # noqa: E402
from loyalty.verify import balances_verify  # noqa: E402

CUSTOMER_COLUMNS = [
    "id", "email", "email_normalized", "first_name", "last_name", "phone", "country", "marketing_consent",
    "source", "utm_source", "utm_medium", "utm_campaign", "orders_count", "net_revenue", "avg_order_value",
    "created_at", "updated_at",
]  # fmt: skip
ENTRY_COLUMNS = [
    "id",
    "customer_id",
    "group_id",
    "kind",
    "available",
    "pending",
    "key",
    "source",
    "reason",
    "created_at",
]


def write_customers(first: int, last: int, now_ts: str) -> None:
    bw.write_rows(
        Customer,
        CUSTOMER_COLUMNS,
        (
            (i, f"c{i}@example.com", f"c{i}@example.com", "", "", "", "", False, "", "", "", "", 0, "0.00", "0.00")
            + (now_ts, now_ts)
            for i in range(first, last + 1)
        ),
    )


def write_orders(shop: Shop, first_order_id: int, customer_ids, placed_s, cents, status: str) -> None:
    placed = bw.timestamps(placed_s)
    money = bw.money(cents)
    bw.write_rows(
        Order,
        ORDER_COLUMNS,
        (
            (oid, shop.pk, f"B{oid}", cid, p, status, "USD", m, "0.00", "0.00", "0.00", m, m, "1")
            + ("", "", "", "", "", "", p, p)
            for oid, cid, p, m in zip(
                range(first_order_id, first_order_id + len(money)), customer_ids.tolist(), placed, money, strict=True
            )
        ),
    )


def seed(now) -> None:
    rng = np.random.default_rng(1)
    shop = Shop.objects.create(slug="bench", name="Bench shop")
    Programme.objects.create(
        pk=1, starts_at=now - timedelta(days=30), pending_days=14, expiry_mode="fifo", expiry_months=12
    )
    EarningRule.objects.create(name="Birthday", kind="birthday", points=100)
    EarningRule.objects.create(name="Points per unit", kind="spend", points_per_unit=1)
    EarningRule.objects.create(name="Welcome", kind="first_order", points=50)
    Tier.objects.create(name="Silver", rank=1, enter_threshold=500, keep_threshold=400, multiplier=1.25)
    Tier.objects.create(name="Gold", rank=2, enter_threshold=1000, keep_threshold=800, multiplier=1.5)
    now_s = int(now.timestamp())
    now_ts = bw.timestamps([now_s])[0]
    for first in range(1, CUSTOMERS + 1, CHUNK):
        last = min(first + CHUNK - 1, CUSTOMERS)
        ids = np.arange(first, last + 1)
        write_customers(first, last, now_ts)
        owners = np.repeat(ids, 2)
        placed = now_s - rng.integers(30 * 86_400, 730 * 86_400, owners.size)
        cents = rng.lognormal(np.log(30_000), 0.8, owners.size).astype(np.int64)
        write_orders(shop, 2 * first - 1, owners, placed, cents, "fulfilled")
        earned = rng.integers(100, 2_000, ids.size)
        spent = rng.integers(0, 100, ids.size)
        # Credited over the last two years, so the first night's expiry has batches to expire.
        credited = bw.timestamps(now_s - rng.integers(30 * 86_400, 730 * 86_400, ids.size))
        bw.write_rows(
            Account,
            ["id", "customer_id", "group_id", "balance", "pending", "tier_qualifying", "updated_at"],
            (
                (int(c), int(c), shop.group_id, int(e - s), 0, "0.00", now_ts)
                for c, e, s in zip(ids, earned, spent, strict=True)
            ),
        )
        entry_ids = 3 * (ids - 1)
        g = shop.group_id
        bw.write_rows(
            PointsEntry,
            ENTRY_COLUMNS,
            (
                row
                for c, eid, e, s, t in zip(
                    ids.tolist(), entry_ids.tolist(), earned.tolist(), spent.tolist(), credited, strict=True
                )
                for row in (
                    (eid + 1, c, g, "earn", 0, e, f"seed:{c}:earn", "seed", "", t),
                    (eid + 2, c, g, "mature", e, -e, f"seed:{c}:mature", "seed", "", t),
                    (eid + 3, c, g, "redeem", -s, 0, f"seed:{c}:redeem", "seed", "reward", now_ts),
                )
            ),
        )
        print(f"  seeded {last:,} customers", flush=True)
    # The customers whose new orders the pipeline rewards.
    write_customers(CUSTOMERS + 1, CUSTOMERS + NEW_CUSTOMERS, now_ts)
    owners = np.repeat(np.arange(CUSTOMERS + 1, CUSTOMERS + NEW_CUSTOMERS + 1), NEW_ORDERS // NEW_CUSTOMERS)
    placed = now_s - rng.integers(3_600, 5 * 86_400, owners.size)
    cents = rng.lognormal(np.log(6_000), 0.7, owners.size).astype(np.int64)
    write_orders(shop, 2 * CUSTOMERS + 1, owners, placed, cents, "paid")
    bw.reset_sequences(Customer, Order, PointsEntry, Account)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main():
    call_command("migrate", verbosity=0)
    now = timezone.now()
    seconds, _ = timed(lambda: seed(now))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"\nSeeded in {seconds:.0f} s: {Customer.objects.count():,} customers, {Order.objects.count():,} orders, "
        f"{PointsEntry.objects.count():,} ledger entries\n"
    )
    new_customers = list(range(CUSTOMERS + 1, CUSTOMERS + NEW_CUSTOMERS + 1))

    def award():
        return sum(orders_award(chunk) for chunk in chunked(new_customers, CHUNK_SIZE))

    def nightly():
        """Codes, birthdays, expiry (with warnings) and tiers, range by range; returns the sums."""
        totals: dict[str, int] = {}
        for lo, hi in id_ranges(Customer, NIGHTLY_CHUNK_SIZE):
            for step, count in loyalty_nightly_pass(lo, hi).items():
                totals[step] = totals.get(step, 0) + count
        return ", ".join(f"{count:,} {step.replace('_', ' ')}" for step, count in totals.items())

    print("| measure | time | result |\n| --- | --- | --- |")
    for label, fn, unit in [
        (f"award points for {NEW_ORDERS:,} new paid orders ({NEW_CUSTOMERS:,} customers)", award, "entries written"),
        ("the same again (a replay)", award, "entries written"),
        ("maturation after the return window", lambda: points_mature(now=now + timedelta(days=15)), "entries written"),
        (f"nightly pass (codes, birthdays, FIFO expiry, tiers), {CUSTOMERS + NEW_CUSTOMERS:,} customers", nightly, ""),
        ("the nightly pass again (steady)", nightly, ""),
        (f"loyalty_verify, {CUSTOMERS + NEW_CUSTOMERS:,} accounts", lambda: len(balances_verify()[1]), "differences"),
    ]:
        seconds, result = timed(fn)
        shown = f"{result:,} {unit}" if isinstance(result, int) else result
        print(f"| {label} | {seconds:.1f} s | {shown} |", flush=True)


if __name__ == "__main__":
    main()
