"""Suggested duplicates benchmark (`make bench-merge-suggestions`), on PostgreSQL.

1. A database (BENCH_MERGE_DATABASE_URL, default crm_bench_merge): made afresh and seeded
   with ``seed_demo --customers 100000`` (BENCH_MERGE_CUSTOMERS), or with BENCH_MERGE_REUSE=1
   one seeded before, migrated.
2. Planted (deterministic UPDATEs, safe to run again): every order given its customer's
   shipping address fingerprint (one address a customer: the worst case, every order read),
   1,000 pairs of customers given one phone, and 1,000 pairs, one buying only in the first
   shop and one only in the second, given one name and one address.
3. Timed: the build (``suggestions_build``: every pair afresh, in one transaction), three
   times; the statement every page ran before the build existed (all pairs found, the first
   page kept), three times; then pages of the built list through Django as a support agent
   (the first, the twentieth, a search by a last name, a search by a phone), median of five,
   with the time their queries took and how many.
Printed as Markdown, for docs/benchmarks.md and docs/merge.md.
"""

import os
import statistics
import time

from harness import django_setup

DB_URL = os.environ.get("BENCH_MERGE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_merge")
CUSTOMERS = int(os.environ.get("BENCH_MERGE_CUSTOMERS", "100000"))
REUSE = os.environ.get("BENCH_MERGE_REUSE") == "1"
PAIRS = 1000

django_setup(database_url=DB_URL, fresh=not REUSE, redis_url="")

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from crm.merging.suggestions import BUILD_SQL, suggestions_build  # noqa: E402
from crm.roles import SUPPORT_AGENT  # noqa: E402
from customers.models import Customer, Order  # noqa: E402

# The pairs the build inserts, read as every page used to: all found, newest first, a page kept.
BEFORE_SQL = (
    BUILD_SQL.split("INSERT INTO")[0]
    + """
SELECT first_id, second_id, MAX(same_phone), MAX(same_address) FROM pairs p
WHERE NOT EXISTS (
    SELECT 1 FROM customers_customermerge m
    WHERE m.undone_at IS NULL AND (m.merged_id = p.first_id OR m.merged_id = p.second_id)
)
GROUP BY first_id, second_id ORDER BY second_id DESC, first_id DESC LIMIT 26
"""
)

PLANT = [
    # One address a customer, on every order.
    "UPDATE customers_order SET shipping_address_key = md5(customer_id::text) || md5('a' || customer_id::text)",
    # Phone pairs: the customer 50 ids on takes the phone of every 100th customer.
    f"""
    WITH a AS (SELECT id, phone, ROW_NUMBER() OVER (ORDER BY id) AS n FROM customers_customer WHERE phone <> ''),
    pair AS (SELECT x.phone, y.id AS b_id FROM a x JOIN a y ON y.n = x.n + 50
             WHERE x.n % 100 = 1 AND x.n <= {PAIRS} * 100)
    UPDATE customers_customer c SET phone = pair.phone FROM pair WHERE c.id = pair.b_id
    """,
    # Name and address pairs across shops: the k-th customer buying only in the first shop and
    # the k-th buying only in the second (from the end), one name and one address.
    f"""
    WITH one_shop AS (
        SELECT customer_id, MIN(shop_id) AS shop_id FROM customers_order GROUP BY customer_id
        HAVING COUNT(DISTINCT shop_id) = 1
    ),
    firsts AS (SELECT customer_id, ROW_NUMBER() OVER (ORDER BY customer_id) AS k FROM one_shop
               WHERE shop_id = (SELECT MIN(id) FROM customers_shop)),
    seconds AS (SELECT customer_id, ROW_NUMBER() OVER (ORDER BY customer_id DESC) AS k FROM one_shop
                WHERE shop_id = (SELECT MAX(id) FROM customers_shop))
    SELECT f.customer_id, s.customer_id FROM firsts f JOIN seconds s USING (k) WHERE k <= {PAIRS}
    """,
]


def plant() -> None:
    with connection.cursor() as cursor:
        cursor.execute(PLANT[0])
        cursor.execute(PLANT[1])
        cursor.execute(PLANT[2])
        pairs = cursor.fetchall()
        cursor.execute("CREATE TEMP TABLE bench_pairs (a bigint, b bigint)")
        cursor.executemany("INSERT INTO bench_pairs VALUES (%s, %s)", pairs)
        cursor.execute(
            "UPDATE customers_customer c SET first_name = a.first_name, last_name = a.last_name"
            " FROM bench_pairs p JOIN customers_customer a ON a.id = p.a WHERE c.id = p.b"
        )
        cursor.execute(
            "UPDATE customers_order o SET shipping_address_key = md5(p.a::text) || md5('a' || p.a::text)"
            " FROM bench_pairs p WHERE o.customer_id = p.b"
        )
        cursor.execute("DROP TABLE bench_pairs")
        cursor.execute("ANALYZE")


def timed(client, url: str) -> tuple[float, float, int]:
    """One GET: the page's time and its queries' (ms), and how many queries."""
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.get(url)
        page_ms = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return page_ms, sum(float(q["time"]) for q in queries.captured_queries) * 1000, len(queries)


def main() -> None:
    if not REUSE:
        call_command("seed_demo", customers=CUSTOMERS, seed=1, verbosity=0)
    call_command("migrate", verbosity=0)
    plant()
    print(f"{Customer.objects.count():,} customers, {Order.objects.count():,} orders\n")

    print("| step | run 1 | run 2 | run 3 | pairs |\n| --- | --- | --- | --- | --- |")
    builds = [suggestions_build() for _ in range(3)]
    print(f"| the build | {' | '.join(f'{b.took.total_seconds():.2f} s' for b in builds)} | {builds[-1].pairs:,} |")
    before = []
    with connection.cursor() as cursor:
        for _ in range(3):
            start = time.perf_counter()
            cursor.execute(BEFORE_SQL, [1, 2**62, 1, 2**62])
            cursor.fetchall()
            before.append(time.perf_counter() - start)
    print(f"| a page's statement before the build existed | {' | '.join(f'{t:.2f} s' for t in before)} | |")

    user, _ = get_user_model().objects.get_or_create(username="bench-agent", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    client = Client()
    client.force_login(user)
    last_name = Customer.objects.exclude(last_name="").order_by("-pk").values_list("last_name", flat=True).first()
    phone = Customer.objects.exclude(phone="").order_by("pk").values_list("phone", flat=True).first()
    pages = [
        ("first page", "/admin/customers/customermerge/suggestions/"),
        ("page 20", "/admin/customers/customermerge/suggestions/?page=20"),
        (f"search by a last name ({last_name})", f"/admin/customers/customermerge/suggestions/?q={last_name}"),
        ("search by a phone", f"/admin/customers/customermerge/suggestions/?q={phone}"),
    ]
    client.get(pages[0][1])  # warm: the session, the sidebar's permissions
    print("\n| page of the built list | median of 5 | best | of which SQL | queries |\n| --- | --- | --- | --- | --- |")
    for name, url in pages:
        runs = [timed(client, url) for _ in range(5)]
        page_ms = statistics.median(r[0] for r in runs)
        sql_ms = statistics.median(r[1] for r in runs)
        best = min(r[0] for r in runs)
        print(f"| {name} | {page_ms:.0f} ms | {best:.0f} ms | {sql_ms:.1f} ms | {runs[-1][2]} |")


if __name__ == "__main__":
    main()
