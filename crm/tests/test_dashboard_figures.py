"""The dashboard's figures are right: on a small hand-made history, each KPI is worked out
here from the raw rows, in plain Python, and compared with what the dashboard reads from
its rollups (on SQLite and on PostgreSQL). The literal numbers were worked out by hand
from ``dashboard_data`` too, so a shared mistake in both ways of counting still shows."""

import statistics
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from crm.dashboard.figures import Period, dashboard_figures
from crm.dashboard.refresh import dashboard_rebuild
from crm.dashboard.rollups.clv import EDGES
from crm.tests import dashboard_data as data
from customers.models import CustomerMetrics, Order, StageChange
from loyalty.models import Account, PointsEntry
from support.models import CsatResponse, NpsResponse, Ticket

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo(data.TIME_ZONE)
PERIOD = Period(data.FIRST, data.LAST)
PREVIOUS = (date(2025, 1, 29), date(2025, 2, 28))


@pytest.fixture
def history(settings, django_user_model):
    settings.TIME_ZONE = data.TIME_ZONE
    history = data.build(django_user_model.objects.create_user("boss", is_staff=True))
    dashboard_rebuild()
    return history


def day(moment) -> date:
    return moment.astimezone(ZONE).date()


def counted_orders(shop=None):
    return [o for o in Order.objects.all() if o.status not in Order.NOT_COUNTED and shop in (None, o.shop_id)]


def bought(first, last, home=None) -> set[int]:
    return {
        o.customer_id
        for o in counted_orders()
        if first <= day(o.placed_at) <= last and home in (None, o.customer.first_seen_shop_id)
    }


def first_days() -> dict[int, date]:
    firsts: dict[int, date] = {}
    for o in counted_orders():
        firsts[o.customer_id] = min(firsts.get(o.customer_id, date.max), day(o.placed_at))
    return firsts


@pytest.mark.parametrize("shop", [None, "web"])
def test_revenue_orders_and_average_order_value(history, shop):
    shop_id = getattr(history, shop).pk if shop else None
    dash = dashboard_figures(Period(data.FIRST, data.LAST, shop_id), refreshed_at=None)
    orders = [o for o in counted_orders(shop_id) if data.FIRST <= day(o.placed_at) <= data.LAST]
    revenue = sum((o.total_base - o.refunded_base for o in orders), Decimal(0))

    assert dash.sales.orders.value == len(orders) == (9 if shop is None else 8)
    assert dash.sales.revenue.value == revenue == (Decimal("300.00") if shop is None else Decimal("212.00"))
    assert dash.sales.aov.value == (revenue / len(orders)).quantize(Decimal("0.01"))
    assert dash.sales.aov.thin  # 9 orders: too few to compare averages
    by_currency = {}
    for o in orders:
        n, total = by_currency.get(o.currency, (0, Decimal(0)))
        by_currency[o.currency] = (n + 1, total + o.total - sum(r.amount for r in o.refunds.all()))
    assert {r.currency: (r.orders, r.revenue) for r in dash.sales.by_currency} == by_currency
    if shop is None:
        assert by_currency == {"USD": (8, Decimal("212.00")), "EUR": (1, Decimal("80.00"))}
        before = [o for o in counted_orders() if PREVIOUS[0] <= day(o.placed_at) <= PREVIOUS[1]]
        assert sum(o.total_base for o in before) == Decimal("161.00")
        assert dash.sales.revenue.detail == f"{100 * (300 - 161) / 161:+.1f} % on the previous 31 days"
        # The chart's bars add up to the figure, day by day.
        assert sum(dash.sales.chart.datasets[0]["data"]) == pytest.approx(300.0)
        assert len(dash.sales.chart.labels) == 31


@pytest.mark.parametrize("shop", [None, "web"])
def test_new_returning_repeat_retention_and_churn(history, shop):
    home = getattr(history, shop).pk if shop else None
    dash = dashboard_figures(Period(data.FIRST, data.LAST, home), refreshed_at=None).customers
    buyers = bought(data.FIRST, data.LAST, home)
    firsts = first_days()
    new = {c for c in buyers if data.FIRST <= firsts[c] <= data.LAST}
    before = bought(*PREVIOUS, home)
    days_of = {c: {day(o.placed_at) for o in counted_orders() if o.customer_id == c} for c in new}
    repeaters = {c for c in new if any(d > firsts[c] for d in days_of[c])}

    assert dash.buyers.value == len(buyers) == (7 if shop is None else 4)
    assert dash.new.value == len(new) == (4 if shop is None else 2)
    assert dash.returning.value == len(buyers - new)
    assert dash.repeat.value == round(100 * len(repeaters) / len(new), 1) == 50.0
    assert dash.retention.value == round(100 * len(before & buyers) / len(before), 1)
    assert dash.churn.value == round(100 - dash.retention.value, 1)
    assert (dash.retention.value, dash.churn.value) == ((66.7, 33.3) if shop is None else (100.0, 0.0))
    assert all(f.thin for f in (dash.repeat, dash.retention, dash.churn))  # a handful of customers
    assert sum(dash.chart.datasets[0]["data"]) == len(new)


def test_the_cohort_heatmap(history):
    cohorts = dashboard_figures(PERIOD, refreshed_at=None).cohorts
    firsts = {c: d.replace(day=1) for c, d in first_days().items()}
    by_hand = Counter()
    for o in counted_orders():
        by_hand[(firsts[o.customer_id], day(o.placed_at).replace(day=1), o.customer_id)] = 1
    cells = Counter()
    for cohort, month, _ in by_hand:
        cells[(cohort, month)] += 1

    assert cohorts[0].cohort == date(2024, 4, 1) and cohorts[-1].cohort == date(2025, 3, 1)
    shown = {(row.cohort, cell["k"]): cell["customers"] for row in cohorts for cell in row.cells if cell["customers"]}
    expected = {}
    for (cohort, month), n in cells.items():
        k = (month.year - cohort.year) * 12 + month.month - cohort.month
        if cohort >= date(2024, 4, 1) and month <= date(2025, 3, 1):
            expected[(cohort, k)] = n
    assert shown == expected
    march = cohorts[-1]
    assert (march.size, march.cells[0]["customers"], march.cells[0]["percent"]) == (4, 4, 100.0)
    assert march.thin and "4 customers (20 needed)" in march.thin


def test_stages_at_both_ends_and_the_flows_between(history):
    stages = dashboard_figures(PERIOD, refreshed_at=None).stages
    changes = sorted(StageChange.objects.all(), key=lambda c: c.changed_at)

    def population(until: date) -> Counter:
        latest = {c.customer_id: c.to_stage for c in changes if day(c.changed_at) <= until}
        return Counter(latest.values())

    start, end = population(data.FIRST - timedelta(days=1)), population(data.LAST)
    assert {r.stage: r.at_start for r in stages.rows if r.at_start} == dict(start) == {"new": 3, "at_risk": 1}
    assert {r.stage: r.at_end for r in stages.rows if r.at_end} == dict(end)
    assert dict(end) == {"new": 5, "active": 2, "at_risk": 1, "prospect": 1}
    moves = Counter(
        (c.get_from_stage_display() or "first assessment", c.get_to_stage_display())
        for c in changes
        if data.FIRST <= day(c.changed_at) <= data.LAST
    )
    assert {(f.from_label, f.to_label): f.customers for f in stages.flows} == dict(moves)
    assert stages.flows[0].customers == 4  # first assessment → New, the largest


def test_the_clv_distribution_and_the_models_health(history):
    clv = dashboard_figures(PERIOD, refreshed_at=None).clv
    values = [m.clv_predicted for m in CustomerMetrics.objects.all()]
    edges = [float(e) for e in EDGES]
    by_hand = Counter()
    for value in values:
        if value is not None:
            by_hand[max(i for i, e in enumerate(edges) if value >= e)] += 1
    shown = {EDGES.index(b.low): b.customers for b in clv.bands}
    assert shown == dict(by_hand) == {0: 2, 1: 1, 2: 1, 4: 1, 5: 1, 8: 1}
    assert clv.unpredicted.customers == sum(v is None for v in values) == 2
    assert clv.total.value == Decimal(str(sum(v for v in values if v is not None))) == Decimal("3427.50")
    assert clv.health.value == 5.0 and not clv.health.thin  # predicted 105 purchases, 100 made


@pytest.mark.parametrize("shop", [None, "web"])
def test_nps_csat_and_sla_compliance(history, shop):
    shop_id = getattr(history, shop).pk if shop else None
    support = dashboard_figures(Period(data.FIRST, data.LAST, shop_id), refreshed_at=None).support
    in_period = lambda moment: data.FIRST <= day(moment) <= data.LAST  # noqa: E731
    scores = [r.score for r in NpsResponse.objects.all() if in_period(r.created_at) and shop_id in (None, r.shop_id)]
    promoters, detractors = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
    assert support.nps.value == round(100 * (promoters - detractors) / len(scores)) == (41 if shop is None else 44)
    assert not support.nps.thin  # 34 answers (32 in the web shop)
    ratings = [r.rating for r in CsatResponse.objects.all() if in_period(r.created_at)]
    assert support.csat.value == round(100 * sum(r >= 4 for r in ratings) / len(ratings), 1) == 60.0
    assert support.csat.thin  # 5 ratings

    tickets = [t for t in Ticket.objects.filter(merged_into=None) if shop_id in (None, t.shop_id)]
    for at, met, share, median in (
        ("first_responded_at", "first_response_met", support.first_response_met, support.first_response_median),
        ("solved_at", "resolution_met", support.resolution_met, support.resolution_median),
    ):
        answered = [t for t in tickets if getattr(t, at) and in_period(getattr(t, at))]
        measured = [getattr(t, met) for t in answered if getattr(t, met) is not None]
        assert share.value == round(100 * sum(measured) / len(measured), 1)
        minutes = [(getattr(t, at) - t.created_at).total_seconds() // 60 for t in answered]
        assert median.value == round(statistics.median(minutes) / 60, 1)
    if shop is None:
        assert support.first_response_met.value == 66.7  # 2 of 3 with a target (the CSAT tickets have none)
        assert support.resolution_median.value == 2.0


def test_points_and_the_liability(history):
    loyalty = dashboard_figures(PERIOD, refreshed_at=None).loyalty
    entries = [e for e in PointsEntry.objects.all() if data.FIRST <= day(e.created_at) <= data.LAST]

    def moved(*kinds) -> int:
        return abs(sum(e.available + e.pending for e in entries if e.kind in kinds))

    shown = {f.key: f.value for f in loyalty.figures}
    assert shown == {
        "issued": moved("earn"),
        "redeemed": moved("redeem"),
        "expired": moved("expire"),
        "reversed": moved("cancel", "reverse"),
    }
    assert shown == {"issued": 350, "redeemed": 30, "expired": 80, "reversed": 40}
    available = sum(a.balance for a in Account.objects.all() if a.balance > 0)
    assert loyalty.liability.value == Decimal(available) * Decimal("0.01") == Decimal("2.65")
    assert loyalty.pending.value == sum(a.pending for a in Account.objects.all()) == 50  # points, not money
    assert (loyalty.pending.unit, loyalty.liability.unit) == ("points", "USD")
    assert loyalty.pending.detail.startswith("worth 0.50 USD at 0.01 USD, as of ")


def test_every_figure_has_a_unit_an_explanation_and_a_link(history):
    dash = dashboard_figures(PERIOD, refreshed_at=None)
    figures = [f for part in (dash.sales, dash.customers, dash.support, dash.clv, dash.loyalty) for f in part.tiles]
    assert len(figures) == 23
    for figure in figures:
        assert figure.unit and len(figure.how) > 40 and figure.link.startswith("/admin/"), figure.key
