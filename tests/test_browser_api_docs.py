"""/api/docs/ as a shop's developer uses it: authorise with the shop's key, open POST /orders,
"Try it out" with the example as it stands, Execute: the order is created (201)."""

import os

import pytest
from django.urls import reverse

from conftest import CHROMIUM
from customers.models import Order
from customers.services.api_keys import shop_create
from tests.conftest import SHOTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("deferred_work_within_the_request"),
]


def test_try_it_out_on_post_orders_creates_the_example_order(live_server):
    from playwright.sync_api import sync_playwright

    _, issued = shop_create(slug="my-shop", name="My Shop")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{live_server.url}{reverse('api-docs')}")
        page.locator(".swagger-ui .info .title").wait_for(timeout=20_000)
        page.screenshot(path=SHOTS / "api_docs.png", full_page=True)

        page.locator("button.authorize").first.click()
        page.locator(".modal-ux input").first.fill(issued.key)
        page.locator(".modal-ux button.authorize").click()
        page.locator(".modal-ux button.btn-done").click()

        operation = page.locator("#operations-orders-orders_upsert")
        operation.locator(".opblock-summary").click()
        assert "Create or update an order" in operation.locator(".opblock-summary").inner_text()
        operation.locator("button.try-out__btn").click()
        body = operation.locator("textarea.body-param__text").input_value()
        assert '"currency": "USD"' in body and '"total": "64.85"' in body
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table tr.response .response-col_status").first
        status.wait_for(timeout=20_000)
        page.screenshot(path=SHOTS / "api_docs_try_it_out.png", full_page=False)
        assert status.inner_text().strip() == "201"
        browser.close()
    assert Order.objects.filter(external_id="1001", total="64.85").count() == 1
