"""Counted orders as numpy columns: what the recompute from orders and the CLV fit read."""

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from django.conf import settings
from django.db import connection

from core.db.column_reader import EPOCH_DAY as EPOCH
from core.db.column_reader import Field, read_columns
from customers.models import Order


def day_number(day: date) -> int:
    return (day - EPOCH).days


@dataclass(frozen=True)
class OrderRows:
    customer_ids: np.ndarray  # int64
    days: np.ndarray  # int64 day numbers in the CRM's time zone
    cents: np.ndarray  # int64 net amount in base-currency cents
    placed_us: np.ndarray  # int64 microseconds since 1970-01-01 UTC

    @property
    def amounts(self) -> np.ndarray:
        return self.cents / 100.0


def fetch_order_days(where: str, params: list, before: datetime, *, times: bool = True) -> OrderRows:
    """Counted orders (not cancelled or refunded) placed before ``before`` whose
    ``o.customer_id`` matches ``where``: the day in the CRM's time zone, the amount in base
    currency net of refunds (never below 0) and, with ``times``, the time placed (else 0).
    A day that cannot be worked out (a time SQLite's functions cannot parse) reads as
    ``NO_DAY``, before any real one."""
    day, day_params = placed_day(missing=NO_DAY)
    fields = [
        Field("customer", "o.customer_id"),
        day,
        Field("cents", f"ROUND({_greatest()}(o.total_base - o.refunded_base, 0) * 100)"),
    ]
    if times:
        fields.append(Field("placed", "o.placed_at", "micros"))
    columns = read_columns(
        fields,
        f"FROM {Order._meta.db_table} o WHERE {where} AND {counted_sql()} AND o.placed_at < %s",
        # The bound through the backend's adapter: on SQLite, naive UTC text as the column holds
        # it (an aware time in another zone would compare as text).
        [*day_params, *params, connection.ops.adapt_datetimefield_value(before)],
    )
    placed = columns["placed"] if times else np.zeros_like(columns["customer"])
    return OrderRows(columns["customer"], columns["day"], columns["cents"], placed)


NO_DAY = -(2**31)


def counted_sql(alias: str = "o") -> str:
    """``Order.objects.counted()`` in raw SQL, for orders aliased ``alias``."""
    excluded = ", ".join(f"'{status}'" for status in Order.NOT_COUNTED)
    return f"{alias}.status NOT IN ({excluded})"


def placed_day(*, missing: int = 0) -> tuple[Field, tuple]:
    """``o.placed_at`` as the day it falls on in the CRM's time zone (``core.days``), a
    ``day`` column for ``read_columns``, with the parameters its SQL takes (they come before
    the query's own). Every raw read of orders by day goes through this one expression, so
    they all cut days where ``core.days.local_day`` does. ``missing``: what a time SQLite's
    functions cannot parse reads as."""
    local_date, params = connection.ops.datetime_cast_date_sql("o.placed_at", (), settings.TIME_ZONE)
    if connection.vendor == "postgresql":
        return Field("day", local_date, "day"), params
    return Field("day", f"CAST(julianday({local_date}) - 2440587.5 AS INTEGER)", missing=missing), params


def _greatest() -> str:
    return "GREATEST" if connection.vendor == "postgresql" else "MAX"
