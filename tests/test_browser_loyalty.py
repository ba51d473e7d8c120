"""The loyalty admin in a real browser (Debian's chromium driven by Playwright): a manager
adjusts a customer's points, a marketer works the referral review queue.

Screenshots are saved under build/screenshots/ for a person to look at.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.tests.factories import CustomerFactory, ShopFactory
from loyalty.ledger import Entry, accounts_lock, entries_post
from loyalty.models import Account, EarningRule, EntryKind, PointsEntry, Programme, Referral, RuleKind, Tier
from tests.conftest import SHOTS, field_line, message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ada(db):
    Programme.objects.create(pk=1, starts_at=timezone.now() - timedelta(days=60))
    gold = Tier.objects.create(name="Gold", rank=1, enter_threshold=1000, keep_threshold=800)
    customer = CustomerFactory(first_name="Ada", last_name="Lovelace")
    group = ShopFactory().group
    accounts_lock([customer.pk], pairs=[(customer.pk, group.pk)])
    entries_post([Entry(customer.pk, group.pk, EntryKind.EARN, key="seed", source="order:1", available=420)])
    Account.objects.filter(customer=customer).update(tier=gold)
    return customer


def test_a_manager_adjusts_points_with_a_reason_and_sees_the_ledger(page, live_server, ada):
    account = Account.objects.get(customer=ada)
    page.goto(f"{live_server.url}/admin/loyalty/account/{account.pk}/change/")
    assert "420" in field_line(page, "Balance").inner_text()
    assert "Gold" in field_line(page, "Tier").inner_text()
    code = Account.objects.get(pk=account.pk).referral_code
    assert field_line(page, "Referral code").locator(".readonly").inner_text() == code

    page.get_by_role("link", name="Adjust points").click()
    page.fill("#id_points", "-500")
    page.fill("#id_reason", "Goodwill correction")
    page.click("input[type=submit][value=Adjust]")
    assert "below zero" in page.locator(".errorlist").first.inner_text()  # refused: 420 only

    page.fill("#id_points", "80")
    page.fill("#id_reason", "Goodwill for a late parcel")
    page.click("input[type=submit][value=Adjust]")
    message(page, "+80 points for").wait_for()
    page.screenshot(path=SHOTS / "loyalty_account.png", full_page=True)

    assert "500" in field_line(page, "Balance").inner_text()
    assert "Goodwill for a late parcel" in page.locator(".field-line", has_text="ledger entries").inner_text()
    adjustment = PointsEntry.objects.get(kind=EntryKind.ADJUST)
    assert (adjustment.available, adjustment.staff.username) == (80, "admin")


def test_a_marketer_approves_a_held_referral_from_the_review_queue(page, live_server, ada):
    EarningRule.objects.create(name="Friend referred", kind=RuleKind.REFERRAL, points=300)
    friend = CustomerFactory(first_name="Grace", last_name="Hopper")
    referral = Referral.objects.create(
        referrer=ada,
        referee=friend,
        group=Account.objects.get(customer=ada).group,
        status=Referral.Status.REVIEW,
        hold_reason="The new customer's order ships to an address the referrer has shipped to.",
    )

    page.goto(f"{live_server.url}/admin/loyalty/referral/?status__exact=review")
    row = page.locator("#result_list tbody tr")
    assert row.count() == 1
    assert "ships to an address the referrer has shipped to" in row.inner_text()
    page.screenshot(path=SHOTS / "loyalty_referral_queue.png", full_page=True)

    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "approve")
    page.click("button[name=index]")
    message(page, "1 approved").wait_for()
    referral.refresh_from_db()
    assert (referral.status, referral.reviewed_by.username) == (Referral.Status.PENDING, "admin")


def test_the_accounts_list_shows_the_liability_in_money_and_the_balances_in_points(page, live_server, ada):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/admin/loyalty/account/")
    page.screenshot(path=SHOTS / "loyalty_accounts_liability.png")

    liability = page.locator("#points-liability")
    assert "Points liability (1 point = 0.01 USD)" in liability.inner_text()
    assert liability.locator("tbody tr").first.inner_text().split("\t") == ["Available to spend", "420", "4.20 USD"]
    assert "420 points" in page.locator("#result_list").inner_text()
