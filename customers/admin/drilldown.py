"""The customers list filtered by when they bought, and by predicted CLV: where the
dashboard's figures lead ("the 1,204 customers behind this number").

Parameters (days are calendar days in the CRM's time zone, both ends included, either end
may be left open):

- ``bought=2026-01-01..2026-01-31`` customers with a counted order (not cancelled or
  refunded) on one of those days; several ranges, comma-separated, must all hold
  (``bought=2025-12-01..2025-12-31,2026-01-01..2026-01-31``: bought in both months); a range
  ending ``*2`` needs orders on at least that many different days in it;
- ``not_bought=..2025-12-31``: no counted order on those days (several: none in any);
- ``bought_shop=3``: the two above count only that shop's orders;
- ``clv=100..250``: predicted 12-month CLV from 100 up to, not including, 250 (base
  currency); ``clv=none``: no prediction.

A value that does not read is refused like any bad filter (the list says so), never a 500.
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Count, Q

from core.days import local_day, within
from customers.models import Order

RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})?\.\.(\d{4}-\d{2}-\d{2})?(?:\*(\d{1,3}))?$")
MAX_TERMS = 4


def _range(text: str, *, counted: bool) -> tuple[date | None, date | None, int]:
    match = RANGE.match(text.strip())
    if not match or (match[3] and not counted):
        raise IncorrectLookupParameters(f"{text!r} is not a range of days like 2026-01-01..2026-01-31.")
    try:
        first, last = (date.fromisoformat(v) if v else None for v in match.groups()[:2])
    except ValueError:
        raise IncorrectLookupParameters(f"{text!r} names a day that does not exist.") from None
    if first and last and first > last:
        raise IncorrectLookupParameters(f"{text!r} ends before it starts.")
    return first, last, int(match[3] or 1)


def _orders(first: date | None, last: date | None, shop: str | None):
    orders = Order.objects.counted().filter(**within("placed_at", first, last)).order_by()
    return orders.filter(shop_id=shop) if shop else orders


def _words(first: date | None, last: date | None) -> str:
    if first and last:
        return f"{first:%d %b %Y} – {last:%d %b %Y}"
    return f"from {first:%d %b %Y}" if first else f"up to {last:%d %b %Y}" if last else "ever"


class DrilldownFilter(admin.ListFilter):
    """Not a list of choices: it shows what the link asked for, with a way to clear it."""

    title = "from the dashboard"
    parameters = ("bought", "not_bought", "bought_shop", "clv")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {}
        for name in self.parameters:
            if name in params:
                value = params.pop(name)
                self.values[name] = value[-1] if isinstance(value, list) else value
        self.conditions, self.labels = self._read()

    def _read(self) -> tuple[list[Q], list[str]]:
        shop = self.values.get("bought_shop")
        if shop is not None and not (shop.isdigit() and len(shop) < 10):
            raise IncorrectLookupParameters("bought_shop must be a shop's id.")
        where = " in that shop" if shop else ""
        conditions, labels = [], []
        bought = [t for t in self.values.get("bought", "").split(",") if t]
        not_bought = [t for t in self.values.get("not_bought", "").split(",") if t]
        if len(bought) + len(not_bought) > MAX_TERMS:
            raise IncorrectLookupParameters(f"At most {MAX_TERMS} ranges of days.")
        for term in bought:
            first, last, times = _range(term, counted=True)
            orders = _orders(first, last, shop)
            if times > 1:
                orders = (
                    orders.values("customer_id")
                    .annotate(days=Count(local_day("placed_at"), distinct=True))
                    .filter(days__gte=times)
                )
                labels.append(f"bought on {times}+ days {_words(first, last)}{where}")
            else:
                labels.append(f"bought {_words(first, last)}{where}")
            conditions.append(Q(pk__in=orders.values("customer_id")))
        for term in not_bought:
            first, last, _ = _range(term, counted=False)
            conditions.append(~Q(pk__in=_orders(first, last, shop).values("customer_id")))
            labels.append(f"did not buy {_words(first, last)}{where}")
        if "clv" in self.values:
            condition, label = _clv(self.values["clv"])
            conditions.append(condition)
            labels.append(label)
        return conditions, labels

    def has_output(self) -> bool:
        return bool(self.values)

    def expected_parameters(self) -> list[str]:
        return list(self.parameters)

    def queryset(self, request, queryset):
        for condition in self.conditions:
            queryset = queryset.filter(condition)
        return queryset

    def choices(self, changelist):
        yield {"selected": True, "query_string": changelist.get_query_string(), "display": "; ".join(self.labels)}
        yield {
            "selected": False,
            "query_string": changelist.get_query_string(remove=list(self.parameters)),
            "display": "Clear",
        }


def _clv(text: str) -> tuple[Q, str]:
    if text == "none":
        # Among customers with figures: one not yet recomputed has no metrics row at all.
        return Q(metrics__isnull=False, metrics__clv_predicted__isnull=True), "no predicted CLV"
    low, sep, high = text.partition("..")
    try:
        low_value = Decimal(low) if low else None
        high_value = Decimal(high) if high else None
    except InvalidOperation:
        low_value = high_value = Decimal("NaN")
    bounds = [v for v in (low_value, high_value) if v is not None]
    if not sep or not bounds or any(not v.is_finite() or abs(v) > 10**12 for v in bounds):
        raise IncorrectLookupParameters(f"clv={text!r}: give a range like 100..250.")
    condition = Q()
    if low_value is not None:
        condition &= Q(metrics__clv_predicted__gte=float(low_value))
    if high_value is not None:
        condition &= Q(metrics__clv_predicted__lt=float(high_value))
    words = f"{low_value or 0:,} up to {high_value:,}" if high_value is not None else f"{low_value:,} and more"
    return condition, f"predicted 12-month CLV {words}"
