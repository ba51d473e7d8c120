"""Currencies: their minor units and their rate to the base currency."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from core.figures import minor_digits
from customers.models import ExchangeRate

CENT = Decimal("0.01")
# The most one order may hold: each amount, the lines' sum and the total once converted to
# the base currency. Money columns are numeric(14,2) (up to 999,999,999,999.99), so a
# customer's lifetime sums still hold 999 orders at this cap.
MAX_AMOUNT = Decimal("1000000000.00")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: 1 for JPY, 0.01 for USD (``core.figures.minor_digits``)."""
    return Decimal(1).scaleb(-minor_digits(currency))


def base_currency() -> str:
    return settings.BASE_CURRENCY


def rates_for(currencies: set[str]) -> dict[str, Decimal]:
    """Rates to the base currency for those of ``currencies`` that have one (one query)."""
    base = base_currency()
    rates = {base: Decimal(1)} if base in currencies else {}
    others = currencies - {base}
    if others:
        rates.update(ExchangeRate.objects.filter(currency__in=others).values_list("currency", "rate_to_base"))
    return rates


def to_base(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
