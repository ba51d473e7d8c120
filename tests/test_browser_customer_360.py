"""The support agent's path in a real browser: sign in, open a ticket from the queue,
follow the customer link to the 360 page, and find the order and the ticket in the
timeline. The screenshot is kept in build/screenshots/ as the test's artefact."""

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.roles import SUPPORT_AGENT
from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory
from support.tickets import TicketData, ticket_open
from tests.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def agent(django_user_model):
    user = django_user_model.objects.create_user("sam", password="agent-pass-1", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    return user


def test_an_agent_goes_from_a_ticket_to_the_customers_whole_story(browser_login, agent):
    customer = CustomerFactory(first_name="Grace", last_name="Hopper", email="grace@example.com")
    order = OrderFactory(customer=customer, external_id="ORD-4711", placed_at=timezone.now())
    OrderLineFactory(order=order, sku="KETTLE", name="Copper kettle", quantity=1)
    ticket, _ = ticket_open(
        customer=customer, data=TicketData(subject="Kettle arrived dented", body="<p>The spout is bent.</p>")
    )

    page = browser_login("sam", "agent-pass-1")
    page.click("text=Tickets")
    page.click(f"text={ticket.subject}")
    page.wait_for_selector("#ticket-conversation")
    page.click("#ticket-customer >> text=Grace Hopper")  # the customer link beside the conversation

    page.wait_for_selector("#customer-360")
    timeline = page.locator("#timeline")
    assert "Order ORD-4711" in timeline.inner_text()
    assert "Copper kettle" in timeline.inner_text()
    assert f"#{ticket.pk} Kettle arrived dented" in timeline.inner_text()
    assert "grace@example.com" in page.locator("#c360-header").inner_text()
    page.screenshot(path=str(SHOTS / "customer-360.png"), full_page=True)

    # The timeline filter narrows it to orders.
    page.check("input[name=type][value=orders]")
    page.click("#timeline-filters input[type=submit]")
    page.wait_for_url("**type=orders**")
    assert "Order ORD-4711" in timeline.inner_text() and "Kettle arrived dented" not in timeline.inner_text()
