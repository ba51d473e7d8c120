"""Buyers, new and returning customers, repeat purchase, retention and churn (from the day
sets of ``DailyBuyers``), and the monthly cohort heatmap (``CohortMonth``)."""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from crm.dashboard import days as d
from crm.dashboard import id_sets, links
from crm.dashboard.figures.base import (
    MIN_COHORT,
    MIN_CUSTOMERS,
    Chart,
    Figure,
    Period,
    bucket_start,
    change,
    percent,
    previous_days,
    too_few,
)
from crm.dashboard.models import CohortMonth, DailyBuyers

BY_FIRST_SHOP = (
    " With a shop chosen: the customers that shop first saw (each customer counts in one shop),"
    " whichever shop they bought in."
)


@dataclass(frozen=True)
class Customers:
    buyers: Figure
    new: Figure
    returning: Figure
    repeat: Figure
    retention: Figure
    churn: Figure
    chart: Chart

    @property
    def tiles(self) -> list[Figure]:
        return [self.buyers, self.new, self.returning, self.repeat, self.retention, self.churn]


class DaySets:
    """The ``DailyBuyers`` rows of some days, their buyer sets unpacked once."""

    def __init__(self, rows):
        self.rows = [(r, id_sets.unpack(r.buyer_ids)) for r in rows]

    def within(self, first: date, last: date) -> list[tuple[DailyBuyers, np.ndarray]]:
        return [(r, ids) for r, ids in self.rows if first <= r.day <= last]

    def buyers(self, first: date, last: date) -> list[np.ndarray]:
        return [ids for _, ids in self.within(first, last)]

    def new(self, first: date, last: date) -> list[np.ndarray]:
        return [id_sets.unpack(r.new_ids) for r, _ in self.within(first, last)]


def customers(period: Period, *, today: date) -> Customers:
    """One read of the day sets from the previous period's first day to today."""
    rows = DailyBuyers.objects.filter(day__range=(period.previous.first, max(period.last, today)))
    if period.shop_id is not None:
        rows = rows.filter(shop_id=period.shop_id)
    sets = DaySets(rows.only("day", "buyers", "new", "buyer_ids", "new_ids"))
    prev = period.previous
    buyers = id_sets.union(sets.buyers(period.first, period.last))
    new = id_sets.union(sets.new(period.first, period.last))
    before = id_sets.union(sets.buyers(prev.first, prev.last))
    retained = np.intersect1d(before, buyers, assume_unique=True).size
    repeaters = int((id_sets.days_among(sets.buyers(period.first, max(period.last, today)), new) >= 2).sum())
    period_days = links.days(period.first, period.last)
    before_days = links.days(prev.first, prev.last)
    until_start = links.days(None, period.first - timedelta(days=1))
    shop = period.shop_id
    retention = percent(retained, before.size)
    return Customers(
        buyers=Figure(
            "buyers",
            "Customers who bought",
            buyers.size,
            "customers",
            "Distinct customers with at least one counted order (not cancelled or refunded) in the period."
            + BY_FIRST_SHOP,
            link=links.customers(bought=[period_days], shop=shop),
            detail=change(buyers.size, before.size, period.length),
        ),
        new=Figure(
            "new_customers",
            "New customers",
            new.size,
            "customers",
            "Customers whose first counted order ever was placed in the period." + BY_FIRST_SHOP,
            link=links.customers(bought=[period_days], not_bought=[until_start], shop=shop),
            detail=f"{percent(new.size, buyers.size) or 0:.1f} % of the customers who bought" if buyers.size else "",
        ),
        returning=Figure(
            "returning_customers",
            "Returning customers",
            buyers.size - new.size,
            "customers",
            "Customers who bought in the period and had bought before it." + BY_FIRST_SHOP,
            link=links.customers(bought=[period_days, until_start], shop=shop),
            detail=(
                f"{percent(buyers.size - new.size, buyers.size) or 0:.1f} % of the customers who bought"
                if buyers.size
                else ""
            ),
        ),
        repeat=Figure(
            "repeat_rate",
            "Repeat purchase rate",
            percent(repeaters, new.size),
            "%",
            "Of the period's new customers, the share who have bought again on a later day, up to "
            "today (orders on the same day are one purchase)." + BY_FIRST_SHOP,
            link=links.customers(
                bought=[period_days, links.days(period.first, None, times=2)], not_bought=[until_start], shop=shop
            ),
            detail=f"{repeaters:,} of {new.size:,} new customers bought again",
            thin=too_few(new.size, MIN_CUSTOMERS, "new customers"),
            decimals=1,
        ),
        retention=Figure(
            "retention",
            "Retention",
            retention,
            "%",
            f"Of the customers who bought in {previous_days(period.length)} ({prev.first:%d %b} – "
            f"{prev.last:%d %b %Y}), the share who bought again in this period." + BY_FIRST_SHOP,
            link=links.customers(bought=[before_days, period_days], shop=shop),
            detail=f"{retained:,} of {before.size:,} customers came back",
            thin=too_few(before.size, MIN_CUSTOMERS, "customers in the previous period"),
            decimals=1,
        ),
        churn=Figure(
            "churn",
            "Churn",
            None if retention is None else round(100 - retention, 1),
            "%",
            "Of the customers who bought in the previous period, the share who did not buy in this "
            "one: 100 % − retention." + BY_FIRST_SHOP,
            link=links.customers(bought=[before_days], not_bought=[period_days], shop=shop),
            detail=f"{before.size - retained:,} of {before.size:,} customers did not come back",
            thin=too_few(before.size, MIN_CUSTOMERS, "customers in the previous period"),
            decimals=1,
        ),
        chart=_chart(period, sets.within(period.first, period.last)),
    )


def _chart(period: Period, rows: list[tuple[DailyBuyers, np.ndarray]]) -> Chart:
    """New and returning customers per step: distinct within each week or month."""
    steps: dict[date, list] = {}
    for row, ids in rows:
        steps.setdefault(bucket_start(row.day, period.grain), []).append((row, ids))
    buckets = period.buckets()
    new, returning = [], []
    for bucket in buckets:
        inside = steps.get(bucket.start, [])
        if period.grain == "day":  # the shops' customers are apart: their counts add up
            bought = sum(row.buyers for row, _ in inside)
        else:
            bought = len(id_sets.union(ids for _, ids in inside))
        fresh = sum(row.new for row, _ in inside)
        new.append(fresh)
        returning.append(bought - fresh)
    return Chart(
        "customers",
        "bar",
        [b.label for b in buckets],
        [{"label": "New customers", "data": new}, {"label": "Returning customers", "data": returning}],
        y_title="customers",
        stacked=True,
    )


@dataclass(frozen=True)
class CohortRow:
    cohort: date
    size: int
    cells: list[dict]  # month offset k: {"percent", "customers", "link"} or None (not yet)
    thin: str


def cohorts(period: Period, *, today: date, months: int = 12) -> list[CohortRow]:
    """The cohorts of the ``months`` months up to the period's last, by month since the
    first order: one read."""
    last = d.month_of(period.last)
    first = d.months_back(last, months - 1)
    cells = CohortMonth.objects.filter(cohort__range=(first, last), month__lte=last)
    if period.shop_id is not None:
        cells = cells.filter(shop_id=period.shop_id)
    counts: dict[tuple[date, date], int] = {}
    for cohort, month, n in cells.values_list("cohort", "month", "customers"):
        counts[(cohort, month)] = counts.get((cohort, month), 0) + n
    out = []
    for cohort in d.months(first, last):
        size = counts.get((cohort, cohort), 0)
        row = []
        for k, month in enumerate(d.months(cohort, d.month_end(last))):
            if k >= months:
                break
            n = counts.get((cohort, month), 0)
            row.append(
                {
                    "k": k,
                    "percent": percent(n, size),
                    "customers": n,
                    "in_progress": d.month_end(month) > today,
                    "link": links.customers(
                        bought=[
                            links.days(cohort, d.month_end(cohort)),
                            links.days(month, d.month_end(month)),
                        ],
                        not_bought=[links.days(None, cohort - timedelta(days=1))],
                        shop=period.shop_id,
                    ),
                }
            )
        out.append(CohortRow(cohort, size, row, too_few(size, MIN_COHORT, "customers")))
    return out
