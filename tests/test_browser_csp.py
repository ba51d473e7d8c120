"""The Content-Security-Policy in a real browser: the admin, the rule builder, the customer
360 page, the customer-facing pages and the API docs load and run with no violation."""

import pytest
from django.urls import reverse

from customers.tests.factories import CustomerFactory, OrderFactory
from tests.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch(page) -> list[str]:
    """Collects the browser's CSP reports (console errors and securitypolicyviolation events)."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return seen


def test_admin_pages_and_the_rule_builder_run_with_no_violation(page, live_server):
    customer = CustomerFactory(country="DE")
    OrderFactory(customer=customer)
    violations = watch(page)
    for url in (
        reverse("admin:index"),
        reverse("admin:customers_customer_changelist"),
        reverse("admin:customers_customer_change", args=[customer.pk]),
        reverse("admin:crm_customer360_change", args=[customer.pk]),
        reverse("admin:support_ticket_changelist"),
        reverse("admin:loyalty_account_changelist"),
        reverse("admin:support_csatresponse_changelist"),
    ):
        response = page.goto(f"{live_server.url}{url}")
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}{reverse('admin:campaigns_segment_add')}")
    page.locator(".rule-builder .rb-field").first.select_option("country")  # the builder's script ran
    page.locator(".rb-condition").first.locator(".rb-value-input").fill("DE")
    preview = page.locator(".rb-preview")
    preview.locator(".rb-sentence", has_text="customers where country is DE").wait_for()  # the preview's fetch ran
    assert preview.locator(".rb-count-number").inner_text() == "1"
    page.screenshot(path=SHOTS / "csp_rule_builder.png", full_page=True)
    assert violations == []


def test_the_api_docs_and_the_customer_pages_run_with_no_violation(live_server):
    import os

    from playwright.sync_api import sync_playwright

    from conftest import CHROMIUM

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        violations = watch(page)
        page.goto(f"{live_server.url}{reverse('api-docs')}")
        page.locator(".swagger-ui .info .title").wait_for(timeout=20_000)  # Swagger UI's scripts ran
        assert "E-commerce CRM API" in page.locator(".swagger-ui .info .title").inner_text()
        page.screenshot(path=SHOTS / "csp_api_docs.png")
        for name in ("support-csat", "support-review"):
            page.goto(f"{live_server.url}{reverse(name, args=['not-a-valid-token'])}")
            page.wait_for_load_state("networkidle")
        browser.close()
    assert violations == []
