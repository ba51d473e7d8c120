"""Figures as people read them: money with its currency, shares as percentages, spans in days.

Every money figure the CRM shows names its currency: an order's own, or the CRM's base
currency (``settings.BASE_CURRENCY``) for what is summed over orders (net revenue, AOV,
CLV, the points liability). Amounts get thousands separators and the currency's minor
digits (two; none for JPY and the other zero-decimal currencies).

Plain Python, no Django: the metrics (``customers.metrics``) use it too.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies with no minor unit. Everything else that the CRM accepts has two.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
NONE = "—"


def minor_digits(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 2


def money_amount(amount, currency: str) -> Decimal:
    """An amount rounded half up to the currency's minor unit, as ``money_text`` shows it:
    ``12.345, "USD"`` → ``Decimal("12.35")``, ``1234.5, "JPY"`` → ``Decimal("1235")``."""
    return _rounded(Decimal(str(amount)), minor_digits(currency))


def _rounded(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def amount_text(amount, digits: int = 2) -> str:
    """``1234.5`` → "1,234.50", rounded half up; "—" for none. For a column whose heading
    names the currency; everywhere else, ``money_text``."""
    if amount is None or amount == "":
        return NONE
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return NONE
    if not value.is_finite():
        return NONE
    return f"{_rounded(value, digits):,.{digits}f}"


def money_text(amount, currency: str) -> str:
    """``1234.5, "USD"`` → "1,234.50 USD"; "—" for no amount."""
    text = amount_text(amount, minor_digits(currency))
    return text if text == NONE else f"{text} {currency}"


def unit_money_text(amount, currency: str) -> str:
    """A value per unit (a point, an exchange rate), with the decimals it has and at least the
    currency's: ``Decimal("0.0050"), "USD"`` → "0.005 USD", ``Decimal("0.0100")`` → "0.01 USD"."""
    if amount is None:
        return NONE
    value = Decimal(str(amount)).normalize()
    exponent = value.as_tuple().exponent
    places = max(minor_digits(currency), -exponent if isinstance(exponent, int) else 0)
    return f"{value:,.{places}f} {currency}"


def percent_text(share) -> str:
    """A share of one as a whole percentage: ``0.314`` → "31%", "<1%" and ">99%" at the edges."""
    if share is None:
        return NONE
    share = float(share)
    if share != share:  # NaN
        return NONE
    if 0 < share < 0.005:
        return "<1%"
    if 0.995 <= share < 1:
        return ">99%"
    return f"{round(share * 100):d}%"


def count_text(n) -> str:
    """A whole number with thousands separators: ``15797`` → "15,797"."""
    return NONE if n is None else f"{int(n):,}"


def days_text(days) -> str:
    """``3`` → "3 days", ``1`` → "1 day", rounded to a whole day."""
    if days is None:
        return NONE
    days = round(float(days))
    return "1 day" if days == 1 else f"{days:,} days"
