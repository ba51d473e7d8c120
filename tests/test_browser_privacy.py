"""Privacy requests in Chromium: a support agent takes a person's erasure request by phone
and downloads their data; a manager reads the confirmation of what goes and erases them. The
screenshots (build/screenshots/privacy_*.png) are for a person to look at."""

import io
import zipfile

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from crm.privacy.models import PrivacyRequest
from crm.roles import MANAGER, SUPPORT_AGENT
from customers.models import Customer, Order
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ShopFactory
from support.models import Ticket
from support.tickets import TicketData, ticket_open
from tests.conftest import SHOTS, message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_takes_a_request_and_exports_then_a_manager_erases(browser_login, live_server, django_user_model):
    shop = ShopFactory(slug="acme", name="Acme Coffee")
    ada = CustomerFactory(
        email="ada@example.com", email_normalized="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    IdentityFactory(shop=shop, customer=ada, external_id="ada-1", email="ada@example.com", first_name="Ada")
    OrderFactory(shop=shop, customer=ada, external_id="A-100", total=42)
    ticket_open(customer=ada, shop=shop, data=TicketData(subject="Ada's parcel", body="Ada Lovelace, 12 St James's Sq"))
    for name, role in (("agent", SUPPORT_AGENT), ("manager", MANAGER)):
        user = django_user_model.objects.create_user(name, password=f"{name}-pass-1", is_staff=True)
        user.groups.add(Group.objects.get(name=role))

    # The agent takes the request from a phone call: the email finds the customer.
    page = browser_login("agent", "agent-pass-1")
    page.goto(f"{live_server.url}/admin/crm/privacyrequest/add/")
    page.select_option("#id_kind", "customer_redact")
    page.fill("#id_email", "Ada@Example.com")
    page.fill("#id_note", "Phoned; identity checked against order A-100.")
    page.screenshot(path=SHOTS / "privacy_add.png", full_page=True)
    page.click("[name=_continue]")
    expect(message(page, "was added successfully")).to_be_visible()
    request = PrivacyRequest.objects.get()
    assert request.customer == ada
    # An agent may download the data, and is not offered the erasure.
    expect(page.get_by_text("Download the customer's data (ZIP)")).to_be_visible()
    expect(page.get_by_text("Erase the customer's personal data")).to_have_count(0)
    page.screenshot(path=SHOTS / "privacy_request_agent.png", full_page=True)
    with page.expect_download() as download:
        page.click("text=Download the customer's data (ZIP)")
    with zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read())) as archive:
        assert b"Ada's parcel" in archive.read("support.Ticket.json")
        assert b"A-100" in archive.read("customers.Order.json")
    page.context.close()

    # The manager erases, after reading what goes.
    page = browser_login("manager", "manager-pass-1")
    page.goto(f"{live_server.url}/admin/crm/privacyrequest/")
    page.get_by_role("link", name="ada@example.com").first.wait_for()
    page.screenshot(path=SHOTS / "privacy_queue.png", full_page=True)
    page.goto(f"{live_server.url}/admin/crm/privacyrequest/{request.pk}/change/")
    page.click("text=Erase the customer's personal data")
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    expect(page.locator("td", has_text="Tickets").first).to_be_visible()
    page.screenshot(path=SHOTS / "privacy_erase_confirm.png", full_page=True)
    page.click("text=Erase, for good")
    expect(message(page, "is erased (")).to_be_visible()
    page.screenshot(path=SHOTS / "privacy_erased.png", full_page=True)

    ada.refresh_from_db()
    assert (ada.email, ada.first_name, ada.last_name) == ("", "", "")
    assert Ticket.objects.get().subject == "[erased]"
    assert Order.objects.get().total == 42
    assert PrivacyRequest.objects.get(pk=request.pk).status == "done"
    # The agent's download was recorded as a data request of its own, answered; it did not
    # answer the erasure.
    export = PrivacyRequest.objects.exclude(pk=request.pk).get()
    assert (export.kind, export.status, export.completed_by.username) == ("data_request", "done", "agent")
    # Deleting the customer is refused, with the way to erase.
    page.goto(f"{live_server.url}/admin/customers/customer/{ada.pk}/delete/")
    expect(message(page, "Customers are not deleted")).to_be_visible()
    assert Customer.objects.filter(pk=ada.pk).exists()


def test_a_manager_erases_a_shops_data_and_follows_it_to_the_end(browser_login, live_server, django_user_model):
    """Shopify's shop/redact: the manager reads what goes, starts it, watches the progress,
    and the background pass closes the request."""
    from crm.connectors.models import ShopConnection
    from crm.tasks import continue_shop_erasures

    gone, kept = ShopFactory(slug="gone", name="Gone Store"), ShopFactory(slug="kept", name="Kept Store")
    ShopConnection.objects.create(shop=gone, platform="shopify", domain="gone.myshopify.com")
    for i in range(3):
        person = CustomerFactory(email=f"only{i}@example.com", first_name=f"Only{i}")
        IdentityFactory(shop=gone, customer=person, external_id=f"g-{i}", email=f"only{i}@example.com")
    both = CustomerFactory(email="both@example.com", first_name="Both")
    IdentityFactory(shop=gone, customer=both, external_id="g-b", email="both@gone.example")
    IdentityFactory(shop=kept, customer=both, external_id="k-b", email="both@example.com")
    request = PrivacyRequest.objects.create(
        kind="shop_redact", source="platform", shop=gone, received_at=both.created_at, due_at=both.created_at
    )
    user = django_user_model.objects.create_user("manager", password="manager-pass-1", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER))

    page = browser_login("manager", "manager-pass-1")
    page.goto(f"{live_server.url}/admin/crm/privacyrequest/{request.pk}/change/")
    page.click("text=Erase the shop's data…")
    expect(page.get_by_text("Customers known only to Gone Store")).to_be_visible()
    page.screenshot(path=SHOTS / "privacy_shop_confirm.png", full_page=True)
    page.click("text=Erase the shop's data, for good")
    expect(message(page, "Erasing the data of Gone Store: 3 customers")).to_be_visible()
    expect(page.locator(".shop-erasure-progress")).to_contain_text("0 of 3")
    page.screenshot(path=SHOTS / "privacy_shop_progress.png", full_page=True)

    assert continue_shop_erasures() == 1

    page.reload()
    expect(page.get_by_text("Closed as")).to_be_visible()
    page.screenshot(path=SHOTS / "privacy_shop_done.png", full_page=True)
    assert list(Customer.objects.filter(email__startswith="only").values_list("pk", flat=True)) == []
    assert Customer.objects.get(pk=both.pk).email == "both@example.com"
