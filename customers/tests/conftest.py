"""Fixtures the customers app's tests share."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from customers.models import Customer, Order
from customers.tests.factories import ShopFactory

CDNOW = Path(__file__).resolve().parents[2] / "tests/data/cdnow_sample.txt"


@pytest.fixture
def cdnow_orders():
    """The CDNOW sample's 6,919 purchases as orders of 2,357 customers (placed at noon UTC)."""
    shop = ShopFactory()
    rows = np.loadtxt(CDNOW, dtype=str)
    sample_ids = sorted(set(rows[:, 1].tolist()))
    customers = Customer.objects.bulk_create(
        [Customer(email=f"cdnow{i}@example.com", email_normalized=f"cdnow{i}@example.com") for i in sample_ids]
    )
    by_sample = dict(zip(sample_ids, customers, strict=True))
    Order.objects.bulk_create(
        Order(
            shop=shop,
            customer=by_sample[sample],
            external_id=f"o{n}",
            placed_at=datetime(int(day[:4]), int(day[4:6]), int(day[6:]), 12, tzinfo=UTC),
            status=Order.Status.PAID,
            currency="USD",
            subtotal=Decimal(amount),
            total=Decimal(amount),
            total_base=Decimal(amount),
        )
        for n, (_, sample, day, _, amount) in enumerate(rows.tolist())
    )
    return shop
