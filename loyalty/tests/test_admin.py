"""The programme in the admin, per role: marketers configure it, managers adjust points and
read the liability, support agents read customers' points. Nothing writes the ledger but
the services."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse

from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory
from loyalty.models import Account, EntryKind, PointsEntry, Programme, Reward, Tier
from loyalty.services import points_adjust
from loyalty.tests.conftest import START
from tests.page_text import text_of, texts_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(admin_user):
    customer = CustomerFactory()
    group = ShopFactory().group
    points_adjust(customer=customer, group_id=group.pk, points=300, reason="opening balance", staff_id=admin_user.pk)
    Programme.objects.create(pk=1, starts_at="2026-01-01T00:00Z", point_value="0.01")
    return Account.objects.get(customer=customer, group=group)


def adjust_url(account):
    return reverse("admin:loyalty_account_adjust", args=[account.pk])


def test_a_manager_adjusts_points_with_a_reason_under_their_name(client, login, account):
    manager = login(MANAGER)
    assert "Adjust points" in client.get(reverse("admin:loyalty_account_change", args=[account.pk])).content.decode()

    response = client.post(adjust_url(account), {"points": "-120", "reason": "duplicate order"})

    assert response.status_code == 302
    entry = PointsEntry.objects.filter(kind=EntryKind.ADJUST).first()
    assert (entry.available, entry.reason, entry.staff) == (-120, "duplicate order", manager)
    assert Account.objects.get(pk=account.pk).balance == 180


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"points": "0", "reason": "x"}, "points", "Must not be zero"),
        ({"points": "-301", "reason": "x"}, "points", "below zero"),
        ({"points": "abc", "reason": "x"}, "points", "whole number"),
        ({"points": "5", "reason": ""}, "reason", "required"),
    ],
)
def test_a_bad_adjustment_names_the_field_and_changes_nothing(client, login, account, data, field, message):
    login(MANAGER)

    response = client.post(adjust_url(account), data)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Account.objects.get(pk=account.pk).balance == 300
    assert PointsEntry.objects.count() == 1


@pytest.mark.parametrize("role", [SUPPORT_AGENT, MARKETER])
def test_only_managers_adjust_and_see_the_liability(client, login, account, role):
    login(role)

    assert client.post(adjust_url(account), {"points": "5", "reason": "x"}).status_code == 403
    page = client.get(reverse("admin:loyalty_account_changelist"))
    assert page.status_code == 200
    assert "points-liability" not in page.content.decode()
    assert (
        "Adjust points" not in client.get(reverse("admin:loyalty_account_change", args=[account.pk])).content.decode()
    )


def test_the_liability_is_outstanding_points_at_their_value(client, login, account, admin_user):
    negative = CustomerFactory()
    Account.objects.create(customer=negative, group=account.group, balance=-40)  # reversed after spending: owes nothing
    login(MANAGER)

    page = client.get(reverse("admin:loyalty_account_changelist"))

    liability = page.context["liability"]
    assert (liability.available_points, liability.available_value) == (300, 3)
    assert "points-liability" in page.content.decode()


def read(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_liability_reads_in_money_with_its_currency(client, login, account):
    big = CustomerFactory()
    Account.objects.create(customer=big, group=account.group, balance=1_234_500, pending=2_000)
    Programme.objects.filter(pk=1).update(point_value="0.0050")
    login(MANAGER)

    html = client.get(reverse("admin:loyalty_account_changelist")).content.decode()

    table = read(re.search(r'<table id="points-liability".*?</table>', html, re.S).group(0))
    assert table == (
        "Points liability (1 point = 0.005 USD) Points Value "
        "Available to spend 1,234,800 6,174.00 USD Pending (return window) 2,000 10.00 USD"
    )
    assert "1,234,500 points" in read(html)  # the balances in the list say what they count


def test_reward_values_and_tier_thresholds_say_what_they_count(admin_client, account):
    Reward.objects.create(name="Five off", kind="fixed_amount", value="5", points_cost=1500)
    Reward.objects.create(name="Tenth off", kind="percentage", value="12.5", points_cost=900)
    Tier.objects.create(name="Gold", rank=2, enter_threshold="1000", keep_threshold="800", multiplier="1.5")

    rewards = read(admin_client.get(reverse("admin:loyalty_reward_changelist")).content.decode())
    assert "Five off fixed discount 5.00 USD 1,500 points" in rewards
    assert "Tenth off percentage discount 12.5% 900 points" in rewards

    tiers = admin_client.get(reverse("admin:loyalty_tier_changelist")).content.decode()
    assert "Gold 2 1,000.00 USD 800.00 USD × 1.5" in read(tiers)  # tiers on net spend (the default)
    Programme.objects.filter(pk=1).update(tier_basis="points")
    tiers = admin_client.get(reverse("admin:loyalty_tier_changelist")).content.decode()
    assert "Gold 2 1,000 points 800 points × 1.5" in read(tiers)


def test_a_marketer_configures_tiers_and_a_support_agent_only_reads_them(client, login):
    login(MARKETER)
    response = client.post(
        reverse("admin:loyalty_tier_add"),
        {"name": "Gold", "rank": 2, "enter_threshold": "1000", "keep_threshold": "800", "multiplier": "2"},
    )
    assert response.status_code == 302 and Tier.objects.filter(name="Gold").exists()

    login(SUPPORT_AGENT)
    assert client.get(reverse("admin:loyalty_tier_changelist")).status_code == 200
    assert client.get(reverse("admin:loyalty_tier_add")).status_code == 403


def test_a_tier_kept_below_its_threshold_to_enter_only(client, login):
    login(MARKETER)

    response = client.post(
        reverse("admin:loyalty_tier_add"),
        {"name": "Gold", "rank": 2, "enter_threshold": "1000", "keep_threshold": "1200", "multiplier": "2"},
    )

    assert response.status_code == 200
    assert "keep_threshold" in response.context["adminform"].form.errors
    assert not Tier.objects.exists()


def test_the_ledger_cannot_be_edited_even_by_a_superuser(admin_client, account):
    entry = PointsEntry.objects.get()

    assert admin_client.get(reverse("admin:loyalty_pointsentry_change", args=[entry.pk])).status_code == 200
    assert admin_client.post(reverse("admin:loyalty_pointsentry_change", args=[entry.pk]), {}).status_code == 403
    assert admin_client.get(reverse("admin:loyalty_pointsentry_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:loyalty_pointsentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )


def test_the_programme_list_opens_its_one_settings_row(admin_client, account):
    response = admin_client.get(reverse("admin:loyalty_programme_changelist"))

    assert response.status_code == 302
    assert response.url == reverse("admin:loyalty_programme_change", args=[1])


def test_a_manager_puts_a_shop_in_another_group_and_its_points_follow(client, login, admin_user):
    from customers.models import Shop
    from customers.tests.factories import IdentityFactory
    from loyalty.verify import balances_verify

    a, b = ShopFactory(), ShopFactory()
    customer = IdentityFactory(shop=a).customer
    for shop, points in ((a, 40), (b, 300)):
        points_adjust(customer=customer, group_id=shop.group_id, points=points, reason="x", staff_id=admin_user.pk)
    url = reverse("admin:loyalty_shop_join_group")

    login(MARKETER)
    assert client.post(url, {"shop": a.pk, "group": b.group_id}).status_code == 403

    login(MANAGER)
    assert "Put a shop in another group" in client.get(reverse("admin:loyalty_account_changelist")).content.decode()
    assert client.post(url, {"shop": a.pk, "group": b.group_id}).status_code == 302

    assert Shop.objects.get(pk=a.pk).group_id == b.group_id
    assert Account.objects.get(customer=customer, group_id=b.group_id).balance == 340
    assert Account.objects.get(customer=customer, group_id=a.group_id).balance == 0
    assert balances_verify()[1] == []
    # The shop form no longer moves a shop: its group is read-only there.
    page = client.get(reverse("admin:customers_shop_change", args=[a.pk])).content.decode()
    assert 'name="group"' not in page


def test_the_ledger_names_an_order_by_the_shop_s_number_with_a_link(admin_client, programme, assert_queries):
    from loyalty.earning import orders_award

    shop = ShopFactory(name="Demo Web Store")
    customers = [CustomerFactory() for _ in range(3)]
    orders = [
        OrderFactory(shop=shop, customer=c, external_id=f"D-{1000 + i}", placed_at=START + timedelta(days=1))
        for i, c in enumerate(customers)
    ]
    orders_award([c.pk for c in customers], now=START + timedelta(days=2))
    ledger = reverse("admin:loyalty_pointsentry_changelist")

    # One query for the page's entries with their orders and shops, however many (PostgreSQL
    # reads the table's row estimate first).
    with assert_queries(sqlite=7, postgresql=8):
        page = admin_client.get(ledger)

    order_url = reverse("admin:customers_order_change", args=[orders[0].pk])
    assert texts_of(page, ".field-source_of").count("order D-1000 (Demo Web Store)") == 2  # spend, welcome bonus
    assert f'<a href="{order_url}">order D-1000</a>' in page.content.decode()
    assert f"order:{orders[0].pk}" not in " ".join(texts_of(page, ".field-source_of"))
    # Searched by the number people read, the ledger finds that order's entries.
    found = admin_client.get(ledger, {"q": "D-1001"}).context["cl"].result_list
    assert {e.order_id for e in found} == {orders[1].pk} and len(found) == 2
    account = Account.objects.get(customer=customers[2])
    history = admin_client.get(reverse("admin:loyalty_account_change", args=[account.pk]))
    assert "order D-1002 (Demo Web Store)" in text_of(history, "#ledger")
