"""Revenue, orders and average order value, from ``DailySales``."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from core.figures import money_amount
from crm.dashboard import links
from crm.dashboard.figures.base import MIN_ORDERS, Chart, Figure, Period, bucket_start, change, money, too_few
from crm.dashboard.models import DailySales


@dataclass(frozen=True)
class CurrencyRow:
    currency: str
    orders: int
    revenue: Decimal
    aov: Decimal | None


@dataclass(frozen=True)
class Sales:
    revenue: Figure
    orders: Figure
    aov: Figure
    by_currency: list[CurrencyRow]
    chart: Chart

    @property
    def tiles(self) -> list[Figure]:
        return [self.revenue, self.orders, self.aov]


def sales(period: Period) -> Sales:
    """One grouped read of the period and the one before it."""
    base = settings.BASE_CURRENCY
    rows = DailySales.objects.filter(day__range=(period.previous.first, period.last))
    if period.shop_id is not None:
        rows = rows.filter(shop_id=period.shop_id)
    rows = rows.values("day", "currency").annotate(o=Sum("orders"), r=Sum("revenue"), b=Sum("revenue_base")).order_by()
    now = {"orders": 0, "base": Decimal(0)}
    before = {"orders": 0, "base": Decimal(0)}
    currencies: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    series: dict = defaultdict(lambda: [0, Decimal(0)])
    for r in rows:
        current = r["day"] >= period.first
        totals = now if current else before
        totals["orders"] += r["o"]
        totals["base"] += r["b"]
        if current:
            currencies[r["currency"]][0] += r["o"]
            currencies[r["currency"]][1] += r["r"]
            point = series[bucket_start(r["day"], period.grain)]
            point[0] += r["o"]
            point[1] += r["b"]
    orders, revenue = now["orders"], money_amount(now["base"], base)
    aov = revenue / orders if orders else None
    aov_before = before["base"] / before["orders"] if before["orders"] else None
    vs = period.length
    period_days = links.days(period.first, period.last)
    converted = " (orders in other currencies converted at their exchange rate)" if len(currencies) > 1 else ""
    return Sales(
        revenue=money(
            "revenue",
            "Net revenue",
            revenue,
            base,
            f"The totals of the orders placed in the period that count as purchases (not cancelled "
            f"or refunded), less what was refunded on them, in {base}{converted}. By the day the "
            f"order was placed ({settings.TIME_ZONE}). The customers who placed them are behind the number.",
            link=links.customers(bought=[period_days], shop=period.shop_id, by_order_shop=True),
            detail=change(revenue, before["base"], vs),
        ),
        orders=Figure(
            "orders",
            "Orders",
            orders,
            "orders",
            "Orders placed in the period that count as purchases: not cancelled, not fully refunded.",
            link=links.orders(period),
            detail=change(orders, before["orders"], vs),
        ),
        aov=money(
            "aov",
            "Average order value",
            aov,
            base,
            "Net revenue divided by the number of orders, in the base currency; per currency in the table below.",
            link=links.orders(period),
            detail=change(aov, aov_before, vs) if aov is not None else "",
            thin=too_few(orders, MIN_ORDERS, "orders"),
        ),
        by_currency=[
            CurrencyRow(c, n, money_amount(total, c), money_amount(total / n, c) if n else None)
            for c, (n, total) in sorted(currencies.items())
        ],
        chart=Chart(
            "sales",
            "bar",
            [b.label for b in period.buckets()],
            [
                {
                    "label": f"Net revenue ({base})",
                    "data": [float(series[b.start][1]) for b in period.buckets()],
                    "yAxisID": "y",
                },
                {
                    "label": "Orders",
                    "type": "line",
                    "data": [series[b.start][0] for b in period.buckets()],
                    "yAxisID": "y2",
                },
            ],
            y_title=base,
            y2_title="orders",
        ),
    )
