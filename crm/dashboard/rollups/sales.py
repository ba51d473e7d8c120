"""``DailySales``: counted orders by day, shop and currency, net of refunds."""

from datetime import date
from decimal import Decimal

from django.db.models import Count, F, Sum, Value
from django.db.models.functions import Greatest

from crm.dashboard.days import local_day, within
from crm.dashboard.models import DailySales
from customers.models import ZERO, Order, Refund


def sales_refresh(first: date, last: date) -> int:
    """Recompute the days ``first`` … ``last``: two grouped reads (orders, and their refunds
    in the order's currency), one delete, one insert. Returns the rows written."""
    orders = Order.objects.counted().filter(**within("placed_at", first, last)).order_by()
    totals = (
        orders.annotate(day=local_day("placed_at"))
        .values("day", "shop_id", "currency")
        # Each order net of its refunds, never below 0 (refunds converted at their own day's rate
        # can exceed the order's base total), as the customers' figures count it (order_days.py).
        .annotate(
            orders=Count("id"),
            gross=Sum("total"),
            base=Sum(Greatest(F("total_base") - F("refunded_base"), Value(ZERO))),
        )
    )
    refunded = dict(
        (((r["day"], r["shop_id"], r["currency"]), r["amount"]))
        for r in Refund.objects.filter(order__in=orders)
        .annotate(day=local_day("order__placed_at"), shop_id=F("order__shop_id"), currency=F("order__currency"))
        .values("day", "shop_id", "currency")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    rows = [
        DailySales(
            day=t["day"],
            shop_id=t["shop_id"],
            currency=t["currency"],
            orders=t["orders"],
            revenue=max(_money(t["gross"]) - _money(refunded.get((t["day"], t["shop_id"], t["currency"]))), ZERO),
            revenue_base=max(_money(t["base"]), ZERO),
        )
        for t in totals
    ]
    DailySales.objects.filter(day__range=(first, last)).delete()
    DailySales.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _money(value) -> Decimal:
    return ZERO if value is None else Decimal(value).quantize(Decimal("0.01"))
