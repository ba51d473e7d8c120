"""Expiry: by inactivity or first in, first out; a warning event before; reward codes that
expired unused give their points back. All of it safe to run twice."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from customers.models import CustomerIdentity, Event
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ShopFactory
from loyalty.expiry import WARNING_EVENT, add_months, codes_expire_range, points_expire_range
from loyalty.ledger import Entry, accounts_lock, entries_post
from loyalty.models import Account, EntryKind, ExpiryMode, PointsEntry, RewardCode
from loyalty.nightly import loyalty_nightly_pass
from loyalty.services import reward_redeem
from loyalty.tests.conftest import NOW

pytestmark = pytest.mark.django_db
EVERYONE = (1, 10**9)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def balance(customer) -> int:
    return Account.objects.get(customer=customer).balance


@pytest.fixture
def fifo(programme):
    programme.expiry_mode, programme.expiry_months, programme.expiry_warning_days = ExpiryMode.FIFO, 12, 30
    programme.save()
    return programme


@pytest.fixture
def credit(admin_user, shop):
    """Points into the customer's account in the group of their first shop, else of a shop
    they are known in, else of ``shop``."""

    def post(customer, points, when, key):
        identity = CustomerIdentity.objects.filter(customer=customer).select_related("shop").first()
        home = customer.first_seen_shop or (identity.shop if identity else shop)
        accounts_lock([customer.pk], pairs=[(customer.pk, home.group_id)])
        kind = EntryKind.ADJUST if points > 0 else EntryKind.REDEEM
        entry = Entry(
            customer.pk, home.group_id, kind, key=key, source="test", available=points, reason="test",
            staff_id=admin_user.pk,
        )  # fmt: skip
        entries_post([entry], at=when)

    return post


def test_first_in_first_out_expires_what_was_credited_before_the_cutoff_less_what_was_spent(fifo, credit):
    ann = CustomerFactory()
    credit(ann, 100, at("2025-01-20T12:00"), "jan")
    credit(ann, -30, at("2025-02-05T12:00"), "feb-spend")
    credit(ann, 50, at("2025-03-10T12:00"), "mar")

    # January's batch expires when February 2026 begins; 30 of it was spent, so 70 go.
    assert points_expire_range(*EVERYONE, now=at("2026-02-10T03:30")) == (1, 0)
    assert balance(ann) == 50
    expiry = PointsEntry.objects.get(customer=ann, kind=EntryKind.EXPIRE)
    assert expiry.available == -70
    assert "credited before 2025-02-01" in expiry.reason

    # The same night again, and a month later (nothing of March's batch is due yet): nothing.
    assert points_expire_range(*EVERYONE, now=at("2026-02-10T05:00")) == (0, 0)
    assert points_expire_range(*EVERYONE, now=at("2026-03-10T03:30"))[0] == 0
    assert balance(ann) == 50

    # March's batch goes when April 2026 begins.
    assert points_expire_range(*EVERYONE, now=at("2026-04-01T03:30"))[0] == 1
    assert balance(ann) == 0
    call_command("loyalty_verify")  # the ledger and the cached balances agree


def test_points_spent_after_the_batch_still_count_against_the_oldest_first(fifo, credit):
    bob = CustomerFactory()
    credit(bob, 100, at("2025-01-20T12:00"), "old")
    credit(bob, 100, at("2025-12-20T12:00"), "new")
    credit(bob, -150, at("2026-01-05T12:00"), "spend")

    points_expire_range(*EVERYONE, now=at("2026-02-10T03:30"))

    assert balance(bob) == 50  # the 150 spent used up the old 100 first: nothing of it is left to expire
    assert not PointsEntry.objects.filter(kind=EntryKind.EXPIRE).exists()


def test_a_warning_event_is_recorded_once_before_points_expire(fifo, credit):
    shop = ShopFactory()
    ann = CustomerFactory(first_seen_shop=shop)
    no_shop = CustomerFactory(first_seen_shop=None)
    credit(ann, 100, at("2025-03-15T12:00"), "ann")
    credit(no_shop, 100, at("2025-03-15T12:00"), "no-shop")

    # Early March 2026: within 30 days of 1 April, when the March 2025 batch expires.
    assert points_expire_range(*EVERYONE, now=at("2026-03-05T03:30")) == (0, 1)
    assert points_expire_range(*EVERYONE, now=at("2026-03-06T03:30")) == (0, 0)

    event = Event.objects.get(type=WARNING_EVENT)
    assert (event.customer, event.shop) == (ann, shop)
    assert event.payload == {"points": 100, "expires_on": "2026-04-01"}
    assert balance(ann) == 100


def test_one_batch_expires_and_the_next_is_warned_the_same_night(fifo, credit):
    shop = ShopFactory()
    ann = CustomerFactory(first_seen_shop=shop)
    credit(ann, 100, at("2025-02-20T12:00"), "feb")
    credit(ann, 40, at("2025-03-15T12:00"), "mar")

    # 5 March 2026: February 2025's batch expired on 1 March; March's goes on 1 April.
    assert points_expire_range(*EVERYONE, now=at("2026-03-05T03:30")) == (1, 1)

    assert balance(ann) == 40
    assert Event.objects.get(type=WARNING_EVENT).payload == {"points": 40, "expires_on": "2026-04-01"}


def test_a_customer_known_only_through_an_identity_is_warned_in_that_shop(fifo, credit):
    ann = CustomerFactory(first_seen_shop=None)
    identity = IdentityFactory(customer=ann)
    credit(ann, 100, at("2025-03-15T12:00"), "ann")

    points_expire_range(*EVERYONE, now=at("2026-03-05T03:30"))

    assert Event.objects.get(type=WARNING_EVENT).shop_id == identity.shop_id


@pytest.fixture
def inactivity(programme):
    programme.expiry_mode, programme.expiry_months, programme.expiry_warning_days = ExpiryMode.INACTIVITY, 12, 30
    programme.starts_at = NOW - timedelta(days=3 * 365)
    programme.save()
    return programme


def test_inactivity_expires_every_point_of_a_customer_without_an_order_for_n_months(inactivity, credit, shop):
    gone, active, nearly = CustomerFactory(), CustomerFactory(), CustomerFactory(first_seen_shop=shop)
    for customer, days in ((gone, 400), (active, 60), (nearly, 350)):
        OrderFactory(customer=customer, shop=shop, placed_at=NOW - timedelta(days=days))
        credit(customer, 80, NOW - timedelta(days=100), f"c{customer.pk}")

    assert points_expire_range(*EVERYONE, now=NOW) == (1, 1)

    assert (balance(gone), balance(active), balance(nearly)) == (0, 80, 80)
    reason = PointsEntry.objects.get(kind=EntryKind.EXPIRE).reason
    assert reason == f"no order since {(NOW - timedelta(days=400)).date()}"
    warning = Event.objects.get(type=WARNING_EVENT)
    assert warning.customer == nearly
    assert warning.payload == {
        "points": 80,
        "expires_on": add_months((NOW - timedelta(days=350)).date(), 12).isoformat(),
    }


def test_inactivity_counts_from_the_programme_start_not_from_before_it(programme, credit, shop):
    programme.expiry_mode, programme.expiry_months = ExpiryMode.INACTIVITY, 1  # started 60 days ago
    programme.save()
    old = CustomerFactory()
    OrderFactory(customer=old, shop=shop, placed_at=NOW - timedelta(days=700))
    credit(old, 80, NOW - timedelta(days=10), "old")

    assert points_expire_range(*EVERYONE, now=NOW)[0] == 1  # 60 days since the start > 1 month
    programme.expiry_months = 3
    programme.save()
    credit(old, 20, NOW, "again")
    assert points_expire_range(*EVERYONE, now=NOW + timedelta(days=1))[0] == 0  # 61 days < 3 months
    assert balance(old) == 20


def test_nothing_expires_when_the_programme_says_never(programme, credit):
    ann = CustomerFactory()
    credit(ann, 80, NOW - timedelta(days=4000), "ann")

    assert points_expire_range(*EVERYONE, now=NOW) == (0, 0)
    assert balance(ann) == 80


def test_an_unused_expired_code_gives_its_points_back_once(programme, reward, shop, credit):
    ann = CustomerFactory()
    credit(ann, 250, NOW - timedelta(days=40), "ann")
    unused = reward_redeem(customer=ann, shop=shop, reward_id=reward.pk)
    used = reward_redeem(customer=ann, shop=shop, reward_id=reward.pk)
    RewardCode.objects.filter(pk=used.pk).update(status=RewardCode.Status.CONSUMED, consumed_at=NOW)
    later = NOW + timedelta(days=reward.code_valid_days + 1)

    assert codes_expire_range(*EVERYONE, now=later) == 1
    assert codes_expire_range(*EVERYONE, now=later) == 0

    unused.refresh_from_db()
    assert unused.status == RewardCode.Status.EXPIRED
    assert balance(ann) == 150  # 250 - 2 × 100 + 100 back
    refund = PointsEntry.objects.get(kind=EntryKind.REFUND)
    assert (refund.available, refund.reason) == (100, f"code {unused.code} expired unused")


def test_an_expired_code_keeps_its_points_spent_when_the_programme_says_so(programme, reward, shop, credit):
    programme.refund_expired_codes = False
    programme.save()
    ann = CustomerFactory()
    credit(ann, 100, NOW, "ann")
    code = reward_redeem(customer=ann, shop=shop, reward_id=reward.pk)

    assert codes_expire_range(*EVERYONE, now=NOW + timedelta(days=31)) == 1

    code.refresh_from_db()
    assert code.status == RewardCode.Status.EXPIRED
    assert balance(ann) == 0


def test_the_nightly_pass_refunds_codes_before_expiring_so_both_land_in_one_run(fifo, reward, shop, credit):
    ann = CustomerFactory()
    credit(ann, 100, at("2025-01-20T12:00"), "jan")
    code = reward_redeem(customer=ann, shop=shop, reward_id=reward.pk)
    RewardCode.objects.filter(pk=code.pk).update(expires_at=at("2025-03-01T00:00"))

    result = loyalty_nightly_pass(*EVERYONE, now=at("2026-02-10T03:30"))

    # The 100 spent on the code came back in February 2026 (a new credit): it does not expire yet,
    # while January 2025's 100, spent on the code, is accounted as spent.
    assert result["codes_expired"] == 1
    assert balance(ann) == 100
    call_command("loyalty_verify")
