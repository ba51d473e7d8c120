"""Per-customer purchase summaries from (customer, day, amount) rows, vectorised.

The conventions are the literature's (Fader, Hardie & Lee 2005), so results compare with
other tools:
- time is counted in whole calendar days, then divided into the chosen unit;
- same-day orders are one purchase, their amounts summed;
- frequency = distinct purchase days after the first;
- recency = days from the first purchase day to the last;
- T = days from the first purchase day to the end of the observation period;
- monetary value = mean spend per repeat purchase day, the first purchase excluded.
"""

from dataclasses import dataclass

import numpy as np

TIME_UNITS = {"days": 1.0, "weeks": 7.0}


@dataclass(frozen=True)
class Summary:
    """One entry per customer with at least one purchase day, in ``customer_ids`` order."""

    customer_ids: np.ndarray  # int64
    orders: np.ndarray  # int64: orders (several on one day count separately)
    purchase_days: np.ndarray  # int64: distinct purchase days
    first_day: np.ndarray  # int64: day numbers (days since 1970-01-01, in the CRM's time zone)
    last_day: np.ndarray  # int64
    total: np.ndarray  # float64: net spend over all purchase days
    first_amount: np.ndarray  # float64: net spend on the first purchase day
    gap_median: np.ndarray  # float64 days between purchase days; NaN with a single purchase day
    gap_mean: np.ndarray  # float64

    @property
    def frequency(self) -> np.ndarray:
        return self.purchase_days - 1

    def recency(self, unit: str = "days") -> np.ndarray:
        return (self.last_day - self.first_day) / TIME_UNITS[unit]

    def age(self, end_day: int, unit: str = "days") -> np.ndarray:
        """T: from the first purchase day to ``end_day``."""
        return (end_day - self.first_day) / TIME_UNITS[unit]

    @property
    def monetary(self) -> np.ndarray:
        """Mean spend per repeat purchase day; 0 for one-time buyers."""
        repeat = self.frequency
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (self.total - self.first_amount) / repeat
        return np.where(repeat > 0, value, 0.0)


def summarise(customer_ids: np.ndarray, days: np.ndarray, amounts: np.ndarray) -> Summary:
    """Summaries from order rows (any order, several per day allowed).

    ``customer_ids`` and ``days`` are integer arrays, ``amounts`` floats, one entry per order.
    """
    customer_ids = np.asarray(customer_ids, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    amounts = np.asarray(amounts, dtype=np.float64)
    if customer_ids.size == 0:
        empty_i, empty_f = np.empty(0, np.int64), np.empty(0, np.float64)
        return Summary(empty_i, empty_i, empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_f)

    # One row per (customer, day), amounts summed: sort, then reduce over equal keys.
    order = np.lexsort((days, customer_ids))
    cid, day, amount = customer_ids[order], days[order], amounts[order]
    new_key = np.ones(cid.size, dtype=bool)
    new_key[1:] = (cid[1:] != cid[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(new_key)
    orders_per_day = np.diff(np.append(starts, cid.size))
    cid, day, amount = cid[starts], day[starts], np.add.reduceat(amount, starts)

    # Then one row per customer.
    new_customer = np.ones(cid.size, dtype=bool)
    new_customer[1:] = cid[1:] != cid[:-1]
    firsts = np.flatnonzero(new_customer)
    lasts = np.append(firsts[1:], cid.size) - 1
    n_days = lasts - firsts + 1
    first_day, last_day = day[firsts], day[lasts]

    gap_mean = np.full(firsts.size, np.nan)
    repeat = n_days > 1
    gap_mean[repeat] = (last_day[repeat] - first_day[repeat]) / (n_days[repeat] - 1)
    return Summary(
        customer_ids=cid[firsts],
        orders=np.add.reduceat(orders_per_day, firsts),
        purchase_days=n_days,
        first_day=first_day,
        last_day=last_day,
        total=np.add.reduceat(amount, firsts),
        first_amount=amount[firsts],
        gap_median=_gap_medians(day, new_customer, firsts.size),
        gap_mean=gap_mean,
    )


def _gap_medians(day: np.ndarray, new_customer: np.ndarray, n_customers: int) -> np.ndarray:
    """Median gap between consecutive purchase days per customer (NaN without a gap)."""
    medians = np.full(n_customers, np.nan)
    if day.size < 2:
        return medians
    group = np.cumsum(new_customer) - 1  # the customer's position, per day row
    is_gap = ~new_customer[1:]  # a gap joins a day to the previous day of the same customer
    gaps = (day[1:] - day[:-1])[is_gap].astype(np.float64)
    gap_group = group[1:][is_gap]
    if gaps.size == 0:
        return medians
    order = np.lexsort((gaps, gap_group))  # by customer, then gap size
    gaps, gap_group = gaps[order], gap_group[order]
    owners, starts, counts = np.unique(gap_group, return_index=True, return_counts=True)
    low = gaps[starts + (counts - 1) // 2]
    high = gaps[starts + counts // 2]
    medians[owners] = (low + high) / 2
    return medians
