"""Recommendations benchmark (`make bench-recommendations`), on PostgreSQL.

1. A fresh database (BENCH_RECO_DATABASE_URL, default crm_bench_reco), migrated.
   BENCH_RECO_REUSE=1 keeps a database seeded before and only measures.
2. Seeded: BENCH_RECO_CUSTOMERS customers (default 1,000,000) in one shop with
   BENCH_RECO_PRODUCTS products (default 5,000) in 50 categories, and about 5 orders each
   (5 M orders, 12.5 M lines) over the last three years. Shopping is skewed the way shops
   are: categories and products within them follow Zipf laws; each customer favours two
   categories (70 % of lines), the rest follows the shop-wide bestsellers; a line after the
   first is, one time in four, the companion of the line before (a kettle's mug). 10 % of
   products are consumables (30 to 90 days), 5 % are out of stock and 2 % inactive.
   Customers, orders and lines are generated with numpy and sent by binary COPY into
   staging tables, then one ``INSERT … SELECT`` each.
3. Timed, in-process: the nightly build (``recommendations_build``); one customer's list
   (``recommendations_for``, as the API calls it) for BENCH_RECO_SAMPLES random customers,
   median and p95; the list of 1,000 customers at once (the email context); and the
   held-out hit rate at 5 and 10 against the most popular products.
Printed as Markdown, for docs/benchmarks.md.
"""

import os
import struct
import sys
import time

from harness import django_setup

DB_URL = os.environ.get("BENCH_RECO_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_reco")
REUSE = os.environ.get("BENCH_RECO_REUSE") == "1"
CUSTOMERS = int(os.environ.get("BENCH_RECO_CUSTOMERS", "1000000"))
PRODUCTS = int(os.environ.get("BENCH_RECO_PRODUCTS", "5000"))
SAMPLES = int(os.environ.get("BENCH_RECO_SAMPLES", "1000"))
CATEGORIES = 50
ORDERS_PER_CUSTOMER = 5.0
LINES_PER_ORDER = 2.5
DAYS = 3 * 365
CHUNK = 2_000_000  # rows per COPY

django_setup(database_url=DB_URL, fresh=not REUSE, redis_url="")  # in-process: the work is timed

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns.recommendations.build import recommendations_build  # noqa: E402
from campaigns.recommendations.evaluation import shop_hit_rate  # noqa: E402
from campaigns.recommendations.selectors import recommendations_for  # noqa: E402
from customers.models import Customer, Order, OrderLine, Product, Shop  # noqa: E402


def copy_int8(table: str, columns: dict[str, np.ndarray]) -> None:
    """Stage int8 columns into a new temporary table by binary COPY (numpy builds the stream)."""
    names = list(columns)
    n = len(columns[names[0]])
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {table} ({', '.join(f'{c} int8' for c in names)})")
        for first in range(0, n, CHUNK):
            last = min(first + CHUNK, n)
            layout = [("count", ">i2")] + [(x, t) for c in names for x, t in ((f"l_{c}", ">i4"), (c, ">i8"))]
            rows = np.empty(last - first, dtype=np.dtype(layout))
            rows["count"] = len(names)
            for c in names:
                rows[f"l_{c}"] = 8
                rows[c] = columns[c][first:last]
            payload = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + rows.tobytes() + b"\xff\xff"
            with cursor.cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(payload)


def zipf_cdf(n: int, s: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** s
    return np.cumsum(weights) / weights.sum()


def seed(now) -> None:
    rng = np.random.default_rng(21)
    start = time.perf_counter()
    shop = Shop.objects.create(slug="bench", name="Bench shop")
    per_category = PRODUCTS // CATEGORIES
    category_of = np.arange(PRODUCTS) // per_category
    consumable = rng.random(PRODUCTS) < 0.10
    Product.objects.bulk_create(
        [
            Product(
                shop=shop,
                sku=f"P{i:05d}",
                name=f"Product {i}",
                category=f"category-{category_of[i]:02d}",
                price=f"{5 + (i * 7919) % 200}.99",
                currency="USD",
                url=f"https://shop.example/p/{i}",
                in_stock=bool(rng.random() >= 0.05),
                is_active=bool(rng.random() >= 0.02),
                replenish_days=int(rng.integers(30, 91)) if consumable[i] else None,
            )
            for i in range(PRODUCTS)
        ],
        batch_size=5000,
    )
    first_product = Product.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True).first()

    # Customers' orders and lines, as arrays.
    orders_of = rng.poisson(ORDERS_PER_CUSTOMER - 1, CUSTOMERS) + 1
    order_customer = np.repeat(np.arange(CUSTOMERS), orders_of)
    n_orders = len(order_customer)
    placed_s = int(now.timestamp()) - rng.integers(0, DAYS * 86_400, n_orders)
    lines_of = rng.poisson(LINES_PER_ORDER - 1, n_orders) + 1
    line_order = np.repeat(np.arange(n_orders), lines_of)
    n_lines = len(line_order)
    line_customer = order_customer[line_order]
    category_cdf = zipf_cdf(CATEGORIES, 0.8)
    taste = np.searchsorted(category_cdf, rng.random((CUSTOMERS, 2)))
    within = np.searchsorted(zipf_cdf(per_category, 1.1), rng.random(n_lines))
    favourite = taste[line_customer, rng.integers(0, 2, n_lines)] * per_category + within
    bestseller = np.searchsorted(zipf_cdf(PRODUCTS, 1.0), rng.random(n_lines))
    # The bestsellers are spread over the categories, not the first category's products.
    bestseller = rng.permutation(PRODUCTS)[bestseller]
    product = np.where(rng.random(n_lines) < 0.7, favourite, bestseller)
    companion = np.where(
        rng.random(PRODUCTS) < 0.5,
        category_of * per_category + rng.integers(0, per_category, PRODUCTS),
        rng.integers(0, PRODUCTS, PRODUCTS),
    )
    follows = np.zeros(n_lines, dtype=bool)
    follows[1:] = (line_order[1:] == line_order[:-1]) & (rng.random(n_lines - 1) < 0.25)
    product[follows] = companion[product[np.flatnonzero(follows) - 1]]
    print(f"generated {CUSTOMERS:,} customers, {n_orders:,} orders, {n_lines:,} lines", file=sys.stderr)

    customer_table = connection.ops.quote_name(Customer._meta.db_table)
    order_table = connection.ops.quote_name(Order._meta.db_table)
    line_table = connection.ops.quote_name(OrderLine._meta.db_table)
    product_table = connection.ops.quote_name(Product._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        copy_int8("seed_customers", {"id": np.arange(1, CUSTOMERS + 1)})
        cursor.execute(
            f"INSERT INTO {customer_table} (id, email, email_normalized, first_name, last_name, phone, country, "
            "marketing_consent, source, utm_source, utm_medium, utm_campaign, orders_count, net_revenue, "
            "avg_order_value, created_at, updated_at) "
            "SELECT id, 'c' || id || '@example.com', 'c' || id || '@example.com', '', '', '', '', false, '', '', '', "
            "'', 0, 0, 0, now(), now() FROM seed_customers"
        )
        print(f"customers in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        copy_int8("seed_orders", {"id": np.arange(1, n_orders + 1), "customer": order_customer + 1, "placed": placed_s})
        cursor.execute(
            f"INSERT INTO {order_table} (id, shop_id, external_id, customer_id, placed_at, status, currency, "
            "subtotal, discount_total, shipping_total, tax_total, total, total_base, exchange_rate, discount_code, "
            "source, utm_source, utm_medium, utm_campaign, payload_hash, created_at, updated_at) "
            "SELECT id, %s, 'R' || id, customer, to_timestamp(placed), 'fulfilled', 'USD', 50, 0, 0, 0, 50, 50, 1, "
            "'', '', '', '', '', '', to_timestamp(placed), to_timestamp(placed) FROM seed_orders",
            [shop.pk],
        )
        print(f"orders in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        copy_int8("seed_lines", {"order_id": line_order + 1, "product": product + first_product})
        cursor.execute(
            f"INSERT INTO {line_table} (order_id, product_id, sku, name, quantity, unit_price) "
            f"SELECT l.order_id, p.id, p.sku, p.name, 1, p.price FROM seed_lines l JOIN {product_table} p "
            "ON p.id = l.product"
        )
        for name in ("customers_customer", "customers_order", "customers_orderline"):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM " + name + "))", [name]
            )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {customer_table}, {order_table}, {line_table}, {product_table}")
    print(f"seeded in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def main() -> None:
    now = timezone.now()
    seeding = None
    if not REUSE or not Shop.objects.filter(slug="bench").exists():
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        seed(now)
        seeding = time.perf_counter() - started
    shop = Shop.objects.get(slug="bench")
    orders = Order.objects.filter(shop=shop).count()
    lines = OrderLine.objects.filter(order__shop=shop).count()

    result = recommendations_build(shop_id=shop.pk, now=now)
    again = recommendations_build(shop_id=shop.pk, now=now)

    rng = np.random.default_rng(5)
    ids = np.sort(rng.choice(np.arange(1, CUSTOMERS + 1), SAMPLES + 1000, replace=False))
    sample, group = ids[:SAMPLES], ids[SAMPLES:]
    rng.shuffle(sample)
    recommendations_for(customer_ids=[int(sample[0])], shop_id=shop.pk)  # warm the connection
    times, lengths, reasons = [], [], {}
    for pk in sample.tolist():
        started = time.perf_counter()
        items = recommendations_for(customer_ids=[pk], shop_id=shop.pk)[pk]
        times.append((time.perf_counter() - started) * 1000)
        lengths.append(len(items))
        for item in items:
            reasons[item.reason] = reasons.get(item.reason, 0) + 1
    started = time.perf_counter()
    many = recommendations_for(customer_ids=group.tolist())
    many_s = time.perf_counter() - started

    rate = shop_hit_rate(shop_id=shop.pk)

    print(f"\n{CUSTOMERS:,} customers, {orders:,} orders, {lines:,} lines, {PRODUCTS:,} products")
    if seeding is not None:
        print(f"Seeded in {seeding:.0f} s.")
    print()
    print("| measure | time | result | target |")
    print("| --- | --- | --- | --- |")
    print(
        f"| nightly build (read {result.lines:,} lines, similarity, popular, write) | {result.seconds:.1f} s | "
        f"{result.customers:,} customers, {result.products:,} products, {result.neighbours:,} neighbours | ≤ 120 s |"
    )
    print(f"| the build again | {again.seconds:.1f} s | same | ≤ 120 s |")
    print(
        f"| one customer's list (10 products), {SAMPLES:,} random customers | median "
        f"{np.median(times):.1f} ms, p95 {np.percentile(times, 95):.1f} ms, max {max(times):.1f} ms | "
        f"{np.mean(lengths):.1f} products on average; {reasons} | ≤ 20 ms |"
    )
    print(
        f"| 1,000 customers' lists at once (the email context) | {many_s * 1000:.0f} ms | "
        f"{sum(len(v) for v in many.values()):,} products | |"
    )
    print(
        f"| held-out hit rate ({rate.customers:,} customers, last order hidden) | {rate.seconds:.1f} s | "
        f"hit@5 {rate.hit_at_5:.1%} (most popular {rate.popular_hit_at_5:.1%}), "
        f"hit@10 {rate.hit_at_10:.1%} (most popular {rate.popular_hit_at_10:.1%}) | |"
    )


if __name__ == "__main__":
    main()
