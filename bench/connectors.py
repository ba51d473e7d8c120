"""Shopify webhook intake (`make bench-connectors`): a burst of signed orders/create
deliveries against gunicorn with the shipped config, on PostgreSQL.

1. A fresh database (BENCH_CONNECTORS_DATABASE_URL), migrated, one shop and connection.
2. gunicorn (config/gunicorn.conf.py) serves the app; client processes × threads, each
   thread on one keep-alive connection, send BENCH_CONNECTORS_DELIVERIES (10,000) signed
   bodies in Shopify's shape, prepared and signed before the clock starts.
3. Measured: deliveries verified and stored per second (every answer must be 200 and every
   delivery a row), then the same burst again as Shopify's re-sends (nothing new stored).
Processing is not part of it: no Celery worker runs, so the deliveries stay pending (the
burst's one queued task waits in Redis). Results in bench/out/connectors.json.
"""

import base64
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from harness import django_setup  # noqa: E402

DB_URL = os.environ.get("BENCH_CONNECTORS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_connectors")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PORT = int(os.environ.get("BENCH_PORT", "8766"))
DELIVERIES = int(os.environ.get("BENCH_CONNECTORS_DELIVERIES", "10000"))
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
CLIENT_PROCESSES = int(os.environ.get("BENCH_CLIENT_PROCESSES", "2"))
CLIENT_THREADS = int(os.environ.get("BENCH_CLIENT_THREADS", "8"))  # per process
SECRET = "shpss_bench_secret"
DOMAIN = "bench.myshopify.com"
(ROOT / "bench/out").mkdir(exist_ok=True)


def shopify_order(n: int) -> bytes:
    lines = [
        {
            "id": n * 10 + i,
            "title": f"Item {i}",
            "sku": f"SKU-{(n + i) % 500}",
            "price": f"{10 + i}.50",
            "quantity": 1 + i % 2,
            "discount_allocations": [],
        }
        for i in range(3)
    ]
    return orjson.dumps(
        {
            "id": 10_000_000 + n,
            "name": f"#{n}",
            "email": f"shopper{n % 5000}@example.com",
            "created_at": "2026-06-01T10:00:00-04:00",
            "updated_at": "2026-06-01T10:00:05-04:00",
            "currency": "USD",
            "presentment_currency": "USD",
            "financial_status": "paid",
            "taxes_included": False,
            "total_price": "60.00",
            "subtotal_price": "55.00",
            "total_tax": "0.00",
            "total_discounts": "0.00",
            "shipping_lines": [{"price": "5.00", "title": "Standard"}],
            "line_items": lines,
            "customer": {
                "id": 70_000 + n % 5000,
                "email": f"shopper{n % 5000}@example.com",
                "first_name": "Pat",
                "email_marketing_consent": {"state": "subscribed"},
            },
            "refunds": [],
        }
    )


def signed(body: bytes) -> dict:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode(),
    }


def send_slice(args) -> list[int]:
    path, items = args
    statuses: list[int] = []
    lock = threading.Lock()
    chunks = [items[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        got = []
        for body, headers in chunk:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            got.append(response.status)
        conn.close()
        with lock:
            statuses.extend(got)

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def server_cpu_seconds(master: int) -> float:
    """CPU time of gunicorn's master and workers, live ones and those recycled (the master's
    children's time), so the figure does not depend on what else the machine runs."""
    ticks = os.sysconf("SC_CLK_TCK")

    def stat(pid: int) -> list[str]:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()

    own = stat(master)
    total = sum(int(v) for v in own[11:15])  # utime, stime, cutime, cstime
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    for pid in children.split():
        try:
            total += sum(int(v) for v in stat(int(pid))[11:13])
        except FileNotFoundError:
            pass
    return total / ticks


def burst(path: str, items: list) -> tuple[float, list[int]]:
    slices = [(path, items[i::CLIENT_PROCESSES]) for i in range(CLIENT_PROCESSES)]
    with multiprocessing.get_context("fork").Pool(CLIENT_PROCESSES) as pool:
        started = time.perf_counter()
        results = pool.map(send_slice, slices)
        elapsed = time.perf_counter() - started
    return elapsed, [s for r in results for s in r]


def main() -> None:
    django_setup(database_url=DB_URL, redis_url=REDIS_URL, fresh=True)
    from django.core.management import call_command

    from core.secrets import secret_encrypt
    from crm.connectors.models import ShopConnection, WebhookDelivery
    from customers.services.api_keys import shop_create

    call_command("migrate", verbosity=0)
    shop, _ = shop_create(slug="bench", name="Bench")
    connection = ShopConnection.objects.create(
        shop=shop, platform="shopify", domain=DOMAIN, secret_encrypted=secret_encrypt(SECRET)
    )
    path = f"/connectors/shopify/{connection.token}/"
    items = []
    for n in range(DELIVERIES):
        body = shopify_order(n)
        items.append((body, signed(body)))
    warm = [(b, signed(b)) for b in (shopify_order(DELIVERIES + n) for n in range(200))]

    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    log = (ROOT / "bench/out/gunicorn-connectors.log").open("w")
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "-c",
            "config/gunicorn.conf.py",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
            *os.environ.get("BENCH_GUNICORN_ARGS", "").split(),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{PORT}/health/web/", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not start")
        burst(path, warm)  # every worker thread connected and its code paths warm

        cpu_before = server_cpu_seconds(server.pid)
        elapsed, statuses = burst(path, items)
        server_cpu = server_cpu_seconds(server.pid) - cpu_before
        load = os.getloadavg()[0]
        stored = WebhookDelivery.objects.count() - len(warm)
        replay_elapsed, replay_statuses = burst(path, items)  # Shopify re-sends every one
        after_replay = WebhookDelivery.objects.count() - len(warm)
    finally:
        server.terminate()
        server.wait(timeout=30)

    result = {
        "deliveries": DELIVERIES,
        "seconds": round(elapsed, 2),
        "per_second": round(DELIVERIES / elapsed),
        "non_200": sum(1 for s in statuses if s != 200),
        "stored": stored,
        "replay_per_second": round(DELIVERIES / replay_elapsed),
        "replay_non_200": sum(1 for s in replay_statuses if s != 200),
        "stored_after_replay": after_replay,
        "server_cpu_ms_per_delivery": round(server_cpu * 1000 / DELIVERIES, 2),
        "load_average_1min_after": round(load, 1),
        "gunicorn_workers": WORKERS,
        "client": f"{CLIENT_PROCESSES} processes × {CLIENT_THREADS} threads, keep-alive",
        "cpus": os.cpu_count(),
    }
    (ROOT / "bench/out/connectors.json").write_text(json.dumps(result, indent=2))
    print("| measure | value |\n| --- | --- |")
    for name, value in result.items():
        print(f"| {name} | {value} |")
    assert result["non_200"] == 0 and stored == DELIVERIES and after_replay == DELIVERIES, result


if __name__ == "__main__":
    main()
