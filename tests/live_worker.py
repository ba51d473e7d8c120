"""A real Celery worker consuming from the real Redis (tests marked ``redis``), and waiting
for what it does. A pytest plugin (the root conftest), so every app's tests may use it."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from config.celery import app


@pytest.fixture
def worker():
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "REDIS_URL is set, so tasks must go through the broker"
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def wait_for(predicate, timeout=20.0) -> bool:
    """Whether ``predicate()`` comes true within ``timeout`` seconds (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
