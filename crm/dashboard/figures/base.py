"""What every KPI is: a ``Figure`` (a value with its unit, how it is computed, a link to
what is behind it, and whether the data is too thin to say anything), read for a
``Period`` (days and a shop), with its time series in ``Bucket``s (days, weeks or months,
by the period's length)."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from core.figures import amount_text, minor_digits, money_amount
from crm.dashboard import days as d

# Below these, a figure says the data is too thin instead of showing a number.
MIN_ANSWERS = 30  # NPS, CSAT, SLA: answers or tickets measured
MIN_CUSTOMERS = 30  # rates over customers (repeat purchase, retention)
MIN_ORDERS = 30  # the average order value
MIN_COHORT = 20  # a cohort row of the heatmap


@dataclass(frozen=True)
class Period:
    """Days ``first`` … ``last`` (both included) and a shop (None: every shop)."""

    first: date
    last: date
    shop_id: int | None = None

    @property
    def length(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def previous(self) -> "Period":
        """The as many days just before."""
        return Period(self.first - timedelta(days=self.length), self.first - timedelta(days=1), self.shop_id)

    @property
    def grain(self) -> str:
        return "day" if self.length <= 92 else "week" if self.length <= 400 else "month"

    def buckets(self) -> list["Bucket"]:
        """The chart's steps over the period: days, weeks (from Monday) or months."""
        out: list[Bucket] = []
        for day in d.days(self.first, self.last):
            start = bucket_start(day, self.grain)
            if not out or out[-1].start != start:
                out.append(Bucket(start, day, day, self.grain))
            else:
                out[-1] = Bucket(start, out[-1].first, day, self.grain)
        return out


def bucket_start(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return d.month_of(day)
    return day


@dataclass(frozen=True)
class Bucket:
    start: date  # the day, the week's Monday or the month's first day
    first: date  # its first and last day within the period
    last: date
    grain: str

    @property
    def label(self) -> str:
        if self.grain == "month":
            return f"{self.start:%b %Y}"
        if self.grain == "week":
            return f"week of {self.first:%d %b}"
        return f"{self.start:%d %b}"


@dataclass(frozen=True)
class Figure:
    """One KPI as shown: ``value`` in ``unit`` (None when there is nothing to show), with
    ``how`` it is computed, the ``link`` to the customers or rows behind it, a ``detail``
    line (the comparison, the sample), and ``thin``: why the data is too thin to show it."""

    key: str
    label: str
    value: Decimal | float | int | None
    unit: str
    how: str
    link: str = ""
    detail: str = ""
    thin: str = ""
    decimals: int = 0
    currency: str = ""  # a money figure (``money``): shown as the CRM shows money in it

    @property
    def shown(self) -> str:
        if self.currency:
            return amount_text(self.value, minor_digits(self.currency))
        if self.value is None:
            return "—"
        return f"{self.value:,.{self.decimals}f}"


def money(key: str, label: str, amount: Decimal | None, currency: str, how: str, **more) -> Figure:
    """A figure in money: rounded to the currency's minor unit (none for JPY), shown with
    ``core.figures`` as every money figure of the CRM is, the currency as its unit."""
    value = None if amount is None else money_amount(amount, currency)
    return Figure(key, label, value, currency, how, currency=currency, **more)


@dataclass(frozen=True)
class Chart:
    """A chart's data for the page's script (``dashboard.js``): Chart.js's ``type``, the
    x ``labels``, ``datasets`` (label, data, and optionally type, axis, links per point),
    and the axes' titles."""

    id: str
    type: str
    labels: list[str]
    datasets: list[dict]
    y_title: str = ""
    y2_title: str = ""
    stacked: bool = False
    horizontal: bool = False
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "type": self.type,
            "labels": self.labels,
            "datasets": self.datasets,
            "yTitle": self.y_title,
            "y2Title": self.y2_title,
            "stacked": self.stacked,
            "horizontal": self.horizontal,
            **self.extra,
        }


def percent(part: int, whole: int) -> float | None:
    return None if not whole else round(100 * part / whole, 1)


def previous_days(days: int) -> str:
    """ "the previous 30 days", "the previous day"."""
    return "the previous day" if days == 1 else f"the previous {days} days"


def change(now, before, days: int) -> str:
    """ "+12.5 % on the previous 30 days", or why there is no comparison."""
    if before is None or now is None:
        return ""
    if not before:
        return f"none in {previous_days(days)}" if not now else f"nothing in {previous_days(days)}"
    delta = 100 * (float(now) - float(before)) / float(before)
    return f"{delta:+.1f} % on {previous_days(days)}"


def too_few(n: int, minimum: int, what: str) -> str:
    return "" if n >= minimum else f"Too few to say: {n:,} {what} ({minimum} needed)."
