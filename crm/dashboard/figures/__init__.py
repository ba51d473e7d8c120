"""Every KPI of the dashboard for a period and a shop, read from the rollups (a dozen
queries, none over the source tables): ``dashboard_figures``."""

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.utils import timezone

from crm.dashboard import days as d
from crm.dashboard.figures.base import Chart, Figure, Period
from crm.dashboard.figures.clv import Clv, clv
from crm.dashboard.figures.customers import CohortRow, Customers, cohorts, customers
from crm.dashboard.figures.loyalty import Loyalty, loyalty
from crm.dashboard.figures.sales import Sales, sales
from crm.dashboard.figures.stages import Stages, stages
from crm.dashboard.figures.support import Support, support
from customers.models import Shop

__all__ = ["Dashboard", "Figure", "Period", "dashboard_figures"]


@dataclass(frozen=True)
class Dashboard:
    period: Period
    shop: Shop | None
    today: date
    refreshed_at: datetime | None
    sales: Sales
    customers: Customers
    cohorts: list[CohortRow]
    stages: Stages
    clv: Clv
    support: Support
    loyalty: Loyalty

    @property
    def base_currency(self) -> str:
        return settings.BASE_CURRENCY

    @property
    def charts(self) -> dict[str, dict]:
        """Every chart's data, for the page's ``json_script`` block."""
        charts: list[Chart | None] = [
            self.sales.chart,
            self.customers.chart,
            self.stages.chart,
            self.clv.chart,
            self.clv.holdout_chart,
            self.loyalty.chart,
        ]
        return {chart.id: chart.as_json() for chart in charts if chart is not None}


def dashboard_figures(period: Period, *, refreshed_at: datetime | None, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    today = d.today(now)
    shop = Shop.objects.filter(pk=period.shop_id).first() if period.shop_id is not None else None
    return Dashboard(
        period=period,
        shop=shop,
        today=today,
        refreshed_at=refreshed_at,
        sales=sales(period),
        customers=customers(period, today=today),
        cohorts=cohorts(period, today=today),
        stages=stages(period),
        clv=clv(period, now=now),
        support=support(period),
        loyalty=loyalty(period, group_id=shop.group_id if shop else None),
    )
