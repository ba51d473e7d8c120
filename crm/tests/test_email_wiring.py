"""What the composition layer lends the email channel: the loyalty tier and points in every
message's context."""

import pytest

from customers.tests.factories import CustomerFactory, ShopFactory
from loyalty.models import Account, Tier
from messaging.rendering import default_brand, render
from messaging.services import message_queue

pytestmark = pytest.mark.django_db


def test_a_message_carries_the_customers_highest_tier_and_points_over_their_accounts():
    ann, bo = CustomerFactory(first_name="Ann"), CustomerFactory()
    silver = Tier.objects.create(name="Silver", rank=1, enter_threshold=100, keep_threshold=80)
    gold = Tier.objects.create(name="Gold", rank=2, enter_threshold=500, keep_threshold=400)
    Account.objects.create(customer=ann, group=ShopFactory().group, tier=silver, balance=400)
    Account.objects.create(customer=ann, group=ShopFactory().group, tier=gold, balance=20)

    message = message_queue(key="a", template="test", customer_id=ann.pk)
    newcomer = message_queue(key="b", template="test", customer_id=bo.pk)

    assert (message.context["tier"], message.context["points"]) == ("Gold", 420)
    assert (newcomer.context["tier"], newcomer.context["points"]) == ("", 0)
    assert "Tier: Gold. Points: 420." in render("test", message.context, default_brand()).text
    assert "Tier:" not in render("test", newcomer.context, default_brand()).text
