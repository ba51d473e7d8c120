"""Ingestion benchmark (`make bench`): the real HTTP API under gunicorn on PostgreSQL.

1. A fresh PostgreSQL database (BENCH_DATABASE_URL), migrated, with one shop and key.
2. gunicorn serves the app; this separate process sends bulk requests of 1,000 orders
   with 3 lines each from two client threads, and measures orders per second.
3. The same rows are inserted with COPY in the same run: the raw rate to compare with.
4. Single-order POSTs, one after another: p50 and p95 latency.
5. Every customer's aggregates, metrics and stage are recomputed set-based, and timed.
Results are printed as Markdown and saved to bench/out/results.json.
"""

import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BULK_REQUESTS = int(os.environ.get("BENCH_BULK_REQUESTS", "30"))
BULK_SIZE = 1000
SINGLE_REQUESTS = int(os.environ.get("BENCH_SINGLE_REQUESTS", "400"))
# As many workers as the shipped config starts (2 × CPUs + 1, threaded), two client threads.
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
CLIENT_THREADS = int(os.environ.get("BENCH_CLIENT_THREADS", "2"))
CUSTOMER_POOL = 40_000
(ROOT / "bench/out").mkdir(exist_ok=True)
LOG = (ROOT / "bench/out/gunicorn.log").open("w")


def fresh_database() -> None:
    name = DB_URL.rsplit("/", 1)[1]
    admin_url = DB_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def analyze() -> None:
    """Fresh tables have no planner statistics; autovacuum would gather them within a minute."""
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute("ANALYZE")


def settle() -> None:
    """After the bulk phase: vacuum, analyze and checkpoint now, so the single-order timings
    measure the API, not autovacuum and a checkpoint catching up on 30,000 orders."""
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def env() -> dict:
    return {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }


def order(n: int, rng: random.Random, when: datetime) -> dict:
    lines = [
        {"sku": f"SKU-{rng.randrange(500)}", "name": "Item", "quantity": rng.randint(1, 3), "unit_price": f"{p}.99"}
        for p in (rng.randint(3, 80) for _ in range(3))
    ]
    subtotal = sum(int(line["unit_price"].split(".")[0]) * 100 + 99 for line in lines for _ in range(line["quantity"]))
    c = rng.randrange(CUSTOMER_POOL)
    return {
        "external_id": f"B{n}",
        "placed_at": (when - timedelta(minutes=n)).isoformat(),
        "currency": "USD",
        "status": "paid",
        "shipping_total": "4.99",
        "total": f"{(subtotal + 499) // 100}.{(subtotal + 499) % 100:02d}",
        "customer": {"external_id": f"c{c}", "email": f"shopper{c}@example.com", "first_name": "Pat"},
        "lines": lines,
    }


def start_gunicorn() -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            # The production config (threaded workers), with the benchmark's own worker
            # count, address, timeout and log level on top.
            "-c",
            "config/gunicorn.conf.py",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{PORT}",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            # e.g. "-k sync --threads 1" to compare with the former sync workers.
            *os.environ.get("BENCH_GUNICORN_ARGS", "").split(),
        ],
        cwd=ROOT,
        env=env(),
        stdout=LOG,
        stderr=subprocess.STDOUT,
    )
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{PORT}/api/v1/customers", timeout=5)  # 401 once it serves
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def bulk_phase(key: str) -> dict:
    rng = random.Random(42)
    when = datetime(2026, 6, 1, tzinfo=UTC)
    bodies = [
        orjson.dumps({"orders": [order(r * BULK_SIZE + i, rng, when) for i in range(BULK_SIZE)]})
        for r in range(BULK_REQUESTS + 1)
    ]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{PORT}/api/v1/orders/bulk"
    warm = requests.post(url, data=bodies[0], headers=headers, timeout=120)
    assert warm.status_code == 200 and warm.json()["created"] == BULK_SIZE, warm.text[:500]
    analyze()
    queue = list(bodies[1:])
    lock = threading.Lock()
    created = []

    def client():
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            response = session.post(url, data=body, headers=headers, timeout=120)
            assert response.status_code == 200, response.text[:500]
            created.append(response.json()["created"])

    threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    orders = sum(created)
    assert orders == BULK_REQUESTS * BULK_SIZE, orders
    return {"orders": orders, "seconds": elapsed, "orders_per_second": orders / elapsed}


def single_phase(key: str) -> dict:
    """Sequential single-order POSTs. The client is the standard library's http.client, a new
    connection per request as gunicorn's sync workers close each one: ``requests`` would add
    about 0.8 ms of its own time to every figure, which is not the API's latency."""
    rng = random.Random(7)
    when = datetime(2026, 7, 1, tzinfo=UTC)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    timings = []
    for n in range(SINGLE_REQUESTS + 20):
        body = orjson.dumps(order(10_000_000 + n, rng, when))
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        conn.request("POST", "/api/v1/orders", body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
        conn.close()
        elapsed = time.perf_counter() - start
        assert response.status == 201, text[:300]
        if n >= 20:  # the first requests warm the workers up
            timings.append(elapsed * 1000)
    timings.sort()
    return {
        "requests": len(timings),
        "client": "http.client",
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(len(timings) * 0.95) - 1],
        "max_ms": timings[-1],
    }


def copy_phase() -> dict:
    """The same orders and lines, written with COPY: the floor the API is compared to."""
    import django

    os.environ.update(env())
    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.db import transaction

    from core.db import bulk_writer as bw
    from customers.models import Customer, Order, OrderLine, Shop
    from customers.services.demo_data import ORDER_COLUMNS

    rng = random.Random(42)
    when = datetime(2026, 6, 1, tzinfo=UTC)
    payloads = [order(50_000_000 + i, rng, when) for i in range(BULK_REQUESTS * BULK_SIZE)]
    shop = Shop.objects.get(slug="bench")
    customer_id = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    start = time.perf_counter()
    with transaction.atomic():
        first_order, first_line = bw.next_id(Order), bw.next_id(OrderLine)
        stamp = when.isoformat()
        bw.write_rows(
            Order,
            ORDER_COLUMNS,
            (
                (
                    first_order + i,
                    shop.pk,
                    p["external_id"],
                    customer_id,
                    p["placed_at"],
                    "paid",
                    "USD",
                    p["total"],
                    "0",
                    "4.99",
                    "0",
                    p["total"],
                    p["total"],
                    "1",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    stamp,
                    stamp,
                )
                for i, p in enumerate(payloads)
            ),
        )
        bw.write_rows(
            OrderLine,
            ["id", "order_id", "product_id", "sku", "name", "quantity", "unit_price"],
            (
                (
                    first_line + 3 * i + j,
                    first_order + i,
                    None,
                    line["sku"],
                    line["name"],
                    line["quantity"],
                    line["unit_price"],
                )
                for i, p in enumerate(payloads)
                for j, line in enumerate(p["lines"])
            ),
        )
    elapsed = time.perf_counter() - start
    bw.reset_sequences(Order, OrderLine)
    return {"orders": len(payloads), "seconds": elapsed, "orders_per_second": len(payloads) / elapsed}


def aggregates_phase() -> dict:
    from core.chunks import id_ranges
    from customers.models import Customer
    from customers.services.recompute import customers_recompute_range

    count = Customer.objects.count()
    start = time.perf_counter()
    for first_id, last_id in id_ranges(Customer):
        customers_recompute_range(first_id=first_id, last_id=last_id)
    elapsed = time.perf_counter() - start
    return {"customers": count, "seconds": elapsed, "customers_per_second": count / elapsed}


def main() -> None:
    fresh_database()
    subprocess.run([str(ROOT / ".venv/bin/python"), "manage.py", "migrate", "-v0"], cwd=ROOT, env=env(), check=True)
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "create_shop", "bench"],
        cwd=ROOT,
        env=env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    key = out.split("store it now): ")[1].strip()
    server = start_gunicorn()
    try:
        bulk = bulk_phase(key)
        settle()
        single = single_phase(key)
    finally:
        server.terminate()
        server.wait(timeout=30)
    copy = copy_phase()
    aggregates = aggregates_phase()
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "gunicorn_workers": WORKERS,
        "bulk_api": bulk,
        "copy": copy,
        "single_post": single,
        "aggregates_full_recompute": aggregates,
    }
    (ROOT / "bench/out").mkdir(exist_ok=True)
    (ROOT / "bench/out/results.json").write_text(json.dumps(results, indent=2))
    rows = [
        (
            f"bulk API, 1,000 orders × 3 lines per request, {WORKERS} gunicorn workers",
            f"{bulk['orders_per_second']:,.0f} orders/s ({bulk['orders']:,} orders in {bulk['seconds']:.1f} s)",
        ),
        (
            "COPY of the same orders and lines, same run",
            f"{copy['orders_per_second']:,.0f} orders/s ({copy['seconds']:.2f} s)",
        ),
        ("API rate as a share of COPY", f"{bulk['orders_per_second'] / copy['orders_per_second']:.0%}"),
        (
            f"single-order POST latency ({single['requests']} sequential)",
            f"p50 {single['p50_ms']:.1f} ms, p95 {single['p95_ms']:.1f} ms, max {single['max_ms']:.1f} ms",
        ),
        (
            "full recompute (aggregates, metrics, stages)",
            f"{aggregates['customers']:,} customers in {aggregates['seconds']:.2f} s",
        ),
    ]
    print("| measure | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
