"""Redis down is not the API down: the cache is optional (config/cache.py).

Each test starts a Redis of its own (``redis-server`` on a free port, no persistence), points
the default cache at it as production does (``config.cache.OptionalRedisCache`` with the
shipped timeouts), warms it with a request, and then stops that server. Calls must still be
accepted and stored, keys looked up from the database, the limits kept in memory, and the
outage logged once, not once per request. When Redis comes back the cache is used again.
Skipped where ``redis-server`` is not installed. The shared Redis is never touched.
"""

import logging
import shutil
import socket
import subprocess
import time
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from customers.models import Event, Order, Refund
from customers.services.api_keys import shop_create
from support.models import Review, Ticket

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A throwaway redis-server on a free port (not a fixed one: other checkouts may run
    the same tests at the same time)."""

    def __init__(self):
        self.proc = None
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        self.stop()
        pytest.skip(f"redis-server did not start on port {self.port}")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
        with socket.socket() as s:  # the port is closed: a connection is refused at once
            assert s.connect_ex(("127.0.0.1", self.port)) != 0

    def keys(self, pattern: str) -> list[bytes]:
        return redis.Redis.from_url(self.url).keys(pattern)


@pytest.fixture
def own_redis():
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis()
    server.start()
    caches = {
        "default": {
            "BACKEND": "config.cache.OptionalRedisCache",
            "LOCATION": server.url,
            "OPTIONS": {
                "socket_connect_timeout": settings.CACHE_TIMEOUT_SECONDS,
                "socket_timeout": settings.CACHE_TIMEOUT_SECONDS,
                "retry_seconds": 0.3,
            },
        }
    }
    try:
        with override_settings(CACHES=caches):
            yield server
    finally:
        server.stop()


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.mark.django_db
def test_with_redis_down_every_kind_of_write_is_accepted_and_stored(own_redis, order_payload, caplog):
    _, issued = shop_create(slug="main", name="Main")
    api = client_for(issued.key)
    assert api.post("/api/v1/orders", order_payload, format="json").status_code == 201
    assert own_redis.keys("*crm:api-key:*"), "the key lookup was cached in this Redis"

    own_redis.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        order = {**order_payload, "external_id": "1002"}
        responses = {
            "order": api.post("/api/v1/orders", order, format="json"),
            "bulk": api.post(
                "/api/v1/orders/bulk", {"orders": [{**order_payload, "external_id": "1003"}]}, format="json"
            ),
            "refund": api.post("/api/v1/orders/1002/refunds", {"amount": "9.90"}, format="json"),
            "event": api.post(
                "/api/v1/events", {"type": "product_viewed", "customer": {"external_id": "c-1"}}, format="json"
            ),
            "ticket": api.post(
                "/api/v1/tickets",
                {"customer": {"email": "ann@example.com"}, "subject": "Parcel?", "message": "Where is it?"},
                format="json",
            ),
            "review": api.post(
                "/api/v1/reviews",
                {"customer": {"email": "ann@example.com"}, "sku": "SKU-1", "rating": 5, "title": "Good"},
                format="json",
            ),
        }
        for _ in range(20):
            assert api.get("/api/v1/customers").status_code == 200
    elapsed = time.monotonic() - started

    assert {name: r.status_code for name, r in responses.items()} == {
        "order": 201,
        "bulk": 200,
        "refund": 201,
        "event": 201,
        "ticket": 201,
        "review": 201,
    }
    assert responses["bulk"].json()["results"][0]["status"] == "created"
    assert set(Order.objects.values_list("external_id", flat=True)) == {"1001", "1002", "1003"}
    assert Refund.objects.get().amount == Decimal("9.90")
    assert (Event.objects.count(), Ticket.objects.count(), Review.objects.count()) == (1, 1, 1)
    # The outage was noticed once, not once per request, and cost no request a long wait.
    outage_lines = [r for r in caplog.records if r.name == "config.cache"]
    assert len(outage_lines) == 1 and "Cache unavailable" in outage_lines[0].getMessage()
    assert elapsed < 10


@pytest.mark.django_db
def test_with_redis_down_keys_are_checked_in_the_database(own_redis):
    _, issued = shop_create(slug="main", name="Main")
    _, revoked = shop_create(slug="gone", name="Gone")
    from customers.services.api_keys import api_key_revoke

    api_key_revoke(api_key=revoked.api_key)
    own_redis.stop()

    # Never cached: found in the database.
    assert client_for(issued.key).get("/api/v1/customers").status_code == 200
    refused = client_for(revoked.key).get("/api/v1/customers")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Unknown or revoked API key."
    wrong = client_for("crm_000000000000_nope").get("/api/v1/customers")
    assert wrong.status_code == 401 and wrong["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_with_redis_down_the_limits_are_kept_in_memory(own_redis):
    _, issued = shop_create(slug="main", name="Main")
    own_redis.stop()
    api = client_for(issued.key)

    with override_settings(API_RATE_PER_KEY="5/day"):
        statuses = [api.get("/api/v1/customers").status_code for _ in range(6)]
        refused = api.get("/api/v1/customers")
    assert statuses == [200] * 5 + [429]
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 86400
    assert refused.json()["detail"].startswith("Request was throttled.")

    wrong = client_for("crm_000000000000_nope")
    with override_settings(API_AUTH_FAILURE_LIMIT=3):
        failed = [wrong.get("/api/v1/customers").status_code for _ in range(4)]
    assert failed == [401, 401, 401, 429]


@pytest.mark.django_db
def test_when_redis_returns_the_cache_is_used_again(own_redis, order_payload, caplog):
    _, issued = shop_create(slug="main", name="Main")
    api = client_for(issued.key)
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        assert api.post("/api/v1/orders", order_payload, format="json").status_code == 201
        assert not cache.available

        own_redis.start()
        time.sleep(0.4)  # the backend's retry_seconds (0.3 here)
        assert api.get("/api/v1/customers").status_code == 200

    assert cache.available
    assert own_redis.keys("*crm:api-key:*"), "the key lookup is cached again"
    (counter,) = own_redis.keys("*crm:rate:key:*")  # requests are counted in Redis again
    client = redis.Redis.from_url(own_redis.url)
    assert int(client.get(counter)) == 1 and 0 < client.ttl(counter) <= 61  # expires with its window
    assert "Cache available again" in caplog.text


@pytest.mark.django_db
def test_a_redis_that_hangs_costs_a_request_a_fraction_of_a_second(order_payload):
    """A server that takes the connection and never answers (a hung or partitioned Redis):
    the shipped socket timeout ends the wait, and for the next CACHE_RETRY_SECONDS the cache
    is not asked at all."""
    _, issued = shop_create(slug="main", name="Main")
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)  # connections complete in the kernel's backlog; nothing ever reads
        caches = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{hung.getsockname()[1]}/0"}}
        caches["default"]["BACKEND"] = "config.cache.OptionalRedisCache"
        caches["default"]["OPTIONS"] = {
            "socket_connect_timeout": settings.CACHE_TIMEOUT_SECONDS,
            "socket_timeout": settings.CACHE_TIMEOUT_SECONDS,
        }
        with override_settings(CACHES=caches):
            api = client_for(issued.key)
            started = time.monotonic()
            first = api.post("/api/v1/orders", order_payload, format="json")
            first_took = time.monotonic() - started
            started = time.monotonic()
            statuses = [api.get("/api/v1/customers").status_code for _ in range(5)]
            next_took = time.monotonic() - started

    assert first.status_code == 201 and statuses == [200] * 5
    assert settings.CACHE_TIMEOUT_SECONDS < 1
    assert first_took < 4 * settings.CACHE_TIMEOUT_SECONDS + 1
    assert next_took < 1.5


@pytest.mark.django_db(transaction=True)  # the health checks run in threads with their own connections
def test_with_redis_down_the_load_balancers_check_stays_up_and_the_full_one_says_so(own_redis, client):
    from django.core.cache import caches

    caches["default"].set("warm", 1)
    own_redis.stop()
    with override_settings(HEALTH_CHECKS=["health_check.checks.Database", "health_check.checks.Cache"]):
        web, full = client.get("/health/web/"), client.get("/health/")

    assert web.status_code == 200 and web.json() == {"status": "ok"}  # the node answers every request
    assert full.status_code == 503  # and monitoring is told Redis is down
