"""The dashboard page: who may open it, what bad filters get, its query budget and cache,
and that each number leads to exactly the customers (or rows) it counts."""

import json
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import roles
from crm.dashboard import days as d
from crm.dashboard.figures import Period, dashboard_figures
from crm.dashboard.models import RollupState
from crm.dashboard.refresh import dashboard_rebuild, dashboard_refresh
from crm.tests import dashboard_data as data
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory
from tests.page_text import text_of, texts_of

pytestmark = pytest.mark.django_db

URL = reverse("admin:dashboard")
MARCH = {"start": "2025-03-01", "end": "2025-03-31"}


def staff(django_user_model, name: str, role: str | None = None, **flags):
    user = django_user_model.objects.create_user(name, password="pw", is_staff=True, **flags)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def history(settings, django_user_model):
    settings.TIME_ZONE = data.TIME_ZONE
    history = data.build(staff(django_user_model, "boss"))
    dashboard_rebuild()
    cache.clear()
    return history


@pytest.fixture
def manager(client, django_user_model):
    client.force_login(staff(django_user_model, "manager", roles.MANAGER))
    return client


def test_only_managers_and_superusers_see_it(client, django_user_model, history):
    assert URL == "/admin/dashboard/"
    assert client.get(URL).status_code == 302  # to the sign-in page
    for name, role in (("agent", roles.SUPPORT_AGENT), ("marketer", roles.MARKETER), ("clerk", None)):
        client.force_login(staff(django_user_model, name, role))
        assert client.get(URL).status_code == 403, name
    for user in (
        staff(django_user_model, "manager", roles.MANAGER),
        staff(django_user_model, "root", is_superuser=True),
    ):
        client.force_login(user)
        assert client.get(URL).status_code == 200


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"start": "2025-03-31", "end": "2025-03-01"}, "The period starts after it ends."),
        ({"start": "2015-01-01", "end": "2025-03-01"}, "Choose at most five years."),
        ({"end": "2999-01-01"}, "Choose a day up to today"),
        ({"shop": "99999999999999999999"}, "Select a valid choice."),
        ({"start": "2025-02-30"}, "Enter a valid date."),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "Choose a day from 01 Jan 1970 on."),
        ({"start": "1969-12-31", "end": "1970-01-02"}, "Choose a day from 01 Jan 1970 on."),
    ],
)
def test_bad_filters_are_named_never_a_500(manager, history, params, message):
    response = manager.get(URL, params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_page_shows_every_figure_and_chart_under_the_csp(manager, history):
    response = manager.get(URL, {**MARCH, "shop": history.web.pk})
    html = response.content.decode()
    assert response.status_code == 200
    for key in ("revenue", "orders", "aov", "buyers", "new_customers", "repeat_rate", "retention", "churn", "nps"):
        assert f'data-kpi="{key}"' in html
    charts = json.loads(re.search(r'<script id="dashboard-charts" type="application/json">(.*?)</script>', html)[1])
    assert set(charts) == {"sales", "customers", "stages", "clv", "holdout", "points"}
    assert set(re.findall(r'data-chart="(\w+)"', html)) == set(charts)
    scripts = re.findall(r"<script[^>]*>", html)
    assert all("src=" in tag or 'type="application/json"' in tag for tag in scripts), scripts  # nothing inline
    assert "Too few to say" in html  # the thin figures say so


def test_a_cold_page_reads_the_rollups_in_a_fixed_number_of_queries_and_a_warm_one_none(manager, history):
    """Cold: the admin's own queries (session, user, permissions, the sidebar), the rollups'
    version and the shop list, 13 reads of the rollups and the CLV model, and 4 of the
    attribution's credits (per channel and per email source), spend and new customers,
    whatever the data. Warm: the figures come from the cache."""
    manager.get(URL, MARCH)
    cache.clear()
    with CaptureQueriesContext(connection) as cold:
        manager.get(URL, MARCH)
    with CaptureQueriesContext(connection) as warm:
        manager.get(URL, MARCH)
    assert len(cold) - len(warm) == 17
    assert len(warm) <= 10
    assert not [q for q in warm.captured_queries if "crm_daily" in q["sql"] or "customers_order" in q["sql"]]


def test_a_refresh_of_the_rollups_is_seen_at_once_despite_the_cache(manager, history):
    before = manager.get(URL, MARCH).context["dash"].sales.orders.value
    cat = history.people["cat"]
    cat.orders.filter(placed_at=data.at("2025-03-15 10:00")).update(status="cancelled", updated_at=timezone.now())
    dashboard_refresh()
    assert manager.get(URL, MARCH).context["dash"].sales.orders.value == before - 1


def test_a_restored_database_at_the_same_version_does_not_meet_the_cached_figures(manager, history):
    """A database restored from a backup (or flushed and rebuilt) counts rollup versions from
    where it was; the cache (Redis) outlives it, and must not answer with the other's figures."""
    before = manager.get(URL, MARCH).context["dash"].sales.orders.value
    version = RollupState.objects.get(pk=1).version
    cat = history.people["cat"]
    cat.orders.filter(placed_at=data.at("2025-03-15 10:00")).update(status="cancelled", updated_at=timezone.now())
    dashboard_rebuild()
    RollupState.objects.filter(pk=1).update(version=version)  # the restored database's counter
    assert manager.get(URL, MARCH).context["dash"].sales.orders.value == before - 1


def test_before_the_first_build_the_page_says_so(manager, settings):
    response = manager.get(URL)
    assert response.status_code == 200
    assert "have not been computed yet" in response.content.decode()


def count(client, link: str) -> int:
    """How many rows the admin list a link opens shows."""
    url = urlsplit(link)
    response = client.get(url.path, dict(parse_qsl(url.query, keep_blank_values=True)))
    assert response.status_code == 200, link
    assert "e" not in response.wsgi_request.GET, link  # not refused as a bad filter
    return response.context["cl"].result_count


@pytest.mark.parametrize("shop", [None, "web"])
def test_each_number_leads_to_exactly_the_customers_or_rows_it_counts(manager, history, shop):
    shop_id = getattr(history, shop).pk if shop else None
    dash = dashboard_figures(Period(data.FIRST, data.LAST, shop_id), refreshed_at=None)
    customers = dash.customers
    for figure in (customers.buyers, customers.new, customers.returning):
        assert count(manager, figure.link) == figure.value, figure.key
    assert count(manager, customers.repeat.link) == int(customers.repeat.detail.split()[0])
    assert count(manager, customers.retention.link) == int(customers.retention.detail.split()[0])
    assert count(manager, customers.churn.link) == int(customers.churn.detail.split()[0])
    assert count(manager, dash.sales.orders.link) == dash.sales.orders.value
    by_hand = {o.customer_id for o in data.Order.objects.counted() if shop_id in (None, o.shop_id)}
    assert count(manager, dash.sales.revenue.link) <= len(by_hand)
    for row in dash.cohorts:
        for cell in row.cells:
            assert count(manager, cell["link"]) == cell["customers"], (row.cohort, cell["k"])
    for flow in dash.stages.flows:
        assert count(manager, flow.link) == flow.customers, (flow.from_label, flow.to_label)
    for band in [*dash.clv.bands, dash.clv.unpredicted]:
        assert count(manager, band.link) == band.customers, band.label
    support = dash.support
    assert count(manager, support.nps.link) == sum(int(n) for n in re.findall(r"\d+", support.nps.detail))
    assert count(manager, support.csat.link) == int(support.csat.detail.split()[2])
    assert count(manager, support.first_response_met.link) == int(support.first_response_met.detail.split()[2])
    assert count(manager, support.resolution_median.link) == int(support.resolution_median.detail.split()[1])


def test_the_stage_counts_of_today_lead_to_the_customers_in_each_stage(manager, history):
    today = d.today()
    stages = dashboard_figures(Period(today - timedelta(days=29), today), refreshed_at=None).stages
    assert stages.total == 9
    for row in stages.rows:
        assert count(manager, row.link) == row.at_end, row.stage


def test_a_period_that_begins_before_stages_were_recorded_says_so(manager, history):
    today = d.today()
    first = dashboard_figures(Period(today - timedelta(days=1400), today), refreshed_at=None).stages.history_starts
    assert first is not None
    start = first - timedelta(days=10)
    stages = dashboard_figures(Period(start, today), refreshed_at=None).stages
    assert stages.history_after_start
    html = manager.get(URL, {"start": start.isoformat(), "end": today.isoformat()}).text
    assert f"Stages were first recorded on {first.day} " in html
    # The counts at the start are not known, so not zeros, and the change is not a figure.
    assert all(row.at_start is None and row.change == "—" for row in stages.rows)
    assert [series["label"] for series in stages.chart.datasets] == [f"{today:%d %b %Y} (end)"]
    stage_table = html.split('id="stages"')[1].split("</table>")[0]
    assert stage_table.count("not recorded yet") == len(stages.rows)

    later = first + timedelta(days=1)
    known = dashboard_figures(Period(later, max(later, today)), refreshed_at=None).stages
    assert not known.history_after_start and all(row.at_start is not None for row in known.rows)


def test_a_one_day_period_reads_in_the_singular(manager, history):
    today = d.today().isoformat()
    html = manager.get(URL, {"start": today, "end": today}).text
    assert "(1 day)" in html and "(1 days)" not in html
    assert "previous 1 days" not in html


def test_without_filters_the_boxes_show_the_period_the_page_shows(manager, history):
    today = d.today()
    html = manager.get(URL).text
    assert f'value="{today - timedelta(days=29)}"' in html and f'value="{today}"' in html


def tile(page, label: str) -> str:
    """What a tile reads after its label."""
    return next(text for text in texts_of(page, ".kpi") if text.startswith(f"{label} "))[len(label) + 1 :]


def test_money_reads_in_each_currencys_own_minor_unit(manager, settings):
    """With the yen as the base currency, the yen shop's figures have no cents (rounded half
    up, as every money figure of the CRM), and the euro order keeps its cents and names its
    currency: the tiles and the table by currency read as the money filter writes money."""
    settings.BASE_CURRENCY = "JPY"
    jp, eu = ShopFactory(slug="jp", name="Tokyo"), ShopFactory(slug="eu", name="Berlin")
    aki, eva = CustomerFactory(first_seen_shop=jp), CustomerFactory(first_seen_shop=eu)
    for customer, shop, total, currency, base in (
        (aki, jp, "12300", "JPY", "12300"),
        (aki, jp, "4501", "JPY", "4501"),
        (eva, eu, "80.00", "EUR", "13040.50"),
    ):
        OrderFactory(
            customer=customer,
            shop=shop,
            placed_at=data.at("2025-03-10 12:00"),
            total=Decimal(total),
            currency=currency,
            total_base=Decimal(base),
        )
    dashboard_rebuild()
    cache.clear()

    page = manager.get(URL, MARCH)

    assert tile(page, "Net revenue").startswith("29,842 JPY ")  # 29,841.50 JPY, half up
    assert text_of(page, "#by-currency") == (
        "By the orders' own currency (never added across currencies) "
        "Currency Orders Net revenue Average order "
        "EUR 1 80.00 EUR 80.00 EUR "
        "JPY 2 16,801 JPY 8,401 JPY"
    )
    assert ".00 JPY" not in page.content.decode()


def test_the_points_tiles_say_points_and_the_liability_says_money(manager, history):
    page = manager.get(URL, MARCH)
    assert tile(page, "Pending points").startswith("50 points worth 0.50 USD at 0.01 USD, as of ")
    assert tile(page, "Points liability").startswith("2.65 USD 265 spendable points at 0.01 USD, as of ")
    assert tile(page, "Points issued").startswith("350 points ")


def test_the_marketing_figures_follow_the_attribution_model_chosen(manager, history):
    for model in ("last_click", "linear", "position"):
        page = manager.get(URL, {**MARCH, "model": model})
        assert page.status_code == 200 and page.context["marketing"].model == model
        assert 'id="marketing-figures"' in page.content.decode()
    assert manager.get(URL, MARCH).context["marketing"].model == "last_click"  # the default
    bad = manager.get(URL, {**MARCH, "model": "opens"})
    assert bad.status_code == 400 and "model" in bad.context["form"].errors


def test_the_marketing_section_splits_email_revenue_and_shows_each_channels_roas(manager, history):
    from campaigns.attribution.passes import attribution_run
    from campaigns.attribution.spend import spend_import

    spend_import(text="channel,month,amount,currency\ngoogle,2025-03,100.00,USD\n")
    attribution_run()
    page = manager.get(URL, {**MARCH, "model": "linear"})
    figures = page.context["marketing"]
    assert text_of(page, "#marketing-campaigns") == f"{figures.campaigns:.2f} USD"
    assert text_of(page, "#marketing-flows") == f"{figures.flows:.2f} USD"
    google = next(c for c in figures.channels if c.channel == "google")
    assert google.spend == Decimal("100.00")
    assert f"google {google.attributed:,.2f} USD 100.00 USD {google.attributed / 100:.2f}" in text_of(
        page, "#marketing-channels"
    )
    assert "within 120 h of a click or 24 h of an open" in page.content.decode()


def test_with_a_shop_chosen_the_marketing_section_follows_it_and_leaves_spend_out(manager, history):
    from campaigns.attribution.passes import attribution_run
    from campaigns.attribution.spend import spend_import
    from customers.models import Customer

    spend_import(text="channel,month,amount,currency\ngoogle,2025-03,100.00,USD\n")
    attribution_run()
    march = timezone.now().replace(year=2025, month=3, day=10)
    for name, shop in (("ann", history.web), ("bob", history.web), ("cat", history.eu)):
        Customer.objects.filter(pk=history.people[name].pk).update(first_order_at=march, first_seen_shop=shop)
    everyone = manager.get(URL, MARCH).context["marketing"]
    page = manager.get(URL, {**MARCH, "shop": history.eu.pk})
    eu = page.context["marketing"]
    assert (everyone.spend, everyone.new_customers, everyone.cac) == (Decimal("100.00"), 3, Decimal("33.33"))
    assert (eu.spend, eu.new_customers, eu.cac, eu.roas) == (None, 1, None, None)
    assert text_of(page, "#marketing-spend") == "— (all shops only)"
    assert all(c.spend is None for c in eu.channels)
