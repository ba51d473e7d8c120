"""The lifecycle pages in a real browser (Debian's chromium driven by Playwright).

Screenshots are saved under build/screenshots/ for a person to look at.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import ClvModel
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory, fitted_model
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


# The table against the box that scrolls it sideways (Django's ``.results``, the theme's
# scroll bar wrapper): a table wider than that box hides its right-hand columns.
MEASURE_TABLE = """() => {
  const table = document.querySelector('#result_list');
  let box = table.parentElement;
  while (box && !['auto', 'scroll', 'hidden'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
  const width = (e) => Math.ceil(e.getBoundingClientRect().width);
  const scrolls = box.scrollWidth > box.clientWidth + 1;
  const stretched = table.style.width;
  table.style.width = 'auto';  // the width the table needs, where the theme stretches it to the area
  const needs = width(table);
  table.style.width = stretched;
  return {table: Math.max(needs, table.scrollWidth), area: box.clientWidth, scrolls, needs};
}"""


def test_the_customer_list_fits_a_1440px_screen_with_the_sidebar_open(page, live_server):
    fitted_model()
    names = [("Maximilian", "Featherstonehaugh"), ("Alexandra", "Montgomery-Smythe"), ("Bartholomew", "Vanderbilt")]
    ids = []
    for i in range(30):
        first, last = names[i % 3]
        customer = CustomerFactory(
            first_name=first, last_name=last, email=f"{first.lower()}.{last.lower()}{i}@examplemail.com"
        )
        ages = [(400,), (70, 40, 10), (900, 600, 300, 200)][i % 3]
        for age in ages:
            OrderFactory(customer=customer, placed_at=timezone.now() - timedelta(days=age), total=Decimal("12345.67"))
        ids.append(customer.pk)
    customers_recompute(customer_ids=ids)

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/admin/customers/customer/")
    assert page.locator("#nav-sidebar").is_visible()  # the sidebar is open
    page.screenshot(path=SHOTS / "customer_list_1440.png")  # the screen, as a person sees it

    measured = page.evaluate(MEASURE_TABLE)
    print(f"customers list at 1440 px: {measured}")
    assert not measured["scrolls"] and measured["table"] <= measured["area"], measured
    # Every column is on screen, the figures with their unit in the heading.
    headings = [h.strip().lower() for h in page.locator("#result_list thead th .text").all_inner_texts() if h.strip()]
    assert headings == [
        "customer",
        "stage",
        "rfm",
        "p(alive)",
        "clv 12 mo (usd)",
        "orders",
        "revenue (usd)",
        "last order",
    ]
    rows = page.locator("#result_list tbody tr")
    assert "\t4\t49,382.68\t" in rows.first.inner_text()  # 4 orders of 12,345.67 USD, right to the last column
    box = rows.first.locator("td").last.bounding_box()
    assert box["x"] + box["width"] <= 1440
    one_time = rows.nth(2).locator("td.field-p_alive span")  # customer 27, one order
    assert one_time.inner_text() == "not estimated"
    assert one_time.get_attribute("title") == "not estimated for one-time buyers"
