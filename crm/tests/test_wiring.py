"""Loyalty lent to support through the crm layer: the tier and points in macros, and a tier
with priority support getting the high-value SLA."""

import re

import pytest
from django.utils import timezone

from crm.demo import demo_loyalty_macro_create
from customers.tests.factories import CustomerFactory, ShopFactory
from loyalty.models import Account, Tier
from support.demo_data import seed_support
from support.macros import macro_preview
from support.models import Macro, SlaPolicy
from support.tickets import TicketData, macro_apply, ticket_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold():
    return Tier.objects.create(name="Gold", rank=2, enter_threshold=1000, keep_threshold=800, priority_support=True)


def test_macros_show_the_loyalty_tier_and_points_and_read_well_before_a_first_tier(admin_user, gold):
    member, newcomer = CustomerFactory(), CustomerFactory()
    # Two shop groups: staff see the sum and the highest tier.
    Account.objects.create(customer=member, group=ShopFactory().group, tier=gold, balance=1200)
    Account.objects.create(customer=member, group=ShopFactory().group, balance=34)
    macro = Macro.objects.create(
        name="Points", body="As a {{ loyalty_tier }} member you have {{ points }} points.", public=False
    )

    bodies = [
        macro_apply(
            ticket=ticket_open(customer=c, data=TicketData(subject="Hi", body="Hi"))[0], macro=macro, user=admin_user
        ).body
        for c in (member, newcomer)
    ]

    assert bodies == ["As a Gold member you have 1,234 points.", "As a member you have 0 points."]


def test_a_priority_tier_gets_the_high_value_sla_and_is_escalated(gold):
    standard = SlaPolicy.objects.create(
        name="Normal", priority="normal", first_response_minutes=240, resolution_minutes=2880
    )
    vip = SlaPolicy.objects.create(
        name="Normal, high value",
        priority="normal",
        value_band="high",
        first_response_minutes=30,
        resolution_minutes=480,
    )
    member, other = CustomerFactory(), CustomerFactory()
    Account.objects.create(customer=member, group=ShopFactory().group, tier=gold)
    Account.objects.create(
        customer=other,
        group=ShopFactory().group,
        tier=Tier.objects.create(name="Silver", rank=1, enter_threshold=1, keep_threshold=1),
    )

    member_ticket, _ = ticket_open(customer=member, data=TicketData(subject="Hi", body="Hi"))
    other_ticket, _ = ticket_open(customer=other, data=TicketData(subject="Hi", body="Hi"))

    assert (member_ticket.sla_policy, other_ticket.sla_policy) == (vip, standard)
    assert member_ticket.escalated_at is not None and other_ticket.escalated_at is None


def test_the_demos_macros_read_well_for_a_customer_with_no_name_orders_or_tier(admin_user):
    seed_support(rng_seed=1, now=timezone.now())  # with no customers yet: the desk's settings and macros
    demo_loyalty_macro_create()
    newcomer = CustomerFactory(first_name="", last_name="")
    ticket, _ = ticket_open(customer=newcomer, data=TicketData(subject="Hi", body="Hi"))

    texts = {m.name: macro_preview(ticket=ticket, macro=m, agent=admin_user).text for m in Macro.objects.all()}

    assert len(texts) == 4
    for text in texts.values():
        assert text.startswith("Hi there,\n\n") and text.endswith("\n\nadmin")
        assert not re.search(r"\{\{|  | [,.:;]|no tier", text), text
    assert "your order is on its way" in texts["Where is my order"]
    assert "as a member you now have 0 points to spend." in texts["Loyalty points"]
