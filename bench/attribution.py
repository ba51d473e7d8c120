"""Attribution benchmark (`make bench-attribution`), on PostgreSQL.

1. A fresh database (BENCH_ATTR_DATABASE_URL, default crm_bench_attr), migrated.
2. Seeded server-side (INSERT … SELECT over generate_series, which is as fast as COPY here
   and needs no client round trip): BENCH_ATTR_CUSTOMERS customers (default 1,000,000,
   a fifth with a first-seen source), 5 orders each over a year (a tenth with a UTM),
   2 marketing messages each, and per customer 2 opens and 1 click on average in the days
   before their orders, so many orders have touches in their windows.
3. Timed, in-process: the first full pass under every model (every touchpoint collected,
   then the five models' credits), a second full pass (the nightly one: touches already
   collected), then an incremental pass after 10,000 new orders; each with its phases.
Printed as Markdown, for docs/benchmarks.md.

BENCH_ATTR_REUSE=1 keeps a database seeded by an earlier run (seeding takes minutes): it
drops the orders that run added after the seed and rebuilds the pass's own tables
(touchpoints, credits, state) from the current models, then times the same two passes.
"""

import os
import time

from harness import django_setup

DB_URL = os.environ.get("BENCH_ATTR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_attr")
CUSTOMERS = int(os.environ.get("BENCH_ATTR_CUSTOMERS", "1000000"))
ORDERS_EACH = 5
MESSAGES_EACH = 2
NEW_ORDERS = 10_000
REUSE = os.environ.get("BENCH_ATTR_REUSE") == "1"

django_setup(database_url=DB_URL, fresh=not REUSE, redis_url="")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from campaigns.attribution.passes import attribution_run  # noqa: E402
from campaigns.models import AttributionCredit, AttributionSettings, AttributionState, Touchpoint  # noqa: E402


def run(sql: str, params=()) -> float:
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return time.perf_counter() - t


def orders_insert(first_id: int, count: int, customers: int) -> None:
    """``count`` orders from id ``first_id``, customer ``i % customers + 1``, over the last year."""
    run(
        """INSERT INTO customers_order (id, shop_id, external_id, customer_id, placed_at, status, currency,
            subtotal, discount_total, shipping_total, tax_total, total, total_base, refunded_base, exchange_rate,
            discount_code, source, utm_source, utm_medium, utm_campaign, payload_hash, shipping_address_key,
            created_at, updated_at)
        SELECT i, 1, 'o' || i, (i %% %s) + 1, now() - ((i * 7919) %% 31536000) * interval '1 second', 'paid', 'USD',
            50, 0, 0, 0, 50 + (i %% 100), 50 + (i %% 100), 0, 1, '', '',
            CASE WHEN i %% 10 = 0 THEN 'crm' ELSE '' END, '',
            CASE WHEN i %% 10 = 0 THEN 'email:' || (i %% 50) ELSE '' END,
            '', '', now(), now()
        FROM generate_series(%s::bigint, %s::bigint) i""",
        (customers, first_id, first_id + count - 1),
    )


def seed() -> dict[str, float]:
    n = CUSTOMERS
    times = {}
    t = time.perf_counter()
    from customers.models import Shop, ShopGroup

    Shop.objects.create(id=1, slug="bench", name="Bench", group=ShopGroup.objects.create(name="Bench"))
    times["customers"] = time.perf_counter() - t
    times["customers"] += run(
        """INSERT INTO customers_customer (id, email, email_normalized, first_name, last_name, phone, country,
            time_zone, marketing_consent, first_seen_at, source, utm_source, utm_medium, utm_campaign,
            orders_count, net_revenue, avg_order_value, created_at, updated_at)
        SELECT i, 'c' || i || '@example.com', 'c' || i || '@example.com', '', '', '', '', '', true,
            now() - interval '400 days', CASE WHEN i %% 5 = 0 THEN 'google' ELSE '' END, '', '', '',
            0, 0, 0, now(), now()
        FROM generate_series(1, %s) i""",
        (n,),
    )
    t = time.perf_counter()
    orders_insert(1, n * ORDERS_EACH, n)
    times["orders"] = time.perf_counter() - t
    m = n * MESSAGES_EACH
    times["messages"] = run(
        """INSERT INTO messaging_message (id, key, customer_id, shop_id, to_email, kind, template, context, subject,
            from_email, reply_to, html, text, headers, message_id, status, attempts, last_error,
            provider_message_id, next_attempt_at, created_at, updated_at, sent_at)
        SELECT i, 'email:' || (i %% 50) || ':' || i, (i %% %s) + 1, 1, 'c@example.com', 'marketing', 'test', '{}', '',
            '', '', '', '', '{}', '<' || i || '@bench>', 'sent', 1, '', '', now(), now(), now(), now()
        FROM generate_series(1, %s) i""",
        (n, m),
    )
    # Each message opened once, a half of them clicked too, within a week before one of the
    # customer's orders (the order with the same number mod 5).
    times["events"] = run(
        """INSERT INTO messaging_messageevent (message_id, status, at, detail, provider_event, provider_event_key)
        SELECT m.id, s.status, o.placed_at - ((m.id * 31) %% 604800) * interval '1 second', '', '', ''
        FROM messaging_message m
        JOIN customers_order o ON o.id = m.customer_id + %s * (m.id %% 5)
        CROSS JOIN (VALUES ('opened'), ('clicked')) s(status)
        WHERE s.status = 'opened' OR m.id %% 2 = 0""",
        (n,),
    )
    run("ANALYZE")
    return times


def reuse() -> None:
    """Back to the state right after seeding: the seeded orders only, and the pass's own
    tables made anew from the models (so a change to their schema is measured too)."""
    with connection.schema_editor() as editor:
        for model in (AttributionCredit, AttributionState, Touchpoint):
            editor.execute(f"DROP TABLE IF EXISTS {editor.quote_name(model._meta.db_table)} CASCADE")
        for model in (Touchpoint, AttributionCredit, AttributionState):
            editor.create_model(model)
    run("DELETE FROM customers_order WHERE id > %s", (CUSTOMERS * ORDERS_EACH,))
    run("VACUUM ANALYZE customers_order")
    if not AttributionSettings.objects.exists():
        AttributionSettings.objects.create()


def phases(result) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.seconds.items())


def main() -> None:
    if REUSE:
        seeded, seed_s = {}, 0.0
        reuse()
    else:
        call_command("migrate", verbosity=0)
        t = time.perf_counter()
        seeded = seed()
        seed_s = time.perf_counter() - t
        if not AttributionSettings.objects.exists():  # the migration made it
            AttributionSettings.objects.create()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM messaging_messageevent")
        events = cursor.fetchone()[0]
    t = time.perf_counter()
    first = attribution_run(full=True)
    full_s = time.perf_counter() - t
    t = time.perf_counter()
    nightly = attribution_run(full=True)
    nightly_s = time.perf_counter() - t
    touches = Touchpoint.objects.count()
    credits = AttributionCredit.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM customers_order")
        last = cursor.fetchone()[0]
    orders_insert(last + 1, NEW_ORDERS, CUSTOMERS)
    t = time.perf_counter()
    inc = attribution_run()
    inc_s = time.perf_counter() - t
    print(f"| customers | {CUSTOMERS:,} |")
    print(f"| orders | {CUSTOMERS * ORDERS_EACH:,} |")
    print(f"| marketing messages | {CUSTOMERS * MESSAGES_EACH:,} |")
    print(f"| message events (opens and clicks) | {events:,} |")
    if not REUSE:
        print(f"| seeding | {seed_s:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in seeded.items())}) |")
    print(
        f"| first full pass, every model | {full_s:.1f} s "
        f"({touches:,} touchpoints, {credits:,} (order, touch) pairs credited) |"
    )
    print(f"| its phases | {phases(first)} |")
    print(f"| nightly full pass (touches already collected) | {nightly_s:.1f} s |")
    print(f"| its phases | {phases(nightly)} |")
    print(f"| incremental pass after {NEW_ORDERS:,} new orders | {inc_s:.2f} s ({inc.orders:,} orders re-credited) |")
    print(f"| its phases | {phases(inc)} |")


if __name__ == "__main__":
    main()
