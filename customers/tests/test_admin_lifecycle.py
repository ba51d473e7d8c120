"""The lifecycle in the admin: list columns and filters, the customer page, the model's health."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import ClvModel, LifecycleSettings
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def customer_with_orders(*ages):
    customer = CustomerFactory()
    for age in ages:
        OrderFactory(customer=customer, placed_at=timezone.now() - timedelta(days=age))
    return customer


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
    )

    page = admin_client.get(reverse("admin:customers_clvmodel_change", args=[model.pk])).content.decode()

    assert "<svg" in page and "predicted: 2.50" in page and "actual: 2.70" in page
    assert "r=0.2400" in page


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
