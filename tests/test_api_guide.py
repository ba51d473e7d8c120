"""docs/api.md works when copied: its quick start's shell steps and its retrying client loop
are taken from the guide as they stand and run against a live server.

The quick start's key comes from ``create_shop`` as the guide runs it, and its only edit is
the two values the guide asks the reader to fill in (the address and the key). The client
loop runs with the request rate turned down to 2 a second, so that it meets a 429 and must
wait out ``Retry-After`` to get every order through.
"""

import io
import json
import re
import subprocess
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from customers.models import Order

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "api.md"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("deferred_work_within_the_request")]


def section(title: str) -> str:
    text = GUIDE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_quick_start_works_as_written(live_server):
    quick_start = section("Quick start")
    (console,) = blocks(quick_start, "console")
    command = console.splitlines()[0].removeprefix("$ ").split()
    assert command[:3] == [".venv/bin/python", "manage.py", "create_shop"]
    printed = io.StringIO()
    call_command(*command[2:], stdout=printed)
    key = printed.getvalue().split("API key (shown once, store it now): ")[1].strip()

    setup, *steps = blocks(quick_start, "sh")
    assert "http://127.0.0.1:8000/api/v1" in setup and "paste the key here" in setup
    setup = setup.replace("http://127.0.0.1:8000", live_server.url).replace("paste the key here", key)
    answers = []
    for step in steps:
        run = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{setup}\n{step}"], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, f"{step}\n{run.stdout}\n{run.stderr}"
        answers.append(json.loads(run.stdout))

    order, refund, event, profiles = answers
    assert (order["external_id"], order["total"], order["status"]) == ("1001", "64.85", "paid")
    assert (refund["amount"], refund["order_id"]) == ("29.95", order["id"])
    assert (event["type"], event["customer_id"]) == ("cart_abandoned", order["customer_id"])
    (profile,) = profiles["results"]
    assert (profile["id"], profile["external_ids"], profile["first_name"]) == (order["customer_id"], ["c-1"], "Ann")
    assert (profile["orders_count"], profile["net_revenue"], profile["currency"]) == (1, "34.90", "USD")


class Recording:
    """``requests`` as the guide's loop uses it, noting each answer's status and each
    request's Idempotency-Key."""

    def __init__(self):
        self.statuses: list[int] = []
        self.keys: list[str] = []

    def __getattr__(self, name):
        return getattr(requests, name)

    def post(self, *args, **kwargs):
        response = requests.post(*args, **kwargs)
        self.statuses.append(response.status_code)
        self.keys.append(kwargs.get("headers", {}).get("Idempotency-Key"))
        return response


def test_the_retrying_client_loop_gets_every_order_through_a_429(live_server, settings, order_payload):
    from customers.services.api_keys import shop_create

    settings.API_RATE_PER_KEY = "2/second"
    _, issued = shop_create(slug="my-shop", name="My Shop")
    (code,) = blocks(section("Rate limits and retries"), "python")
    loop: dict = {}
    exec(compile(code, str(GUIDE), "exec"), loop)  # noqa: S102 - the guide's own code
    recording = loop["requests"] = Recording()

    answers = [
        loop["post"](f"{live_server.url}/api/v1/orders", {**order_payload, "external_id": f"A-{i}"}, issued.key)
        for i in range(5)
    ]

    assert [answer["external_id"] for answer in answers] == [f"A-{i}" for i in range(5)]
    assert 429 in recording.statuses, recording.statuses
    assert sorted(set(recording.statuses)) == [201, 429]
    assert recording.statuses.count(201) == 5
    assert Order.objects.filter(external_id__startswith="A-").count() == 5


def test_the_retrying_client_loop_waits_out_a_503_and_the_order_is_written_once(
    live_server, monkeypatch, order_payload
):
    """The database drops the first attempt's connection (a 503 with Retry-After); the loop
    waits that long and sends the same request, with the same Idempotency-Key, again."""
    import time

    from django.db import OperationalError

    from crm import pipeline
    from crm.api import errors
    from customers.services.api_keys import shop_create

    _, issued = shop_create(slug="my-shop", name="My Shop")
    monkeypatch.setattr(errors, "DATABASE_RETRY_AFTER_SECONDS", 1)
    receive, failed = pipeline.orders_receive, []

    def drop_the_first_connection(**kwargs):
        if not failed:
            failed.append(True)
            raise OperationalError("server closed the connection unexpectedly")
        return receive(**kwargs)

    monkeypatch.setattr(pipeline, "orders_receive", drop_the_first_connection)
    (code,) = blocks(section("Rate limits and retries"), "python")
    loop: dict = {}
    exec(compile(code, str(GUIDE), "exec"), loop)  # noqa: S102 - the guide's own code
    recording = loop["requests"] = Recording()

    started = time.monotonic()
    answer = loop["post"](f"{live_server.url}/api/v1/orders", order_payload, issued.key)

    assert recording.statuses == [503, 201]
    assert recording.keys[0] and recording.keys[0] == recording.keys[1]  # the retry is the same request
    assert time.monotonic() - started >= 1  # Retry-After honoured
    assert answer["external_id"] == order_payload["external_id"]
    assert Order.objects.filter(external_id=order_payload["external_id"]).count() == 1
