"""The embedded default as `make demo` runs it: runserver on a SQLite file, no Redis.

Each order's follow-up work (the customer's figures) runs in the server after the response,
so the next request's write meets it on the one database file. Before SQLite's writes took
their lock up front (``transaction_mode=IMMEDIATE``, a busy timeout and WAL), 18 of 30
orders posted one after another were 500 "database is locked".

``test_make_demo_end_to_end`` runs `make demo` itself (a small seed, a free port, SQLite in a
temporary folder): API traffic one after another and 8 at once, every acknowledged order in
the customer's figures, the scheduled jobs run by the in-process scheduler, the health
endpoint, and the public links on the demo's port.
"""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _order(n: int) -> dict:
    return {
        "external_id": f"E{n}",
        "placed_at": "2026-01-02T10:00:00Z",
        "currency": "USD",
        "status": "paid",
        "total": "59.90",
        "customer": {"external_id": f"c-{n % 5}", "email": f"p{n % 5}@example.com", "first_name": "Ann"},
        "lines": [{"sku": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "29.95"}],
    }


@pytest.fixture
def demo_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", DJANGO_SETTINGS_MODULE="config.settings.local")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    out = subprocess.run(
        [*manage, "create_shop", "demo-shop"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    key = out.split("store it now): ")[1].strip()
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port, key, tmp_path / "demo.sqlite3"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _post(port: int, key: str, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/orders",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_orders_one_after_another_and_eight_at_once_are_all_stored(demo_server):
    port, key, database = demo_server

    sequential = [_post(port, key, _order(n)) for n in range(20)]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda n: _post(port, key, _order(n)), range(100, 108)))

    assert sequential == [201] * 20
    assert concurrent == [201] * 8
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM customers_order").fetchone() == (28,)


# `make demo`, end to end.


@pytest.fixture
def make_demo(tmp_path):
    """`make demo PORT=… DEMO_CUSTOMERS=200` in its own process group, on a SQLite file in
    ``tmp_path``; yields (port, the output file, the database). ``-o .venv/.installed``
    only stops make from reinstalling the virtualenv the tests run in."""
    database = tmp_path / "demo.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "PORT")}
    env.update(DATABASE_URL=f"sqlite:///{database}", DJANGO_SETTINGS_MODULE="config.settings.local")
    port = _free_port()
    output = tmp_path / "make-demo.log"
    with output.open("w") as log:
        make = subprocess.Popen(
            ["make", "-o", ".venv/.installed", "demo", f"PORT={port}", "DEMO_CUSTOMERS=200"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert make.poll() is None, output.read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("make demo did not serve within 300 s:\n" + output.read_text()[-3000:])
        yield port, output, database
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=30)


def _call(port: int, key: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


def _demo_call(n: int) -> tuple[str, str, dict]:
    """Call ``n``: an order of one of 10 new customers, or (every third call) an event."""
    customer = {"external_id": f"e2e-{n % 10}", "email": f"e2e{n % 10}@example.com", "first_name": "Eve"}
    if n % 3 == 2:
        return "POST", "/api/v1/events", {"type": "product_viewed", "customer": customer, "external_id": f"ev-{n}"}
    cents = 1000 + 37 * n
    total = f"{cents // 100}.{cents % 100:02d}"
    return (
        "POST",
        "/api/v1/orders",
        {
            "external_id": f"e2e-{n}",
            "placed_at": "2026-01-02T10:00:00Z",
            "currency": "USD",
            "status": "paid",
            "total": total,
            "customer": customer,
            "lines": [
                {"sku": "MUG-001", "name": "Mug", "quantity": 1, "unit_price": f"{cents // 100}.{cents % 100:02d}"}
            ],
        },
    )


def test_make_demo_end_to_end(make_demo):
    port, output, database = make_demo
    printed = output.read_text()
    # The URLs it serves, on the port asked for; the public links follow the port.
    assert f"http://127.0.0.1:{port}/admin/" in printed and f"http://127.0.0.1:{port}/api/docs/" in printed
    assert f"Public links (PUBLIC_BASE_URL): http://127.0.0.1:{port}" in printed
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=f"sqlite:///{database}", DJANGO_SETTINGS_MODULE="config.settings.local")
    out = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "create_shop", "demo-web", "--new-key"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    key = out.split("store it now): ")[1].strip()

    calls = [_demo_call(n) for n in range(200)]
    sequential = [_call(port, key, *call) for call in calls[:100]]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda call: _call(port, key, *call), calls[100:]))

    statuses = [status for status, _ in sequential + concurrent]
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) == {201}
    # Every acknowledged order is in its customer's figures once the deferred work is done.
    expected: dict[int, tuple[int, int]] = {}
    for (status, answer), (_, path, body) in zip(sequential + concurrent, calls, strict=True):
        if path == "/api/v1/orders" and status == 201:
            count, cents = expected.get(answer["customer_id"], (0, 0))
            expected[answer["customer_id"]] = (count + 1, cents + round(float(body["total"]) * 100))
    assert len(expected) == 10

    def figures() -> dict[int, tuple[int, int]]:
        seen = {}
        for customer_id in expected:
            status, profile = _call(port, key, "GET", f"/api/v1/customers/{customer_id}")
            assert status == 200
            seen[customer_id] = (profile["orders_count"], round(float(profile["net_revenue"]) * 100))
        return seen

    deadline = time.monotonic() + 60
    while (seen := figures()) != expected and time.monotonic() < deadline:
        time.sleep(1)
    assert seen == expected

    # The scheduled jobs ran on the first start, in the background (beat's whole schedule).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as db:
            runs = dict(db.execute("SELECT name, last_status FROM crm_scheduledrun").fetchall())
        if len(runs) == 8 and "running" not in runs.values():
            break
        time.sleep(1)
    assert runs == dict.fromkeys(runs, "ok") and {"sweep-sla", "refresh-all-segments", "loyalty-nightly"} <= set(runs)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=30) as response:
        assert (response.status, json.loads(response.read())) == (200, {"status": "ok"})

    # A public link (the review page of a delivered order) is on the demo's port.
    with sqlite3.connect(database) as db:
        (order,) = db.execute(
            "SELECT o.external_id FROM customers_order o JOIN customers_shop s ON s.id = o.shop_id "
            "WHERE s.slug = 'demo-web' AND o.status = 'fulfilled' LIMIT 1"
        ).fetchone()
    status, link = _call(port, key, "GET", f"/api/v1/orders/{order}/review-link")
    assert status == 200 and re.match(rf"http://127\.0\.0\.1:{port}/feedback/", link["url"]), link
