"""Privacy requests benchmark (`make bench-privacy`), on PostgreSQL.

1. A fresh database (BENCH_PRIVACY_DATABASE_URL, default crm_bench_privacy), migrated.
2. Seeded: 100,000 customers (BENCH_PRIVACY_CUSTOMERS), each with a shop identity, five
   orders with two lines, two events and an email; 200,000 raw platform deliveries of about
   2 KB (BENCH_PRIVACY_DELIVERIES: a busy shop's 30 days, the log's length), each naming
   one customer's address; 20,000 stored API answers.
3. Timed for 20 customers picked at random: the erasure page's preview, the export (the
   ZIP), the shop slice's export, and the erasure itself, each with its query count.
Printed as Markdown, for docs/benchmarks.md.
"""

import os
import statistics
import time

from harness import django_setup

DB_URL = os.environ.get("BENCH_PRIVACY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_privacy")
CUSTOMERS = int(os.environ.get("BENCH_PRIVACY_CUSTOMERS", "100000"))
DELIVERIES = int(os.environ.get("BENCH_PRIVACY_DELIVERIES", "200000"))
PICKED = 20
BATCH = 10_000

django_setup(database_url=DB_URL, fresh=True, redis_url="")

import numpy as np  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.connectors.models import ShopConnection  # noqa: E402
from crm.privacy.erasure import customer_erase  # noqa: E402
from crm.privacy.export import export_zip  # noqa: E402
from crm.privacy.preview import erasure_preview  # noqa: E402
from customers.models import Customer, CustomerIdentity, Order, Shop  # noqa: E402
from customers.selectors import customer_refs  # noqa: E402
from messaging.models import Message  # noqa: E402


def seed(now):
    shop = Shop.objects.create(slug="bench", name="Bench shop")
    connection_ = ShopConnection.objects.create(shop=shop, platform="shopify", domain="bench.myshopify.com")
    Customer.objects.bulk_create(
        (
            Customer(email=f"c{i}@example.com", email_normalized=f"c{i}@example.com", first_name=f"C{i}", last_name="X")
            for i in range(CUSTOMERS)
        ),
        batch_size=BATCH,
    )
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    CustomerIdentity.objects.bulk_create(
        (
            CustomerIdentity(shop=shop, customer_id=c, external_id=f"x{c}", email=f"c{n}@example.com")
            for n, c in enumerate(ids)
        ),
        batch_size=BATCH,
    )
    Order.objects.bulk_create(
        (
            Order(
                shop=shop,
                customer_id=c,
                external_id=f"o{c}-{k}",
                placed_at=now,
                currency="USD",
                total=10,
                total_base=10,
            )
            for c in ids
            for k in range(5)
        ),
        batch_size=BATCH,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_orderline (order_id, sku, name, quantity, unit_price)"
            " SELECT id, 'SKU', 'Mug', 1, 5 FROM customers_order CROSS JOIN generate_series(1, 2)"
        )
        cursor.execute(
            "INSERT INTO customers_event"
            " (created_at, updated_at, shop_id, customer_id, type, payload, occurred_at, external_id)"
            " SELECT now(), now(), %s, id, 'viewed', '{\"sku\": \"SKU\"}', now(), '' FROM customers_customer"
            " CROSS JOIN generate_series(1, 2)",
            [shop.pk],
        )
        filler = "x" * 1900
        cursor.execute(
            "INSERT INTO crm_webhookdelivery (connection_id, shop_id, delivery_key, topic, headers, body, received_at,"
            " status, result, error, attempts)"
            " SELECT %s, %s, 'd' || g, 'orders/create', '{}',"
            " convert_to('{\"email\": \"c' || (g %% %s) || '@example.com\", \"note\": \"' || %s || '\"}', 'UTF8'),"
            " now(), 'processed', '', '', 1 FROM generate_series(1, %s) g",
            [connection_.pk, shop.pk, CUSTOMERS, filler, DELIVERIES],
        )
        cursor.execute(
            "INSERT INTO crm_idempotencyrecord"
            " (shop_id, key, request_fingerprint, status_code, response_body, created_at)"
            " SELECT %s, 'k' || g, 'f', 201, '{\"id\": ' || g || '}', now() FROM generate_series(1, 20000) g",
            [shop.pk],
        )
        cursor.execute("ANALYZE")
    Message.objects.bulk_create(
        (
            Message(
                key=f"m{c}",
                customer_id=c,
                shop=shop,
                to_email=f"c{n}@example.com",
                kind="marketing",
                subject="Hi",
                next_attempt_at=now,
                created_at=now,
                message_id=f"<m{c}@bench>",
            )
            for n, c in enumerate(ids)
        ),
        batch_size=BATCH,
    )
    return shop, ids


def timed(fn):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
    return seconds * 1000, len(queries), result


def summary(name, rows):
    ms = [r[0] for r in rows]
    return f"| {name} | {statistics.median(ms):,.0f} ms | {max(ms):,.0f} ms | {rows[0][1]} |"


def measure(shop, customer_id, user, now) -> dict:
    """One customer's preview, exports and erasure, in the order staff would run them."""
    customer = Customer.objects.get(pk=customer_id)
    ref = customer_refs(shop=shop, customer_ids=[customer_id])[customer_id]
    return {
        "preview": timed(lambda: erasure_preview(customer)),
        "export": timed(lambda: export_zip(customer, made_at=now, made_by="bench")),
        "slice": timed(lambda: export_zip(customer, shop=shop, ref=ref, made_at=now, made_by="bench")),
        "erase": timed(lambda: customer_erase(customer_id=customer_id, user=user)),
    }


def main():
    call_command("migrate", verbosity=0)
    now = timezone.now()
    started = time.perf_counter()
    shop, ids = seed(now)
    seeded = time.perf_counter() - started
    user = get_user_model().objects.create_superuser("bench", password="x")
    picked = [int(c) for c in np.random.default_rng(1).choice(ids, PICKED, replace=False)]
    results = {"preview": [], "export": [], "slice": [], "erase": []}
    sizes = []
    for customer_id in picked:
        for step, row in measure(shop, customer_id, user, now).items():
            results[step].append(row)
        sizes.append(len(results["export"][-1][2]))
    print(f"Seeded {CUSTOMERS:,} customers, {CUSTOMERS * 5:,} orders, {DELIVERIES:,} raw deliveries in {seeded:.0f} s.")
    print(f"Export ZIP: {statistics.median(sizes) / 1024:.1f} KiB (median).")
    print()
    print("| step, per customer | median | slowest | queries |")
    print("| --- | --- | --- | --- |")
    print(summary("erasure preview (the confirmation page's table)", results["preview"]))
    print(summary("export, every app (ZIP)", results["export"]))
    print(summary("export, one shop's slice (the API)", results["slice"]))
    print(summary("erasure", results["erase"]))
    call_command("check", verbosity=0)


if __name__ == "__main__":
    main()
