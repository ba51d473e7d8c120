"""The manager's dashboard in a real browser, on the seeded demo: the manager lands on it,
every tile and chart is drawn with no script error and no Content-Security-Policy
violation, a figure says how it is computed, and a number opens the customers behind it.

Screenshots are saved under build/screenshots/ for a person to look at."""

import pytest
from django.core.management import call_command

from tests.conftest import SHOTS
from tests.test_browser_csp import watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo():
    call_command("seed_demo", "--customers", "400", "--seed", "4", "-v", "0")


def problems(page) -> list[str]:
    """Script errors and failed loads, besides the CSP reports ``watch`` collects."""
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(f"error: {error}"))
    page.on("console", lambda m: seen.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: seen.append(f"failed: {r.url}"))
    return seen


def test_the_manager_reads_the_dashboard(browser_login, live_server, demo):
    page = browser_login("manager", "demo")
    violations, errors = watch(page), problems(page)
    page.goto(f"{live_server.url}/admin/")  # the manager's start page
    assert page.url.endswith("/admin/dashboard/")
    page.wait_for_load_state("networkidle")

    assert page.locator(".kpi").count() == 23
    canvases = page.locator("canvas[data-chart]")
    assert canvases.count() == 6
    assert page.locator("canvas[data-drawn=true]").count() == 6  # Chart.js drew every one
    assert page.locator("#cohorts tbody tr").count() == 12
    assert page.locator(".kpi[data-kpi=revenue] .kpi-value").inner_text().endswith("USD")
    page.screenshot(path=SHOTS / "dashboard.png", full_page=True)

    how = page.locator(".kpi[data-kpi=retention] details")
    how.locator("summary").click()
    assert "bought again in this period" in how.inner_text()
    page.locator("#customers").screenshot(path=SHOTS / "dashboard_customers.png")

    page.get_by_role("link", name="Last 12 months").click()
    page.wait_for_load_state("networkidle")
    assert "start=" in page.url and page.locator("canvas[data-drawn=true]").count() == 6
    page.screenshot(path=SHOTS / "dashboard_12_months.png", full_page=True)

    new = page.locator(".kpi[data-kpi=new_customers] .kpi-value a")
    shown = int(new.inner_text().replace(",", ""))
    new.click()
    page.wait_for_load_state("networkidle")
    assert "/admin/customers/customer/" in page.url and "bought=" in page.url
    assert "did not buy" in page.content()  # the list says what the dashboard asked for
    if shown <= 50:  # one page of the list
        assert page.locator("#result_list tbody tr").count() == shown
    page.screenshot(path=SHOTS / "dashboard_drilldown.png", full_page=True)

    assert violations == [] and errors == []


def test_a_marketer_is_refused(browser_login, live_server, demo):
    page = browser_login("marketer", "demo")
    response = page.goto(f"{live_server.url}/admin/dashboard/")
    assert response.status == 403
