"""Redis down under the real server: the API keeps accepting writes (cache and broker gone).

gunicorn serves the app with the shipped config, on a SQLite file of the test's own, with
``REDIS_URL`` pointing at a redis-server the test started (so the cache and the Celery broker
are that Redis). The test stops it and sends every kind of write: each is answered 2xx and
its rows are in the database, with its follow-up work in the outbox. The drain cannot be
queued then; that is found after the response has been sent and cannot change the
answer. Redis is started again with a worker running beat's schedule, and every customer
converges to what their orders give, with nothing left in the outbox. Skipped where
redis-server or gunicorn is missing.

Email queued while Redis is down (a double opt-in confirmation) is in the database with
the answer, and a worker sends it, once, when Redis is back (through the outbox, which the
test settings send to).
"""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.test_cache_outage import REDIS_SERVER, OwnRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"

ORDER = {
    "placed_at": "2026-01-02T10:00:00Z",
    "currency": "USD",
    "status": "paid",
    "total": "59.90",
    "customer": {"external_id": "c-1", "email": "ann@example.com"},
    "lines": [{"sku": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "29.95"}],
}


@pytest.fixture
def served(tmp_path):
    if REDIS_SERVER is None or not GUNICORN.exists():
        pytest.skip("needs redis-server and gunicorn")
    redis_server = OwnRedis()
    redis_server.start()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=redis_server.url,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        GUNICORN_LOG_LEVEL="warning",
        LOG_LEVEL="WARNING",
    )

    def manage(*args):
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    manage("migrate", "--noinput")
    key = manage("create_shop", "main").rsplit(": ", 1)[1].strip()
    port = free_port()
    log = tmp_path / "gunicorn.log"
    output = log.open("w")
    command = [str(GUNICORN), "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "2"]
    proc = subprocess.Popen(
        [*command, "--no-control-socket", "config.wsgi"], cwd=ROOT, env=env, stdout=output, stderr=output
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/api/v1/nothing", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield base, key, redis_server, tmp_path / "db.sqlite3", log, env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        output.close()
        redis_server.stop()


def test_with_redis_down_the_server_accepts_every_write_and_stores_it(served):
    base, key, redis_server, database, log, env = served
    with sqlite3.connect(database) as db:  # subscribing then queues a confirmation email
        db.execute("UPDATE customers_shop SET double_opt_in = 1")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    assert session.post(f"{base}/api/v1/orders", json={**ORDER, "external_id": "1"}, timeout=10).status_code == 201

    redis_server.stop()
    calls = [
        ("orders", {**ORDER, "external_id": "2"}),
        ("orders/bulk", {"orders": [{**ORDER, "external_id": "3"}]}),
        ("orders/2/refunds", {"amount": "9.90"}),
        ("events", {"type": "product_viewed", "customer": {"external_id": "c-1"}}),
        ("tickets", {"customer": {"email": "ann@example.com"}, "subject": "Parcel?", "message": "Where is it?"}),
        ("reviews", {"customer": {"email": "ann@example.com"}, "sku": "SKU-1", "rating": 5, "title": "Good"}),
        ("subscriptions", {"email": "bob@example.com", "consent": True}),
    ]
    answers = {}
    for path, body in calls * 2:  # twice: the second time through threads whose queueing failed
        response = session.post(f"{base}/api/v1/{path}", json=body, timeout=30)
        answers.setdefault(path, []).append(response.status_code)
        assert response.headers["Content-Type"] == "application/json"
    for _ in range(10):
        assert session.get(f"{base}/api/v1/customers", timeout=30).status_code == 200

    assert answers == {
        "orders": [201, 200],
        "orders/bulk": [200, 200],
        "orders/2/refunds": [201, 201],
        "events": [201, 201],
        "tickets": [201, 201],
        "reviews": [201, 200],  # one review per customer and product: the second post updates it
        "subscriptions": [202, 202],
    }
    with sqlite3.connect(database) as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("customers_order", "customers_refund", "customers_event", "support_ticket", "support_review")
        }
    with sqlite3.connect(database) as db:
        queued = db.execute("SELECT count(*) FROM messaging_message WHERE status = 'queued'").fetchone()[0]
    assert queued == 1  # the confirmation (one per ten minutes), in the database with its answer
    assert counts == {
        "customers_order": 3,
        "customers_refund": 2,
        "customers_event": 2,
        "support_ticket": 2,
        "support_review": 1,
    }
    time.sleep(1)  # the last response's deferred work
    text = log.read_text()
    assert "Internal Server Error" not in text
    with sqlite3.connect(database) as db:
        # Ann's and Bob's follow-up waits in the outbox: the drain could not be queued (or,
        # with the cache down too, was not tried) and is left to the periodic one.
        assert db.execute("SELECT count(DISTINCT customer_id) FROM customers_pendingupdate").fetchone()[0] == 2

    # Redis returns; a worker with beat's schedule (-B) drains what waited, within 30 s.
    redis_server.start()
    worker_log = (database.parent / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            str(GUNICORN.parent / "celery"),
            "-A",
            "config",
            "worker",
            "-B",
            "-c",
            "1",
            "--loglevel",
            "WARNING",
            "-s",
            str(database.parent / "beat-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=worker_log,
        stderr=worker_log,
    )
    try:
        # Beat's drain runs every 30 s; the rest is the worker's start, slow on a loaded machine
        # (a PostgreSQL suite beside this one once left it short of 90 s).
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with sqlite3.connect(database) as db:
                waiting = db.execute("SELECT count(*) FROM customers_pendingupdate").fetchone()[0]
                figures = db.execute(
                    "SELECT c.orders_count, c.net_revenue, "
                    "(SELECT count(*) FROM customers_order o WHERE o.customer_id = c.id), "
                    "(SELECT count(*) FROM customers_customermetrics m WHERE m.customer_id = c.id) "
                    "FROM customers_customer c WHERE c.email_normalized = 'ann@example.com'"
                ).fetchone()
                sent = db.execute("SELECT count(*) FROM messaging_message WHERE status = 'sent'").fetchone()[0]
            if waiting == 0 and figures[0] == figures[2] == 3 and sent == 1:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        worker_log.close()
    assert waiting == 0
    # Three orders of 59.90, 2 × 9.90 refunded: what a rebuild from her orders gives.
    assert (figures[0], str(figures[1]), figures[3]) == (3, "159.9", 1)
    # The confirmation went out, once, to the person who subscribed.
    assert sent == 1
    with sqlite3.connect(database) as db:
        outbox = db.execute('SELECT message_id_header, "to" FROM messaging_outboxemail').fetchall()
    assert [to for _, to in outbox] == ["bob@example.com"]
