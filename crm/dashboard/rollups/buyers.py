"""``DailyBuyers`` (who bought each day, and who bought for the first time) and
``CohortMonth`` (the cohort heatmap), by the shop that first saw each customer."""

from datetime import date, timedelta

import numpy as np
from django.db import connection

from core.db.column_reader import EPOCH_DAY, Field, read_columns
from crm.dashboard import id_sets
from crm.dashboard.days import month_end, month_of, span
from crm.dashboard.models import CohortMonth, DailyBuyers
from customers.models import Customer, Order
from customers.services.order_days import counted_sql, placed_day


def buyers_refresh(first: date, last: date) -> int:
    """Recompute the days ``first`` … ``last`` from their counted orders: one read (each
    order's customer, day, the customer's first shop, and whether the customer had a counted
    order before it), numpy to group, one delete, one insert. Returns the rows written."""
    rows = _orders(first, last)
    out = []
    if rows["customer"].size:
        keys = np.stack([rows["day"], rows["shop"]], axis=1)
        groups, where = np.unique(keys, axis=0, return_inverse=True)
        order = np.argsort(where, kind="stable")
        bounds = np.searchsorted(where[order], np.arange(len(groups) + 1))
        for g, (day, shop) in enumerate(groups.tolist()):
            members = order[bounds[g] : bounds[g + 1]]
            buyers = np.unique(rows["customer"][members])
            new = np.unique(rows["customer"][members][rows["new"][members] == 1])
            out.append(
                DailyBuyers(
                    day=EPOCH_DAY + timedelta(days=day),
                    shop_id=shop or None,
                    buyers=buyers.size,
                    new=new.size,
                    buyer_ids=id_sets.pack(buyers),
                    new_ids=id_sets.pack(new),
                )
            )
    DailyBuyers.objects.filter(day__range=(first, last)).delete()
    DailyBuyers.objects.bulk_create(out, batch_size=500)
    return len(out)


def _orders(first: date, last: date) -> dict[str, np.ndarray]:
    o, c = Order._meta.db_table, Customer._meta.db_table
    day, day_params = placed_day()
    earlier = (
        f"SELECT 1 FROM {o} p WHERE p.customer_id = o.customer_id AND {counted_sql('p')} AND p.placed_at < o.placed_at"
    )
    # Raw SQL: the bounds go through the backend's own adapter (on SQLite, naive UTC text,
    # as the column holds them; an aware time in another zone would compare as text).
    bounds = [connection.ops.adapt_datetimefield_value(moment) for moment in span(first, last).values()]
    return read_columns(
        [
            Field("customer", "o.customer_id"),
            day,
            Field("shop", "c.first_seen_shop_id"),
            Field("new", f"CASE WHEN EXISTS ({earlier}) THEN 0 ELSE 1 END"),
        ],
        f"FROM {o} o JOIN {c} c ON c.id = o.customer_id"
        f" WHERE {counted_sql()} AND o.placed_at >= %s AND o.placed_at < %s",
        [*day_params, *bounds],
    )


def cohorts_refresh(months: list[date]) -> int:
    """Recompute the heatmap's cells for ``months`` (first days) from the stored day sets:
    each buyer of the month counts in the cohort of the month of their first order."""
    if not months:
        return 0
    first_ids, first_months = _first_order_months(until=month_end(max(months)))
    out = []
    for month in months:
        sets: dict[int | None, list[np.ndarray]] = {}
        for row in DailyBuyers.objects.filter(day__range=(month, month_end(month))).only("shop_id", "buyer_ids"):
            sets.setdefault(row.shop_id, []).append(id_sets.unpack(row.buyer_ids))
        for shop_id, day_sets in sets.items():
            buyers = id_sets.union(day_sets)
            at = np.searchsorted(first_ids, buyers)
            known = (at < first_ids.size) & (first_ids[np.minimum(at, first_ids.size - 1)] == buyers)
            cohorts, counts = np.unique(first_months[at[known]], return_counts=True)
            out += [
                CohortMonth(cohort=EPOCH_DAY + timedelta(days=int(c)), month=month, shop_id=shop_id, customers=int(n))
                for c, n in zip(cohorts.tolist(), counts.tolist(), strict=True)
            ]
    CohortMonth.objects.filter(month__in=months).delete()
    CohortMonth.objects.bulk_create(out, batch_size=1000)
    return len(out)


def _first_order_months(*, until: date) -> tuple[np.ndarray, np.ndarray]:
    """Every customer who first bought by ``until``, sorted, and the first day (as days
    since 1970) of the month of that first order."""
    ids, month_days = [], []
    for row in DailyBuyers.objects.filter(day__lte=until, new__gt=0).only("day", "new_ids"):
        new = id_sets.unpack(row.new_ids)
        ids.append(new)
        month_days.append(np.full(new.size, (month_of(row.day) - EPOCH_DAY).days, dtype=np.int64))
    if not ids:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    all_ids, all_months = np.concatenate(ids), np.concatenate(month_days)
    order = np.lexsort((all_months, all_ids))  # by id, earliest month first
    all_ids, all_months = all_ids[order], all_months[order]
    keep = np.ones(all_ids.size, dtype=bool)
    keep[1:] = all_ids[1:] != all_ids[:-1]
    return all_ids[keep], all_months[keep]
