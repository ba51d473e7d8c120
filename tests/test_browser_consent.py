"""The customer 360 page's "Email consent" section in Chromium at 1440 px, as a support
agent reads it: each shop's state, and the history newest first with who changed it or
what the person was shown. Saved as build/screenshots/customer-360-consent.png."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from playwright.sync_api import expect

from customers.models import ConsentEvent
from customers.services.consent import identities_consent_set
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ShopFactory
from tests.conftest import SHOTS
from tests.test_browser_csp import watch
from tests.test_browser_dashboard import problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_an_agent_reads_the_consent_history_on_the_360_page(browser_login, live_server, django_user_model):
    customer = CustomerFactory(first_name="Ann", last_name="Lee", email="ann@example.com", marketing_consent=True)
    coffee, tea, cups = (ShopFactory(name=name) for name in ("Acme Coffee", "Acme Tea", "Acme Cups"))
    OrderFactory(customer=customer, shop=coffee)
    at_coffee = IdentityFactory(customer=customer, shop=coffee, marketing_consent=True, marketing_consent_at=T0)
    IdentityFactory(customer=customer, shop=tea, marketing_consent=True, marketing_consent_at=T0)
    IdentityFactory(customer=customer, shop=cups)
    shown = "Yes, send me news and offers from Acme Coffee (about one email a week). Unsubscribe at any time."
    ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(customer=customer, shop=tea, given=True, at=T0, source="checkout"),
            ConsentEvent(customer=customer, shop=coffee, given=True, at=T0, source="footer_form", shown_text=shown),
        ]
    )
    manager = django_user_model.objects.create_user("mia", first_name="Mia", last_name="Boss", is_staff=True)
    identities_consent_set(changes={at_coffee.pk: False}, source="admin", by_id=manager.pk, now=T0 + timedelta(days=9))
    agent = django_user_model.objects.create_user("agent", password="agent-pw", is_staff=True)
    agent.groups.add(Group.objects.get(name="Support agent"))

    page = browser_login("agent", "agent-pw")
    violations, errors = watch(page), problems(page)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{live_server.url}{reverse('admin:crm_customer360_change', args=[customer.pk])}")

    section = page.locator("#c360-consent")
    expect(section).to_contain_text("Acme Coffee: withdrawn")
    expect(section).to_contain_text("Acme Tea: given")
    expect(section).to_contain_text("Acme Cups: never said")
    rows = page.locator("#c360-consent-history tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("withdrawn")
    expect(rows.nth(0)).to_contain_text("Mia Boss")
    expect(rows.nth(1)).to_contain_text("footer form")
    expect(rows.nth(1)).to_contain_text("about one email a week")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # nothing wider
    section.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "customer-360-consent.png")
    assert violations == [] and errors == []
