"""Issue 22's connector walk-through, in Chromium: a manager connects a shop to its Shopify
store in the admin, Shopify (here: the test, signing as Shopify does) sends an order the CRM
cannot take yet (a currency with no exchange rate), the manager reads the failure in the
delivery log, adds the rate and replays the delivery, which then counts. The screenshots
(build/screenshots/connector_*.png) are for a person to look at."""

import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.roles import MANAGER
from crm.tests.shopify_payloads import order, sign
from customers.models import ExchangeRate, Order
from customers.services.api_keys import shop_create
from tests.conftest import SHOTS, look, message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "shpss_browser_walk"


def wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_manager_connects_a_shop_reads_a_failed_delivery_and_replays_it(
    browser_login, live_server, django_user_model
):
    shop, _ = shop_create(slug="acme", name="Acme Coffee")
    manager = django_user_model.objects.create_user("manager", password="manager-pass-1", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGER))
    page = browser_login("manager", "manager-pass-1")

    # Connect the shop: its store's domain and the app's secret, which is never shown again.
    page.goto(f"{live_server.url}/admin/crm/shopconnection/add/")
    page.click(".field-shop .select2-selection")
    page.fill(".select2-search__field", "Acme")
    page.locator(".select2-results__option", has_text="Acme Coffee").first.click()
    page.select_option("#id_platform", "shopify")
    page.fill("#id_domain", "acme-coffee.myshopify.com")
    page.fill("#id_secret", SECRET)
    # The secret's box is drawn as the theme's other inputs, not as a bare browser control.
    assert look(page.locator("#id_secret")) == look(page.locator("#id_domain"))
    page.screenshot(path=SHOTS / "connector_add.png", full_page=True)
    page.click("[name=_continue]")
    expect(message(page, "was added successfully")).to_be_visible()
    connection = ShopConnection.objects.get()
    assert connection.shop_id == shop.pk and SECRET not in page.content()
    webhook_url = page.locator(".field-webhook_url code, .field-line:has-text('webhook URL') code").first.inner_text()
    assert webhook_url.endswith(f"/connectors/shopify/{connection.token}/")
    page.screenshot(path=SHOTS / "connector_saved.png", full_page=True)

    # Shopify sends an order in yen, which the CRM has no exchange rate for yet.
    body = requests.compat.json.dumps(
        order(5101, currency="JPY", lines=(("CUP-1", "Cup", "3000", 1),), discount="0", shipping="500", tax="300")
    ).encode()
    answer = requests.post(
        live_server.url + urlsplit(webhook_url).path,
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "acme-coffee.myshopify.com",
            "X-Shopify-Webhook-Id": "b1f0c6f2-walk",
            "X-Shopify-Hmac-Sha256": sign(body, SECRET),
        },
        timeout=10,
    )
    assert answer.status_code == 200  # stored and answered, whatever processing makes of it
    assert wait_for(lambda: WebhookDelivery.objects.filter(status="failed").exists())

    # The delivery log says what went wrong.
    page.goto(f"{live_server.url}/admin/crm/webhookdelivery/")
    row = page.locator("#result_list tbody tr").first
    expect(row).to_contain_text("orders/create")
    expect(row).to_contain_text("JPY")
    page.screenshot(path=SHOTS / "connector_failed.png", full_page=True)

    # The rate is added; the manager replays the delivery and it counts.
    ExchangeRate.objects.create(currency="JPY", rate_to_base=Decimal("0.0070"))
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "replay")
    page.click("button[name=index], [type=submit][title='Run the selected action'], .actions button")
    expect(message(page, "1 delivery(ies) processed.")).to_be_visible()
    expect(page.locator("#result_list tbody tr").first).to_contain_text("Processed")
    page.screenshot(path=SHOTS / "connector_replayed.png", full_page=True)
    assert Order.objects.get(shop=shop).total_base == Decimal("26.60")
