"""Figures as people read them (``core.figures``): money with its currency and separators,
shares as percentages, days, and stage reasons that do not repeat the stage."""

from decimal import Decimal

import pytest

from core.figures import count_text, days_text, money_amount, money_text, percent_text, unit_money_text
from customers.metrics import stages


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("1234567.5"), "USD", "1,234,567.50 USD"),
        (412.3651237749812, "EUR", "412.37 EUR"),  # a model's float, rounded to the cent
        (Decimal("0.005"), "USD", "0.01 USD"),  # halves up, as the CRM rounds money
        (Decimal("15000"), "JPY", "15,000 JPY"),  # no minor unit
        (Decimal("0"), "GBP", "0.00 GBP"),
        (None, "USD", "—"),
        (float("nan"), "USD", "—"),
    ],
)
def test_money_reads_with_its_currency(amount, currency, shown):
    assert money_text(amount, currency) == shown


def test_an_amount_is_rounded_to_its_currencys_minor_unit_as_it_reads():
    assert money_amount(Decimal("12.345"), "USD") == Decimal("12.35")
    assert money_amount(Decimal("8400.5"), "JPY") == Decimal("8401")
    assert str(money_amount(Decimal("80"), "EUR")) == "80.00"
    assert money_text(money_amount(Decimal("8400.5"), "JPY"), "JPY") == money_text(Decimal("8400.5"), "JPY")


def test_a_value_per_unit_keeps_its_decimals():
    assert unit_money_text(Decimal("0.0100"), "USD") == "0.01 USD"
    assert unit_money_text(Decimal("0.0050"), "USD") == "0.005 USD"
    assert unit_money_text(Decimal("2"), "JPY") == "2 JPY"


@pytest.mark.parametrize(
    ("share", "shown"),
    [(0.314, "31%"), (0.0, "0%"), (1.0, "100%"), (0.001, "<1%"), (0.997, ">99%"), (None, "—")],
)
def test_shares_read_as_whole_percentages(share, shown):
    assert percent_text(share) == shown


def test_days_and_counts():
    assert (days_text(1), days_text(3.4), days_text(1500)) == ("1 day", "3 days", "1,500 days")
    assert count_text(15797) == "15,797"


T = stages.Thresholds()


def test_a_reason_does_not_repeat_the_stage_and_gives_p_alive_as_a_percentage():
    reason = stages.reason(
        "p_alive_falling", purchase_days=4, days_since_last=40.0, gap_median=20.0, p_alive=0.314, t=T
    )
    assert reason == "last order 40 days ago; usually orders every 20 days; P(alive) 31%"


def test_a_one_time_buyers_reason_leaves_out_p_alive_which_is_1_by_construction():
    reason = stages.reason(
        "no_purchase_for_long", purchase_days=1, days_since_last=400.0, gap_median=float("nan"), p_alive=1.0, t=T
    )
    assert reason == "last order 400 days ago; lapsed after 365 days without one"


@pytest.mark.parametrize(
    ("stored", "stage", "shown"),
    [
        ("at risk: last order 142 days ago", "at_risk", "last order 142 days ago"),
        ("last order 142 days ago", "at_risk", "last order 142 days ago"),
        ("new: last order 2 days ago; first purchase", "new", "last order 2 days ago; first purchase"),
        ("first order", "new", "first order"),
    ],
)
def test_a_stored_reason_is_shown_without_the_stage_it_once_repeated(stored, stage, shown):
    assert stages.reason_without_stage(stored, stage) == shown
