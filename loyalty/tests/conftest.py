from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty.models import EarningRule, Programme, Reward, RuleKind, Tier

# The programme started two months ago (whole seconds, as the API takes times).
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=60)


@pytest.fixture
def programme(db):
    """A programme from two months ago, 14 days pending, 1 point per unit spent, 50 for a first order."""
    programme = Programme.objects.create(pk=1, starts_at=START, pending_days=14, point_value=Decimal("0.01"))
    EarningRule.objects.create(name="Points per dollar", kind=RuleKind.SPEND, points_per_unit=Decimal(1))
    EarningRule.objects.create(name="Welcome bonus", kind=RuleKind.FIRST_ORDER, points=50)
    return programme


@pytest.fixture
def tiers(db):
    return {
        "silver": Tier.objects.create(name="Silver", rank=1, enter_threshold=500, keep_threshold=400, multiplier=1.5),
        "gold": Tier.objects.create(name="Gold", rank=2, enter_threshold=1000, keep_threshold=800, multiplier=2),
    }


@pytest.fixture
def reward(db):
    return Reward.objects.create(name="$5 off", kind=Reward.Kind.FIXED_AMOUNT, value=5, points_cost=100)
