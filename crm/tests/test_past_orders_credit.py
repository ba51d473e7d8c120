"""Crediting past orders (loyalty.history): a manager picks a day, reads what it would credit,
confirms; the drain of the follow-up work awards the points through the usual earning code.
The preview is what lands in the ledger; a second credit credits nothing twice; only a
manager may do it; and the programme's start no longer moves back by a plain edit."""

from datetime import timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from crm.follow_up import pending_updates_run
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory
from loyalty.earning import orders_award
from loyalty.models import Account, ExpiryMode, PastOrdersCredit, PointsEntry, Programme
from loyalty.selectors import points_liability
from loyalty.tests.conftest import START, programme, tiers  # noqa: F401  (fixtures)
from tests.page_text import text_of

pytestmark = pytest.mark.django_db

URL = "admin:loyalty_credit_past_orders"


def days_before_start(days: int):
    return START - timedelta(days=days)


@pytest.fixture
def history(programme):  # noqa: F811
    """Orders from before the programme started (which earned nothing) and after it (which did):

    - ann: 40.00 and 25.50 before the start, 10.00 after (already awarded, with the welcome bonus);
    - bob: 100.00 before the start, and a cancelled 70.00 (never earns);
    - cid: 12.00 long before the day a manager will pick;
    - dan: no order.
    """
    shop = ShopFactory(name="Demo Web Store")
    ann, bob, cid, dan = (CustomerFactory() for _ in range(4))
    OrderFactory(shop=shop, customer=ann, total=Decimal("40.00"), placed_at=days_before_start(100))
    OrderFactory(shop=shop, customer=ann, total=Decimal("25.50"), placed_at=days_before_start(20))
    OrderFactory(shop=shop, customer=ann, total=Decimal("10.00"), placed_at=START + timedelta(days=5))
    OrderFactory(shop=shop, customer=bob, total=Decimal("100.00"), placed_at=days_before_start(50))
    OrderFactory(shop=shop, customer=bob, total=Decimal("70.00"), placed_at=days_before_start(40), status="cancelled")
    OrderFactory(shop=shop, customer=cid, total=Decimal("12.00"), placed_at=days_before_start(400))
    orders_award([ann.pk, bob.pk, cid.pk, dan.pk])
    return {"ann": ann, "bob": bob, "cid": cid, "dan": dan}


def since_day(days: int) -> str:
    return timezone.localdate(days_before_start(days)).isoformat()


def day_text(at) -> str:
    day = timezone.localdate(at)
    return f"{day.day} {day:%B %Y}"


def drain():
    while pending_updates_run()[0]:
        pass


def test_a_manager_previews_then_credits_and_the_ledger_gets_exactly_the_preview(client, login, history):
    manager = login(MANAGER)
    before = points_liability()
    assert PointsEntry.objects.filter(customer=history["ann"]).count() == 2  # the order after the start

    preview = client.get(reverse(URL), {"since": since_day(200)})

    assert preview.status_code == 200
    # By hand, 1 point per dollar rounded down, and the welcome bonus (50) on a first paid order:
    # ann 40 + 25 + 50 (her first order was before the start, so her bonus was never paid); bob
    # 100 + 50; his cancelled order nothing.
    assert text_of(preview, "#credit-preview") == (
        f"Orders placed {day_text(days_before_start(200))} – {day_text(START)} "
        "orders to credit 3 orders customers 2 customers points 265 points "
        "liability added 2.65 USD (265 points × 0.01 USD) "
        f"The programme then starts on {day_text(days_before_start(200))}. The points arrive "
        "within a minute, as the follow-up work runs; the record of this credit, with your name, is under "
        "Past orders credits."
    )

    assert 'value="Credit 265 points to 2 customers"' in preview.content.decode()

    done = client.post(reverse(URL), {"since": since_day(200)}, follow=True)
    drain()

    assert (
        f"Orders placed since {since_day(200)} now earn points. Credited 3 orders of 2 customers: 265 points "
        "(2.65 USD of liability). The points arrive within a minute, as the follow-up work runs."
    ) in done.content.decode()
    assert text_of(done, ".field-credited") == "3 orders of 2 customers: 265 points (2.65 USD of liability)"
    credit = PastOrdersCredit.objects.get()
    assert (credit.orders, credit.customers, credit.points, credit.value, credit.staff) == (
        3,
        2,
        265,
        Decimal("2.65"),
        manager,
    )
    assert Programme.objects.get().starts_at == credit.since
    after = points_liability()
    gained = after.available_points + after.pending_points - before.available_points - before.pending_points
    assert gained == 265
    assert Account.objects.get(customer=history["bob"]).balance == 150  # past the return window: spendable
    assert not PointsEntry.objects.filter(customer=history["cid"]).exists()  # before the day picked
    # The start's move is in the programme's audit history, with who made it.
    change = LogEntry.objects.get_for_object(Programme.objects.get()).get(action=LogEntry.Action.UPDATE)
    assert list(change.changes_dict) == ["starts_at"]
    assert change.actor == manager


def test_crediting_twice_credits_nothing_twice(client, login, history):
    login(MANAGER)
    client.post(reverse(URL), {"since": since_day(200)})
    drain()
    entries = PointsEntry.objects.count()

    again = client.post(reverse(URL), {"since": since_day(200)})

    assert again.status_code == 400
    assert "already counts orders placed since" in text_of(again, ".errorlist")
    assert PastOrdersCredit.objects.count() == 1
    # The award itself is keyed per order and rule: re-running it writes nothing.
    assert orders_award([c.pk for c in history.values()]) == 0
    assert PointsEntry.objects.count() == entries
    # An earlier day still credits what lies between: cid's order, once.
    client.post(reverse(URL), {"since": since_day(500)})
    drain()
    assert Account.objects.get(customer=history["cid"]).balance == 12 + 50


def test_the_preview_uses_the_account_s_tier_as_the_award_does(client, login, history, tiers):  # noqa: F811
    Account.objects.filter(customer=history["bob"]).update(tier=tiers["silver"])  # × 1.5
    login(MANAGER)

    preview = client.get(reverse(URL), {"since": since_day(200)}).context["preview"]
    client.post(reverse(URL), {"since": since_day(200)})
    drain()

    assert preview.points == 40 + 25 + 50 + (150 + 75)  # ann as before; bob's 100 and his bonus × 1.5
    assert PastOrdersCredit.objects.get().points == preview.points
    assert (
        sum(PointsEntry.objects.filter(kind="earn", order__placed_at__lt=START).values_list("pending", flat=True))
        == preview.points
    )


def test_the_preview_warns_of_points_that_expire_at_once_under_inactivity_expiry(client, login, history):
    Programme.objects.update(expiry_mode=ExpiryMode.INACTIVITY, expiry_months=1)
    login(MANAGER)

    preview = client.get(reverse(URL), {"since": since_day(200)})

    # bob's last order is 90 days old: his credited 150 points expire at the next nightly pass;
    # ann ordered 55 days ago too, past one month.
    assert preview.context["preview"].expiring_customers == 2
    assert text_of(preview, "#credit-expiry").startswith(
        "Points expire after 1 months without an order: 2 of these customers have not ordered for that long, so 265"
    )


@pytest.mark.parametrize("role", [MARKETER, SUPPORT_AGENT])
def test_only_a_manager_may_credit_past_orders(client, login, history, role):
    login(role)

    assert client.get(reverse(URL)).status_code == 403
    assert client.post(reverse(URL), {"since": since_day(200)}).status_code == 403
    assert not PastOrdersCredit.objects.exists() and Programme.objects.get().starts_at == START


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("next year", "Enter a valid date."),
        ((timezone.localdate() + timedelta(days=2)).isoformat(), "Give a day in the past"),
        (timezone.localdate(START + timedelta(days=1)).isoformat(), "already counts orders placed since"),
    ],
)
def test_a_bad_day_is_explained_on_the_field(client, login, history, since, message):
    login(MANAGER)

    response = client.get(reverse(URL), {"since": since})

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["since"])
    assert response.context["preview"] is None


def test_the_start_no_longer_moves_earlier_in_the_programme_s_form(client, login, history):
    login(MARKETER)
    url = reverse("admin:loyalty_programme_change", args=[1])
    form = client.get(url).context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data |= {"starts_at_0": since_day(200), "starts_at_1": "00:00:00", "is_active": "on", "refund_expired_codes": "on"}
    data = {k: ("" if v is None else v) for k, v in data.items() if k != "starts_at"}

    response = client.post(url, data)

    assert response.status_code == 200
    assert "use “Credit past orders”" in " ".join(response.context["adminform"].form.errors["starts_at"])
    assert Programme.objects.get().starts_at == START


def test_a_credit_of_one_reads_in_the_singular_in_the_message_and_the_list():
    from loyalty.admin.programme import credit_message, credit_summary

    one = PastOrdersCredit(
        since=START - timedelta(days=3), orders=1, customers=1, points=1, value=Decimal("0.01"), currency="EUR"
    )
    many = PastOrdersCredit(
        since=START, orders=1200, customers=950, points=40000, value=Decimal("400.00"), currency="USD"
    )

    assert credit_summary(one) == "1 order of 1 customer: 1 point (0.01 EUR of liability)"
    assert credit_summary(many) == "1,200 orders of 950 customers: 40,000 points (400.00 USD of liability)"
    assert credit_message(one).startswith(
        f"Orders placed since {one.since:%Y-%m-%d} now earn points. Credited 1 order of 1 customer: 1 point "
    )


def test_the_list_of_credits_offers_a_credit_to_a_manager_only(client, login, history):
    changelist = reverse("admin:loyalty_pastorderscredit_changelist")
    login(MANAGER)
    page = client.get(changelist).content.decode()
    assert "Credit past orders…" in page
    assert client.get(changelist + "credit/").url == reverse(URL)

    login(MARKETER)
    listed = client.get(changelist)
    assert listed.status_code != 200 or "Credit past orders…" not in listed.content.decode()
    assert client.get(changelist + "credit/").status_code == 403
