"""Reads for the dashboard and the reports: attributed revenue per model, spend, CAC, ROAS
and CLV:CAC for a period (four queries, over the credits' and spend's indexes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from campaigns.models import AttributionCredit, MarketingSpend
from customers.models import Customer

ZERO = Decimal("0.00")
# Sources the CRM's own email earned: campaign and flow emails' keys, and orders carrying
# the CRM's UTM (utm_source=crm).
EMAIL = Q(channel="email") | Q(channel="crm")


@dataclass(frozen=True)
class MarketingFigures:
    model: str
    attributed: Decimal  # every touch's credit
    email: Decimal  # the CRM's campaigns and flows
    spend: Decimal
    new_customers: int
    avg_clv: float | None

    @property
    def cac(self) -> Decimal | None:
        return (self.spend / self.new_customers).quantize(Decimal("0.01")) if self.new_customers else None

    @property
    def roas(self) -> float | None:
        return float(self.attributed / self.spend) if self.spend else None

    @property
    def clv_cac(self) -> float | None:
        cac = self.cac
        return self.avg_clv / float(cac) if cac and self.avg_clv is not None else None


def marketing_figures(*, first: date, last: date, model: str) -> MarketingFigures:
    """Figures of the days ``first`` … ``last`` (inclusive). Spend is monthly: the months the
    period touches count whole. New customers are those whose first order is in the period."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    credits = AttributionCredit.objects.filter(model=model, placed_at__gte=start, placed_at__lt=end).aggregate(
        total=Sum("amount"), email=Sum("amount", filter=EMAIL)
    )
    spend = MarketingSpend.objects.filter(month__gte=first.replace(day=1), month__lte=last).aggregate(
        total=Sum("amount_base")
    )["total"]
    new = Customer.objects.filter(first_order_at__gte=start, first_order_at__lt=end).aggregate(
        n=Count("id"), clv=Avg("metrics__clv_predicted")
    )
    return MarketingFigures(
        model=model,
        attributed=Decimal(credits["total"] or ZERO).quantize(ZERO),
        email=Decimal(credits["email"] or ZERO).quantize(ZERO),
        spend=Decimal(spend or ZERO),
        new_customers=new["n"],
        avg_clv=new["clv"],
    )
