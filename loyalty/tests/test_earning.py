"""Points from orders through the pipeline: earned pending, available after the return
window, cancelled or reversed by refunds, never twice."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from customers.models import Customer
from loyalty.earning import orders_award, points_mature
from loyalty.models import Account, EarningRule, EntryKind, PointsEntry, RuleKind, RuleTierMultiplier
from loyalty.programme import rule_points
from loyalty.tests.conftest import NOW, START

# Orders are placed five days ago: their points are pending for nine more days.
PLACED = NOW - timedelta(days=5)
AFTER_WINDOW = PLACED + timedelta(days=15)


@pytest.fixture
def post_order(api, order_payload, django_capture_on_commit_callbacks):
    """Push an order through the API and run what the pipeline queues after it."""

    def post(**fields):
        body = {**order_payload, "placed_at": PLACED.isoformat(), **fields}
        if "lines" not in fields:
            body["lines"] = []
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/v1/orders", body, format="json")
        assert response.status_code in (200, 201), response.json()
        return response.json()

    return post


@pytest.fixture
def refund(api, django_capture_on_commit_callbacks):
    def post(order_id: str, amount: str, external_id: str = ""):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                f"/api/v1/orders/{order_id}/refunds", {"amount": amount, "external_id": external_id}, format="json"
            )
        assert response.status_code == 201, response.json()

    return post


def account() -> Account:
    return Account.objects.get(customer=Customer.objects.get())


def test_a_paid_order_earns_on_its_net_amount_pending_until_the_return_window_passes(programme, post_order):
    # 120 paid, of which 10 shipping and 10 tax: 100 earns 100 points, and the welcome bonus 50.
    post_order(total="120.00", subtotal="100.00", shipping_total="10.00", tax_total="10.00")

    assert (account().balance, account().pending) == (0, 150)

    points_mature(now=PLACED + timedelta(days=13))
    assert (account().balance, account().pending) == (0, 150)

    points_mature(now=AFTER_WINDOW)
    assert (account().balance, account().pending) == (150, 0)
    assert PointsEntry.objects.filter(kind=EntryKind.MATURE).count() == 2


def test_discounts_are_already_out_of_the_total_and_points_round_down(programme, post_order):
    post_order(total="89.99", subtotal="99.99", discount_total="10.00")

    spend = PointsEntry.objects.get(kind=EntryKind.EARN, rule__kind=RuleKind.SPEND)
    assert spend.pending == 89
    assert spend.basis == Decimal("89.99")


def test_replaying_an_order_or_rerunning_the_award_gives_nothing_twice(programme, post_order):
    first = post_order(total="40.00")
    post_order(total="40.00")  # the same body again
    orders_award([first["customer_id"]])
    orders_award([first["customer_id"]])

    assert PointsEntry.objects.count() == 2
    assert account().pending == 90


def test_the_welcome_bonus_comes_with_the_first_paid_order_only(programme, post_order):
    post_order(external_id="A", total="10.00")
    post_order(external_id="B", total="20.00", placed_at=(PLACED + timedelta(days=2)).isoformat())

    bonuses = PointsEntry.objects.filter(rule__kind=RuleKind.FIRST_ORDER)
    assert [b.source for b in bonuses] == [f"order:{PointsEntry.objects.get(pending=10).order_id}"]
    assert account().pending == 10 + 20 + 50


def test_an_unpaid_order_earns_when_it_is_paid(programme, post_order):
    post_order(status="placed", total="30.00")
    assert not PointsEntry.objects.exists()

    post_order(status="paid", total="30.00")
    assert account().pending == 80


def test_orders_before_the_programme_started_earn_nothing(programme, post_order):
    post_order(placed_at=(START - timedelta(days=1)).isoformat(), total="30.00")

    assert not PointsEntry.objects.exists()


def test_a_refund_inside_the_window_cancels_pending_points_in_proportion(programme, post_order, refund):
    post_order(total="100.00")
    refund("1001", "40.00")

    cancel = PointsEntry.objects.get(kind=EntryKind.CANCEL)
    assert (cancel.pending, cancel.available) == (-40, 0)
    assert (account().balance, account().pending) == (0, 110)  # 60 + the bonus, still whole

    points_mature(now=AFTER_WINDOW)
    assert (account().balance, account().pending) == (110, 0)


def test_a_refund_after_the_window_reverses_available_points(programme, post_order, refund):
    post_order(total="100.00")
    points_mature(now=AFTER_WINDOW)
    refund("1001", "100.00")

    reversed_ = PointsEntry.objects.filter(kind=EntryKind.REVERSE)
    assert sorted(e.available for e in reversed_) == [-100, -50]
    assert (account().balance, account().pending) == (0, 0)


def test_two_partial_refunds_give_back_each_part_once(programme, post_order, refund):
    post_order(total="100.00")
    refund("1001", "25.00", "r1")
    refund("1001", "25.00", "r2")
    orders_award([Customer.objects.get().pk])

    assert sorted(PointsEntry.objects.filter(kind=EntryKind.CANCEL).values_list("pending", flat=True)) == [-25, -25]
    assert account().pending == 100


def test_a_cancelled_order_gives_back_everything(programme, post_order):
    post_order(total="100.00")
    post_order(total="100.00", status="cancelled")

    assert account().pending == 0
    assert PointsEntry.objects.filter(kind=EntryKind.CANCEL).count() == 2


def test_a_rule_switched_off_or_out_of_its_validity_awards_nothing(programme, post_order):
    EarningRule.objects.filter(kind=RuleKind.FIRST_ORDER).update(is_active=False)
    EarningRule.objects.filter(kind=RuleKind.SPEND).update(valid_from=PLACED + timedelta(days=1))
    post_order(total="100.00")

    assert not PointsEntry.objects.exists()


def test_a_tier_multiplies_points_and_a_rule_can_set_its_own_multiplier(programme, tiers, post_order, shop):
    spend = EarningRule.objects.get(kind=RuleKind.SPEND)
    RuleTierMultiplier.objects.create(rule=spend, tier=tiers["gold"], multiplier=3)
    customer = Customer.objects.create(email="ann@example.com", email_normalized="ann@example.com")
    Account.objects.create(customer=customer, group=shop.group, tier=tiers["gold"])
    post_order(total="10.00")

    by_kind = dict(PointsEntry.objects.values_list("rule__kind", "pending"))
    assert by_kind == {RuleKind.SPEND: 30, RuleKind.FIRST_ORDER: 100}  # 3× own, 2× the tier's


@pytest.mark.parametrize(
    ("rounding", "expected"), [("down", 12), ("nearest", 13), ("up", 13)], ids=["down", "nearest", "up"]
)
def test_rounding_rules(rounding, expected):
    rule = EarningRule(kind=RuleKind.SPEND, points_per_unit=Decimal("1.5"), rounding=rounding)
    assert rule_points(rule, amount=Decimal("8.40")) == expected  # 12.6 points


def test_without_order_rules_the_pipeline_writes_nothing(programme, post_order):
    EarningRule.objects.all().delete()
    post_order(total="100.00")

    assert not PointsEntry.objects.exists() and not Account.objects.exists()


def test_an_inactive_programme_awards_nothing(programme, post_order):
    programme.is_active = False
    programme.save()
    post_order(total="100.00")

    assert not PointsEntry.objects.exists()


# The ledger is append-only and the cached balances agree with it.


def test_entries_cannot_be_changed_or_deleted(programme, post_order):
    post_order(total="10.00")
    entry = PointsEntry.objects.first()

    with pytest.raises(ValueError, match="append-only"):
        entry.pending = 1000
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


@pytest.mark.postgres
def test_on_postgres_the_database_refuses_to_change_an_entry(programme, post_order):
    from django.db import IntegrityError, transaction

    post_order(total="10.00")
    for sql in ("UPDATE loyalty_pointsentry SET pending = 1000", "DELETE FROM loyalty_pointsentry"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert sorted(PointsEntry.objects.values_list("pending", flat=True)) == [10, 50]


@pytest.mark.postgres
def test_on_postgres_an_erasure_may_blank_a_reason_and_nothing_else(programme, post_order):
    from django.db import IntegrityError, transaction

    post_order(total="10.00")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_pointsentry SET reason = ''")
    for sql in (
        "UPDATE loyalty_pointsentry SET reason = 'rewritten'",
        "UPDATE loyalty_pointsentry SET reason = '', pending = 1000",
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert sorted(PointsEntry.objects.values_list("pending", flat=True)) == [10, 50]


def test_loyalty_verify_reports_no_difference_after_all_of_it(programme, post_order, refund, capsys):
    post_order(total="100.00")
    refund("1001", "30.00")
    points_mature(now=AFTER_WINDOW)
    refund("1001", "30.00", "r2")

    call_command("loyalty_verify")

    assert "every balance matches the ledger" in capsys.readouterr().out


def test_loyalty_verify_names_an_account_that_drifted(programme, post_order):
    post_order(total="100.00")
    Account.objects.update(pending=7)

    with pytest.raises(CommandError, match="1 of 1 accounts differ"):
        call_command("loyalty_verify")
