"""The lifecycle in the admin: list columns and filters, the customer page, the model's health."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from customers.models import ClvModel, Customer, CustomerMetrics, LifecycleSettings, StageChange
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, customer_with_orders, fitted_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    regular, lapsed, prospect = customer_with_orders(70, 40, 10), customer_with_orders(500, 420), CustomerFactory()
    customers_recompute(customer_ids=[regular.pk, lapsed.pk, prospect.pk])
    return regular, lapsed, prospect


def test_the_customer_list_filters_by_stage_with_a_fixed_query_count(
    admin_client, customers, django_assert_num_queries
):
    regular, lapsed, _ = customers
    url = reverse("admin:customers_customer_changelist")

    with django_assert_num_queries(10):  # with the lifecycle settings, for what the columns mean
        response = admin_client.get(url, {"stage": "lapsed"})

    assert [c.pk for c in response.context["cl"].result_list] == [lapsed.pk]
    assert "Lapsed" in response.content.decode()
    active = admin_client.get(url, {"stage": "active"})
    assert [c.pk for c in active.context["cl"].result_list] == [regular.pk]


def test_the_customer_page_shows_the_stage_reason_and_the_journey(admin_client, customers):
    regular, _, _ = customers

    page = admin_client.get(reverse("admin:customers_customer_change", args=[regular.pk])).content.decode()

    assert "Active — last order 10 days ago; usually orders every 30 days" in page
    # The journey: one change, from nothing to active, with its reason.
    assert "<td>—</td><td>Active</td><td>last order 10 days ago;" in page


def test_the_model_page_draws_the_holdout_chart(admin_client):
    model = ClvModel.objects.create(
        status=ClvModel.Status.FITTED,
        observation_end=timezone.localdate(),
        time_unit="weeks",
        r=0.24,
        alpha=4.4,
        a=0.79,
        b=2.4,
        bgnbd_log_likelihood=-9582.4,
        p=6.25,
        q=3.74,
        v=15.44,
        holdout={
            "calibration_end": "2026-08-25",
            "holdout_days": 90,
            "predicted_total": 120.0,
            "actual_total": 117,
            "buckets": [
                {"frequency": "0", "customers": 900, "predicted": 0.1, "actual": 0.09},
                {"frequency": "6+", "customers": 40, "predicted": 2.5, "actual": 2.7},
            ],
        },
        fit_seconds=0.48684801099994957,
    )

    page = admin_client.get(reverse("admin:customers_clvmodel_change", args=[model.pk])).content.decode()

    assert "<svg" in page and "predicted: 2.50" in page and "actual: 2.70" in page
    assert "r=0.2400" in page
    assert "0.49 s" in page and "0.4868" not in page
    listing = admin_client.get(reverse("admin:customers_clvmodel_changelist")).content.decode()
    assert "Fit took" in listing and "0.49 s" in listing and "0.4868" not in listing


def test_lifecycle_settings_open_as_one_form_and_refuse_bad_thresholds(admin_client):
    listing = admin_client.get(reverse("admin:customers_lifecyclesettings_changelist"))
    assert listing.status_code == 302

    row = LifecycleSettings.load()
    response = admin_client.post(
        reverse("admin:customers_lifecyclesettings_change", args=[row.pk]),
        {
            "new_days": 60,
            "lapsed_days": 365,
            "lapsed_p_alive": 1.5,
            "at_risk_p_alive": 0.5,
            "overdue_factor": 2,
            "reactivated_days": 90,
            "signal_days": 365,
            "time_unit": "weeks",
            "monthly_discount_rate": 0.01,
            "margin": 1,
            "simple_lifespan_years": 3,
            "min_repeat_buyers": 200,
            "holdout_days": 90,
        },
    )

    assert response.status_code == 200
    assert "lapsed_p_alive" in response.context["adminform"].form.errors
    assert LifecycleSettings.load().lapsed_p_alive == 0.15


def cells(html: str, column: str) -> list[str]:
    """The text of a list column's cells, top to bottom, as a person reads it."""
    found = re.findall(rf'<t[dh] class="field-{column}(?: [^"]*)?"[^>]*>(.*?)</t[dh]>', html, re.S)
    return [" ".join(strip_tags(c.replace("<br>", " ")).split()) for c in found]


def test_the_customer_list_says_the_currency_rounds_for_people_and_explains_its_columns(admin_client):
    fitted_model()
    regular = customer_with_orders(70, 40, 10, total="1500.00")
    Customer.objects.filter(pk=regular.pk).update(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    once = customer_with_orders(400, total="80.00")
    customers_recompute(customer_ids=[regular.pk, once.pk])

    html = admin_client.get(reverse("admin:customers_customer_changelist")).content.decode()

    thead = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    headings = [" ".join(strip_tags(h).split()) for h in re.findall(r'<div class="text">(.*?)</div>', thead, re.S)]
    assert [h for h in headings if h and h != "Select all rows"] == [  # the checkbox column's label
        "Customer",
        "Stage",
        "RFM",
        "P(alive)",
        "CLV 12 mo (USD)",
        "Orders",
        "Revenue (USD)",
        "Last order",
    ]
    # Newest customer first: the one-time buyer, then Ada (name over email, in one column).
    assert cells(html, "who") == [f"{once.first_name} {once.last_name} {once.email}", "Ada Lovelace ada@example.com"]
    assert cells(html, "net_revenue_shown") == ["80.00", "4,500.00"]
    assert cells(html, "orders_count_shown") == ["1", "3"]
    p_alive = CustomerMetrics.objects.get(customer=regular).p_alive
    assert cells(html, "p_alive") == ["not estimated", f"{round(p_alive * 100)}%"]
    assert 'title="not estimated for one-time buyers">not estimated</span>' in html  # the reason, on hover
    assert cells(html, "last_order")[1] == f"{timezone.localdate() - timedelta(days=10):%Y-%m-%d}"
    assert 'title="10 days ago"' in html
    notes = re.search(r'<details class="column-notes".*?</details>', html, re.S).group(0)
    notes = " ".join(unescape(re.sub(r"<[^>]+>", " ", notes)).split())  # dt and dd are lines of their own
    assert notes.startswith("What the columns mean Stage The customer's lifecycle stage")
    assert "Revenue What the customer has spent to date" in notes


def test_the_p_alive_filter_puts_one_time_buyers_in_a_band_of_their_own(admin_client):
    fitted_model()
    regular, once = customer_with_orders(70, 40, 10), customer_with_orders(400)
    customers_recompute(customer_ids=[regular.pk, once.pk])
    url = reverse("admin:customers_customer_changelist")

    def found(band):
        return [c.pk for c in admin_client.get(url, {"p_alive": band}).context["cl"].result_list]

    assert found("one_time") == [once.pk]
    assert once.pk not in found("high") + found("mid") + found("low")  # 100% by construction, not "high"
    assert regular.pk in found("high") + found("mid") + found("low")


def test_the_stage_changes_and_metrics_lists_read_like_the_customer_pages(admin_client):
    fitted_model()
    once = customer_with_orders(400)
    customers_recompute(customer_ids=[once.pk])
    StageChange.objects.create(
        customer=once,
        from_stage="new",
        to_stage="at_risk",
        changed_at=timezone.now(),
        reason="at risk: no second order",
    )

    changes = admin_client.get(reverse("admin:customers_stagechange_changelist")).content.decode()
    assert cells(changes, "why") == ["no second order", "last order 400 days ago; lapsed after 365 days without one"]

    metrics = admin_client.get(reverse("admin:customers_customermetrics_changelist")).content.decode()
    predicted = CustomerMetrics.objects.get(customer=once).clv_predicted
    assert cells(metrics, "clv_12_months") == [f"{predicted:,.2f}"] and "CLV 12 mo (USD)" in metrics
    assert cells(metrics, "p_alive_shown") == ["not estimated for one-time buyers"]
