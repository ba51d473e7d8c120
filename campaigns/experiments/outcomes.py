"""What each arm of an email did after it was drawn: conversions and revenue per customer.

A holdout gets no message, so it has no touch to credit an order to. The fair comparison is
the one a randomised test allows: every customer drawn into an arm, holdout included, and
the counted orders they placed at the email's shop within the conversion window after the
draw (``AttributionSettings.click_window_hours``, 5 days by default). An arm's uplift over
the holdout is then what the email caused, whatever the customer clicked or opened.

One query reads each send's revenue in the window (a correlated sum over the customer's
orders, served by the orders' (customer, placed_at) index); numpy sums it per arm, squares
included, for the statistics (``campaigns.experiments.stats``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import numpy as np
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from campaigns.models import AttributionSettings, Email, Send
from customers.models import Order

MONEY = DecimalField(max_digits=18, decimal_places=2)
ZERO = Value(Decimal(0), output_field=MONEY)


@dataclass(frozen=True)
class Outcome:
    customers: int  # drawn into the arm
    conversions: int  # of them, with net revenue from counted orders in the window
    revenue: float  # net of refunds, base currency, summed over the arm
    revenue_sq: float  # the sum of each customer's revenue squared


def window() -> timedelta:
    return timedelta(hours=AttributionSettings.current().click_window_hours)


def arm_outcomes(email: Email, length: timedelta | None = None) -> dict[int | None, Outcome]:
    """Variant id (None: the holdout) → its outcome, for every send of ``email``, over the
    window ``length`` (the attribution's click window unless given)."""
    length = window() if length is None else length
    net = ExpressionWrapper(F("total_base") - F("refunded_base"), output_field=MONEY)
    orders = (
        Order.objects.counted()
        .filter(
            customer_id=OuterRef("customer_id"),
            shop_id=email.shop_id,
            placed_at__gte=OuterRef("assigned_at"),
            placed_at__lt=OuterRef("window_end"),
        )
        .order_by()
        .values("customer_id")
        .annotate(total=Sum(net))
        .values("total")
    )
    sends = (
        Send.objects.filter(email=email)
        .annotate(window_end=F("assigned_at") + Value(length))
        .annotate(revenue=Coalesce(Subquery(orders), ZERO))
        .values_list("variant_id", "revenue")
    )
    rows = list(sends)
    if not rows:
        return {}
    variant = np.array([-1 if v is None else v for v, _ in rows], dtype=np.int64)
    revenue = np.array([float(r) for _, r in rows], dtype=np.float64)
    out: dict[int | None, Outcome] = {}
    for key in np.unique(variant).tolist():
        arm = revenue[variant == key]
        out[None if key == -1 else key] = Outcome(
            customers=len(arm),
            conversions=int((arm > 0).sum()),
            revenue=float(arm.sum()),
            revenue_sq=float((arm * arm).sum()),
        )
    return out
