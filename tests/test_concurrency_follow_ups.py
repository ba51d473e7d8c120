"""Customers' follow-ups on one ticket sent at the same instant (issue 20): each lands once,
however many arrive together and however often each is retried.

Sixteen requests at once: eight different messages, each sent twice with its external id (a
client's retry racing its first try). On PostgreSQL the requests run in threads of this
process, each with its own connection (as tests/test_concurrency.py does). SQLite's test
database lives in memory, where concurrent writers fail at once with "database table is
locked" instead of waiting, which no deployment sees; so on SQLite the same race goes to the
shipped gunicorn (threaded workers, two processes) over a copy of the test database in a
file, the embedded default as it runs."""

import json
import os
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from conftest import on_postgres
from support.models import Ticket
from tests.test_gunicorn_slow_clients import GUNICORN, ROOT, free_port, http_get

pytestmark = pytest.mark.django_db(transaction=True)

FOLLOW_UPS = 8


def race(n: int, fn: Callable[[int], tuple[int, dict]]) -> list[tuple[int, dict]]:
    """Run ``fn(i)`` in ``n`` threads released at the same instant; return their results."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - reported by the test, with the thread's index
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def body_of(i: int) -> dict:
    return {"message": f"Follow-up {i % FOLLOW_UPS}", "external_id": f"msg-{i % FOLLOW_UPS}"}


@pytest.fixture
def pending_ticket(shop_and_key) -> tuple[str, int]:
    """The shop's key and a ticket pending on the customer."""
    key = shop_and_key[1].key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    opened = client.post(
        "/api/v1/tickets",
        {"customer": {"email": "race@example.com"}, "subject": "Help", "message": "Hi", "external_id": "form-1"},
        format="json",
    )
    ticket_id = opened.json()["id"]
    Ticket.objects.filter(pk=ticket_id).update(status=Ticket.Status.PENDING)
    return key, ticket_id


def assert_each_landed_once(results, bodies: list[str], status: str) -> None:
    """Eight messages, one each; the second try of each is 200 with the message the first
    added; the ticket is open again."""
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(code for code, _ in results) == [200] * FOLLOW_UPS + [201] * FOLLOW_UPS, results
    for n in range(FOLLOW_UPS):
        first, second = (answer for i, (_, answer) in enumerate(results) if i % FOLLOW_UPS == n)
        assert first["id"] == second["id"] and first["body"] == f"Follow-up {n}"
    assert sorted(bodies) == sorted(["Hi"] + [f"Follow-up {n}" for n in range(FOLLOW_UPS)])
    assert status == Ticket.Status.OPEN


@pytest.mark.postgres
def test_follow_ups_sent_at_once_each_land_once_on_postgresql(pending_ticket):
    key, ticket_id = pending_ticket

    def send(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = client.post(f"/api/v1/tickets/{ticket_id}/messages", body_of(i), format="json")
        return response.status_code, response.json()

    results = race(2 * FOLLOW_UPS, send)

    ticket = Ticket.objects.get(pk=ticket_id)
    assert_each_landed_once(results, list(ticket.messages.values_list("body", flat=True)), ticket.status)


def serve(database: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """gunicorn with the shipped config on ``database`` (no Redis: the embedded default)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"sqlite:///{database}",
        GUNICORN_LOG_LEVEL="warning",
    )
    command = [str(GUNICORN), "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "2"]
    command += ["--threads", str(FOLLOW_UPS), "--no-control-socket", "config.wsgi"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(100):  # up to 20 s to boot
        if proc.poll() is not None:
            pytest.fail(f"gunicorn did not start: {log.read_text()[-500:]}")
        try:
            if http_get(port, "/api/v1/nothing-here", timeout=2).startswith(b"HTTP/1.1 404"):
                return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail("gunicorn did not answer within 20 s")


def http_post(port: int, path: str, key: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.skipif(on_postgres(), reason="the SQLite file of the embedded default; PostgreSQL runs the test above")
def test_follow_ups_sent_at_once_each_land_once_on_the_embedded_sqlite_file(pending_ticket, tmp_path):
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn is not installed at {GUNICORN}")
    key, ticket_id = pending_ticket
    database = tmp_path / "crm.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(database) as copy:
        connection.connection.backup(copy)  # the migrated schema, the shop, its key, the ticket
    log = tmp_path / "gunicorn.log"
    proc, port = serve(database, log)
    try:
        results = race(
            2 * FOLLOW_UPS, lambda i: http_post(port, f"/api/v1/tickets/{ticket_id}/messages", key, body_of(i))
        )
    finally:
        proc.terminate()
        proc.wait(timeout=15)

    with sqlite3.connect(database) as db:
        bodies = [
            row[0] for row in db.execute("SELECT body FROM support_ticketmessage WHERE ticket_id = ?", [ticket_id])
        ]
        (status,) = db.execute("SELECT status FROM support_ticket WHERE id = ?", [ticket_id]).fetchone()
    assert [code for code, _ in results if code >= 500] == [], log.read_text()[-2000:]
    assert_each_landed_once(results, bodies, status)
