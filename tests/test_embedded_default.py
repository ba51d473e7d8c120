"""The embedded default as `make demo` runs it: runserver on a SQLite file, no Redis.

Each order's follow-up work (the customer's figures) runs in the server after the response,
so the next request's write meets it on the one database file. Before SQLite's writes took
their lock up front (``transaction_mode=IMMEDIATE``, a busy timeout and WAL), 18 of 30
orders posted one after another were 500 "database is locked".
"""

import json
import os
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
