"""The lifecycle pages in a real browser (Debian's chromium driven by Playwright).

Screenshots are saved under build/screenshots/ for a person to look at.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import ClvModel
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory
from tests.conftest import SHOTS, field_line

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_page_shows_stage_reason_value_and_journey(page, live_server):
    customer = CustomerFactory(first_name="Ada", email="ada@example.com", email_normalized="ada@example.com")
    for age in (500, 420):
        OrderFactory(customer=customer, placed_at=timezone.now() - timedelta(days=age))
    customers_recompute(customer_ids=[customer.pk])  # lapsed…
    OrderFactory(customer=customer, placed_at=timezone.now() - timedelta(days=3))
    customers_recompute(customer_ids=[customer.pk])  # …and back

    page.goto(f"{live_server.url}/admin/customers/customer/{customer.pk}/change/")
    page.screenshot(path=SHOTS / "customer_lifecycle.png", full_page=True)

    block = field_line(page, "Lifecycle and value")
    assert "Reactivated — last order 3 days ago; bought again after lapsing" in block.inner_text()
    history = field_line(page, "Stage history").locator("table tr")
    assert history.count() == 3  # a header and two changes, newest first
    assert "Lapsed" in history.nth(1).inner_text() and "Reactivated" in history.nth(1).inner_text()


def test_the_customer_list_filters_by_stage(page, live_server):
    for ages in [(70, 40, 10), (500, 400), ()]:
        customer = CustomerFactory()
        for age in ages:
            OrderFactory(customer=customer, placed_at=timezone.now() - timedelta(days=age))
        customers_recompute(customer_ids=[customer.pk])

    page.goto(f"{live_server.url}/admin/customers/customer/")
    page.locator("a", has_text="Filters").first.click()  # the theme's filter panel
    page.get_by_role("link", name="Lapsed", exact=True).click()
    page.screenshot(path=SHOTS / "customer_list_lapsed.png", full_page=True)

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "Lapsed" in rows.first.inner_text()


def test_the_clv_model_page_draws_its_health_chart(page, live_server):
    model = ClvModel.objects.create(
        status=ClvModel.Status.FITTED,
        observation_end=timezone.localdate(),
        time_unit="weeks",
        **{"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "v": 15.44},
        bgnbd_log_likelihood=-9582.4,
        holdout={
            "calibration_end": "1997-07-01",
            "holdout_days": 91,
            "predicted_total": 1100.0,
            "actual_total": 1050,
            "buckets": [
                {"frequency": f"{k}+" if k == 6 else str(k), "customers": 100, "predicted": 0.2 * k, "actual": 0.21 * k}
                for k in range(7)
            ],
        },
    )

    page.goto(f"{live_server.url}/admin/customers/clvmodel/{model.pk}/change/")
    page.screenshot(path=SHOTS / "clv_model_health.png", full_page=True)

    chart = page.locator("svg[aria-label='Predicted vs actual holdout purchases']")
    assert chart.is_visible()
    assert chart.locator("rect").count() == 14
