"""The distribution of predicted CLV (``ClvBand``) and the health of the CLV model in use
(what the fit stored on ``customers.ClvModel``: its status, sample and holdout check)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from crm.dashboard import links
from crm.dashboard.figures.base import MIN_ANSWERS, Chart, Figure, Period, money, too_few
from crm.dashboard.models import ClvBand
from customers.models import ClvModel

STALE_AFTER = timedelta(days=2)  # the model is refitted nightly


@dataclass(frozen=True)
class Band:
    low: Decimal | None
    high: Decimal | None
    customers: int
    link: str

    @property
    def label(self) -> str:
        if self.low is None:
            return "no prediction"
        if self.high is None:
            return f"{self.low:,.0f} and more"
        return f"{self.low:,.0f} – {self.high:,.0f}"


@dataclass(frozen=True)
class Clv:
    bands: list[Band]
    unpredicted: Band | None
    total: Figure
    health: Figure
    model: ClvModel | None
    chart: Chart
    holdout_chart: Chart | None

    @property
    def tiles(self) -> list[Figure]:
        return [self.total, self.health]


def clv(period: Period, *, now: datetime | None = None) -> Clv:
    """The bands as of the last refresh (one read) and the model (two reads)."""
    base = settings.BASE_CURRENCY
    rows = ClvBand.objects.all()
    if period.shop_id is not None:
        rows = rows.filter(shop_id=period.shop_id)
    merged: dict = {}
    total = Decimal(0)
    for r in rows:
        merged[(r.low, r.high)] = merged.get((r.low, r.high), 0) + r.customers
        total += r.total
    bands = sorted(
        (Band(low, high, n, links.clv_band(low, high, period.shop_id)) for (low, high), n in merged.items()),
        key=lambda b: (b.low is not None, b.low or 0),
    )
    unpredicted = bands.pop(0) if bands and bands[0].low is None else None
    predicted = sum(b.customers for b in bands)
    model = ClvModel.current()
    latest = ClvModel.objects.filter(shop=None).first()
    return Clv(
        bands=bands,
        unpredicted=unpredicted,
        total=money(
            "clv_total",
            "Predicted value of the next 12 months",
            total,
            base,
            "The sum of every customer's predicted 12-month CLV (BG/NBD for how often they will buy, "
            "Gamma-Gamma for how much; docs/metrics.md), as the model stands today, whatever the "
            "period. With a shop chosen: the customers that shop first saw.",
            link=links.clv_band(Decimal(0), None, period.shop_id),
            detail=f"over {predicted:,} customers with a prediction",
        ),
        health=_health(model, latest, now or timezone.now()),
        model=model,
        chart=Chart(
            "clv",
            "bar",
            [b.label for b in bands],
            [{"label": "customers", "data": [b.customers for b in bands], "links": [b.link for b in bands]}],
            y_title="customers",
            extra={"xTitle": f"predicted 12-month CLV ({base})"},
        ),
        holdout_chart=_holdout_chart(model),
    )


def _health(model: ClvModel | None, latest: ClvModel | None, now: datetime) -> Figure:
    how = (
        "The model is checked on data it did not see: fitted again on the orders before the last "
        "days held out, it predicts how many purchases its customers make in those days, compared "
        "with how many they made. The error is (predicted − actual) / actual."
    )
    label = ("clv_health", "CLV model: holdout error")
    link = reverse("admin:customers_clvmodel_change", args=[model.pk]) if model else ""
    if model is None:
        why = latest.message if latest else "no fit has run yet (manage.py clv_fit, or nightly)."
        return Figure(*label, None, "%", how, thin=f"No CLV model in use: {why}")
    holdout = model.holdout or {}
    notes = [
        f"fitted {model.fitted_at:%d %b %Y} on {model.n_customers:,} customers, {model.n_repeat_buyers:,} repeat buyers"
    ]
    if now - model.fitted_at > STALE_AFTER:
        notes.append("older than two days: the nightly refit has not succeeded since")
    if latest and latest.pk != model.pk:
        notes.append(f"the latest fit did not replace it ({latest.get_status_display().lower()}: {latest.message})")
    if "error" in holdout or not holdout:
        thin = holdout.get("error", "This model has no holdout check.")
        return Figure(*label, None, "%", how, link=link, detail="; ".join(notes), thin=thin)
    actual, predicted = holdout["actual_total"], holdout["predicted_total"]
    error = round(100 * (predicted - actual) / actual, 1) if actual else None
    days = holdout["holdout_days"]
    way = "over-predicts" if predicted > actual else "under-predicts"
    notes.insert(0, f"{way}: {predicted:,.0f} purchases predicted in the {days} days held out, {actual:,} made")
    thin = too_few(actual, MIN_ANSWERS, "purchases in the holdout")
    return Figure(*label, error, "%", how, link=link, detail="; ".join(notes), thin=thin, decimals=1)


def _holdout_chart(model: ClvModel | None) -> Chart | None:
    buckets = (model.holdout or {}).get("buckets") if model else None
    if not buckets:
        return None
    return Chart(
        "holdout",
        "bar",
        [b["frequency"] for b in buckets],
        [
            {"label": "predicted", "data": [round(b["predicted"], 3) for b in buckets]},
            {"label": "actual", "data": [round(b["actual"], 3) for b in buckets]},
        ],
        y_title="purchases per customer",
        extra={"xTitle": "repeat purchases before the holdout"},
    )
