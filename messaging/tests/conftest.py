import pytest

from customers.tests.factories import CustomerFactory
from messaging.tests.fixtures import branded_shop


@pytest.fixture
def shop(db):
    return branded_shop()


@pytest.fixture
def customer(db):
    return CustomerFactory(email="ann@example.com", first_name="Ann", last_name="Lee")
