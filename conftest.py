"""Fixtures shared by every app's tests."""

import copy
import os

import pytest
from rest_framework.test import APIClient

from customers.services.api_keys import shop_create

# Shared by every app's tests: the real SMTP server (``smtp``), the real IMAP server
# (``imap_server``) and the real Celery worker (``worker``).
pytest_plugins = ["messaging.tests.fixtures", "messaging.tests.imap_fixtures", "tests.live_worker"]

ORDER = {
    "external_id": "1001",
    "placed_at": "2026-01-02T10:00:00Z",
    "currency": "USD",
    "status": "paid",
    "total": "59.90",
    "customer": {"external_id": "c-1", "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"},
    "lines": [{"sku": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "29.95"}],
}


CHROMIUM = "/usr/bin/chromium"


def on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql", "pgsql"))


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL")
    skip_browser = pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM} (apt install chromium)")
    no_browser = not os.path.exists(CHROMIUM) and not os.environ.get("CI")
    for item in items:
        if "browser" in item.keywords and no_browser:
            item.add_marker(skip_browser)
        if "postgres" in item.keywords and not on_postgres():
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(skip_redis)


@pytest.fixture
def assert_queries(django_assert_num_queries):
    """``django_assert_num_queries`` with the exact count on each database, where they differ
    for a reason the test names (a COPY on PostgreSQL is not a query Django's cursor sees)."""

    def exactly(*, sqlite: int, postgresql: int):
        return django_assert_num_queries(postgresql if on_postgres() else sqlite)

    return exactly


@pytest.fixture
def order_payload():
    """A fresh copy of the issue's minimal order body."""
    return copy.deepcopy(ORDER)


IDENTITY_IDS_FROM = 100_000


@pytest.fixture
def identity_ids_apart(db):
    """Number identities from 100,001, so they never coincide with customer ids: the API names a
    customer by its shop group's identity (``crm.api.customer_ids``), and a test that passed a
    CRM customer id where the API's is meant would otherwise pass by chance (both start at 1)."""
    from django.db import connection

    from customers.models import CustomerIdentity

    table = CustomerIdentity._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, IDENTITY_IDS_FROM])
        else:
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, IDENTITY_IDS_FROM])


@pytest.fixture
def shop_and_key(db, identity_ids_apart):
    return shop_create(slug="main", name="Main Store")


@pytest.fixture
def shop(shop_and_key):
    return shop_and_key[0]


@pytest.fixture
def api(shop_and_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {shop_and_key[1].key}")
    return client


@pytest.fixture
def other_api(db):
    _, issued = shop_create(slug="other", name="Other Store")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    return client


@pytest.fixture
def login(client, django_user_model):
    """``login(role)``: the test client signed in as a new staff user in that role's group."""
    from django.contrib.auth.models import Group

    def as_role(role):
        user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return as_role


@pytest.fixture
def role_api(db):
    """``role_api(shop, role)``: an API client with a new key of that shop, given that role."""
    from django.contrib.auth.models import Group

    from customers.services.api_keys import api_key_create

    def client_for(shop, role) -> APIClient:
        issued = api_key_create(shop=shop, name=role, role=Group.objects.get(name=role))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
        return client

    return client_for


@pytest.fixture(autouse=True)
def no_shipped_flows_for_new_shops(settings):
    """The thousands of shops the tests make need no ready-made flows (six flows with their
    emails each); the tests of that wiring switch it back on."""
    settings.SHIPPED_FLOWS_FOR_NEW_SHOPS = False


@pytest.fixture(autouse=True)
def celery_eager(request):
    """Tasks run in-process in every test except the real-worker ones (marked ``redis``),
    so a suite run with REDIS_URL set does not leave tasks queued with nobody to run them."""
    from config.celery import app

    if request.node.get_closest_marker("redis"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def content_types_fresh(request):
    """A transactional test starts after the previous one flushed the database, content
    types included, and PostgreSQL gives the recreated ones new ids: forget the cached ids,
    or the audit log (which stores a content type per entry) points at rows that are gone."""
    marker = request.node.get_closest_marker("django_db")
    if marker and marker.kwargs.get("transaction"):
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()


@pytest.fixture(autouse=True)
def api_auth_failures_forgotten():
    """Failed API authentications are counted per address in the cache, which outlives a
    test (and, on Redis, a run): each test starts with none counted for the test client."""
    from crm.api.throttling import auth_failures_reset

    auth_failures_reset(address="127.0.0.1")


@pytest.fixture
def any_hour(db):
    """No quiet hours (21:00–08:00 by default, the customer's clock): for tests whose sends
    run on the real clock (an admin button, a task), which would otherwise hold the mail
    when the suite happens to run in the evening."""
    from campaigns.models import SendingPolicy

    policy = SendingPolicy.current()  # made with the defaults when a flush emptied the table
    policy.quiet_start = policy.quiet_end = 0
    policy.save()
