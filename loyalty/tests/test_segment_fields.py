"""Loyalty tier and points as segment fields: a marketer targets Gold members or customers
with points to spend."""

import pytest

from campaigns.segments.compiler import matching
from campaigns.segments.rules import RuleError, parse
from customers.tests.factories import CustomerFactory, ShopFactory
from loyalty.models import Account

pytestmark = pytest.mark.django_db


def rule(condition):
    return {"match": "all", "children": [condition]}


@pytest.fixture
def people(tiers):
    ann, bob, cy, dee = (CustomerFactory(first_name=n) for n in ("Ann", "Bob", "Cy", "Dee"))
    group = ShopFactory().group
    Account.objects.create(customer=ann, group=group, tier=tiers["gold"], balance=1200)
    Account.objects.create(customer=bob, group=group, tier=tiers["silver"], balance=80, pending=40)
    Account.objects.create(customer=cy, group=group, balance=0)
    return {"Ann": ann, "Bob": bob, "Cy": cy, "Dee": dee}  # Dee never earned: no account


def names(condition) -> set[str]:
    return set(matching(parse(rule(condition))).values_list("first_name", flat=True))


def test_tier_and_points_conditions(people, tiers):
    gold, silver = str(tiers["gold"].pk), str(tiers["silver"].pk)

    assert names({"field": "loyalty_tier", "operator": "eq", "value": gold}) == {"Ann"}
    assert names({"field": "loyalty_tier", "operator": "in", "value": [gold, silver]}) == {"Ann", "Bob"}
    assert names({"field": "loyalty_tier", "operator": "is_not_set"}) == {"Cy", "Dee"}
    assert names({"field": "points_balance", "operator": "gte", "value": 100}) == {"Ann"}
    assert names({"field": "points_pending", "operator": "gt", "value": 0}) == {"Bob"}


def test_an_unknown_tier_is_refused_naming_the_condition(people):
    with pytest.raises(RuleError) as error:
        parse(rule({"field": "loyalty_tier", "operator": "eq", "value": "999999"}))
    assert "condition 1 of the rule (loyalty tier)" in error.value.errors[0]
