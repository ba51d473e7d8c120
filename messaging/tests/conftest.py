import pytest
from django.core.cache import cache

from customers.tests.factories import CustomerFactory
from messaging.tests.fixtures import branded_shop


@pytest.fixture
def shop(db):
    return branded_shop()


@pytest.fixture
def customer(db):
    return CustomerFactory(email="ann@example.com", first_name="Ann", last_name="Lee")


@pytest.fixture(autouse=True)
def sender_health_recounted():
    """The message log's complaint-rate panel is cached for minutes, and the cache outlives a
    test: each test counts its own messages."""
    from messaging.selectors import SENDER_HEALTH_CACHE_KEY

    cache.delete(SENDER_HEALTH_CACHE_KEY)
