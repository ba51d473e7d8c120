"""A body sent chunked (Transfer-Encoding: chunked, no Content-Length), through real servers.

Django reads a WSGI body by its Content-Length, so a chunked one used to be read as empty
and answered 400 "Expected object, got null". gunicorn (the shipped server) undoes the
chunking, and the body is read (``crm.api.middleware``); Django's development server
(``runserver``, and the live server of the tests) cannot pass it on, and the client is told
to send a Content-Length, with 411. The requests are sent with http.client, chunked.
"""

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from customers.models import Order
from customers.services.api_keys import shop_create
from tests.test_gunicorn_slow_clients import free_port

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
ORDER = {
    "external_id": "chunked-1",
    "placed_at": "2026-01-02T10:00:00Z",
    "currency": "USD",
    "total": "59.90",
    "customer": {"external_id": "c-1", "email": "ann@example.com"},
    "lines": [{"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": "29.95"}],
}


def post_chunked(base: str, key: str, body: bytes, path: str = "/api/v1/orders") -> tuple[int, dict]:
    where = urlsplit(base)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    try:
        pieces = [body[i : i + 64 * 1024] for i in range(0, len(body), 64 * 1024)]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        # An iterable body and no Content-Length: http.client sends it chunked.
        connection.request("POST", path, body=iter(pieces), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_the_development_server_answers_a_chunked_body_with_411_saying_what_to_send(live_server):
    _, key = shop_create(slug="main", name="Main Store")

    status, body = post_chunked(live_server.url, key.key, json.dumps(ORDER).encode())

    assert status == 411
    assert body["errors"] == {
        "body": [
            "This server cannot read a chunked body (Transfer-Encoding: chunked): send the body with a "
            "Content-Length header."
        ]
    }
    assert not Order.objects.exists()


@pytest.fixture
def gunicorn_server(tmp_path):
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn is not installed at {GUNICORN}")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings.test",
        GUNICORN_LOG_LEVEL="warning",
        LOG_LEVEL="WARNING",
    )

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    manage("migrate", "--noinput")
    key = manage("create_shop", "main").rsplit(": ", 1)[1].strip()
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    command = [str(GUNICORN), "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "1"]
    proc = subprocess.Popen([*command, "--no-control-socket", "config.wsgi"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):  # up to 30 s to boot
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/api/v1/nothing-here")
                connection.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.skip("gunicorn did not answer within 30 s")
        yield base, key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def test_gunicorn_reads_a_chunked_body_and_refuses_one_over_the_limit(gunicorn_server, settings):
    base, key = gunicorn_server

    status, body = post_chunked(base, key, json.dumps(ORDER).encode())
    assert (status, body["external_id"], body["total"]) == (201, "chunked-1", "59.90")

    status, body = post_chunked(base, key, json.dumps({**ORDER, "total": 10.0}).encode())
    assert (status, list(body["errors"])) == (400, ["total"])  # read, and checked like any body

    too_big = json.dumps({**ORDER, "padding": "x" * settings.API_MAX_BODY_BYTES}).encode()
    status, body = post_chunked(base, key, too_big)
    assert status == 413
    assert body["errors"]["body"] == [
        f"The request body is over {settings.API_MAX_BODY_BYTES} bytes; the limit is "
        f"{settings.API_MAX_BODY_BYTES} bytes."
    ]
