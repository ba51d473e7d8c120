"""The support desk in a real browser (Debian's chromium driven by Playwright): an agent
opens a ticket, picks a macro, reads its text for this customer in the reply box, edits it
and solves the ticket; the customer gets the edited text, then the CSAT invitation.

Screenshots are saved under build/screenshots/ for a person to look at.
"""

import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from crm.roles import SUPPORT_AGENT
from crm.tests.api_ids import own_id
from customers.tests.factories import CustomerFactory
from support.models import BusinessHours, Ticket
from support.tests import factories
from tests.conftest import SHOTS
from tests.test_browser_csp import watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def agent(django_user_model):
    user = django_user_model.objects.create_user(
        "agent", password="agent-pass-1", first_name="Sam", last_name="Reed", is_staff=True
    )
    user.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    return user


@pytest.fixture
def refund_macro():
    return factories.refund_macro(
        "<p>Hi {{ first_name }},</p><p>we have issued your refund; allow 5 to 10 days. "
        "As a {{ loyalty_tier }} member you keep your {{ points }} points.</p><p>{{ agent_name }}</p>",
    )


def test_an_agent_edits_a_macros_text_and_solves_the_ticket(browser_login, live_server, api, agent, refund_macro):
    # The customer writes through the shop's contact form (the API), two lines.
    opened = api.post(
        "/api/v1/tickets",
        {
            "customer": {"external_id": "c-9", "email": "ann@example.com", "first_name": "Ann"},
            "subject": "Refund not received",
            "message": "Hello,\nmy refund has not arrived yet.",
        },
        format="json",
    )
    assert opened.status_code == 201, opened.content
    ticket = Ticket.objects.get(pk=opened.json()["id"])

    page = browser_login("agent", "agent-pass-1")
    violations = watch(page)  # the macro script is a static file under the CSP
    page.goto(f"{live_server.url}/admin/support/ticket/{ticket.pk}/change/")
    thread = page.locator("#ticket-conversation")
    expect(thread).to_contain_text("Hello,\nmy refund has not arrived yet.", use_inner_text=True)
    expect(page.locator("#ticket-customer")).to_contain_text("no tier yet")

    page.select_option("#id_macro", label="Refund issued")
    box = page.locator("#id_reply")
    expected = (
        "Hi Ann,\n\nwe have issued your refund; allow 5 to 10 days. As a member you keep your 0 points.\n\nSam Reed"
    )
    expect(box).to_have_value(expected)
    expect(page.locator("#macro-note")).to_contain_text("sets the status to “Solved”")
    expect(page.locator("#macro-note")).to_contain_text("{{ loyalty_tier }}")
    page.screenshot(path=SHOTS / "desk-ticket-macro.png", full_page=True)

    edited = expected.replace("allow 5 to 10 days.", "it reached your bank today.")
    box.fill(edited)
    page.select_option("#id_status", "solved")
    page.click("[name=_save]")
    page.wait_for_url(re.compile(r"/admin/support/ticket/(\?.*)?$"))

    ticket.refresh_from_db()
    assert ticket.status == "solved" and ticket.assignee == agent
    # What the customer gets, through the shop: their message, the edited reply, then the invitation.
    (mine,) = api.get(f"/api/v1/customers/{own_id(ticket.customer_id)}/tickets").json()["results"]
    bodies = [m["body"] for m in mine["messages"]]
    assert len(bodies) == 3
    assert bodies[1] == (
        "<p>Hi Ann,</p>\n\n<p>we have issued your refund; it reached your bank today. "
        "As a member you keep your 0 points.</p>\n\n<p>Sam Reed</p>"
    )
    assert "How did we do?" in bodies[2]

    page.goto(f"{live_server.url}/admin/support/ticket/{ticket.pk}/change/")
    expect(thread.locator(".ticket-message")).to_have_count(3)
    expect(thread.locator(".ticket-message").nth(1)).to_contain_text("it reached your bank today")
    expect(thread.locator(".ticket-message").nth(1).locator(".email-note")).to_contain_text("email")
    page.screenshot(path=SHOTS / "desk-ticket-solved.png", full_page=True)
    assert violations == []


def test_an_agent_picks_the_customer_of_a_new_ticket_by_searching(browser_login, live_server, agent):
    ann = CustomerFactory(first_name="Ann", last_name="Rossi", email="ann.rossi@example.com")
    CustomerFactory(first_name="Bob", email="bob@example.com")

    page = browser_login("agent", "agent-pass-1")
    page.goto(f"{live_server.url}/admin/support/ticket/add/")
    page.click(".field-customer .select2-selection")
    page.fill(".select2-search__field", "ann.rossi@example.com")
    options = page.locator(".select2-results__option")
    expect(options).to_have_text(
        ["Ann Rossi · ann.rossi@example.com"]
    )  # the search's answer, not the first page of everyone
    page.screenshot(path=SHOTS / "desk-add-ticket-picker.png", full_page=True)
    options.first.click()
    page.fill("#id_subject", "Called about a return")
    page.fill("#id_reply", "Wants a return label.\nWill send photos.")
    page.click("[name=_save]")
    page.wait_for_url(re.compile(r"/admin/support/ticket/(\?.*)?$"))

    ticket = Ticket.objects.get(subject="Called about a return")
    assert ticket.customer == ann
    assert ticket.messages.get().body == "<p>Wants a return label.<br>Will send photos.</p>"


def test_a_manager_sets_business_hours_in_a_form_not_json(page, live_server):
    page.goto(f"{live_server.url}/admin/support/businesshours/add/")
    page.fill("#id_name", "Berlin office")
    page.fill("#id_time_zone", "Europe/Berlin")
    expect(page.get_by_label("Monday opens")).to_have_value("09:00")  # Monday to Friday prefilled
    page.get_by_label("Saturday opens").fill("10:00")
    page.get_by_label("Saturday closes").fill("09:00")  # before it opens
    page.fill("#id_holidays", "2026-12-25\n2026-12-26")
    page.click("[name=_save]")
    expect(page.locator(".errorlist, .errornote").first).to_be_visible()
    assert "Saturday: closing time 09:00 must come after opening time 10:00." in page.content()
    page.screenshot(path=SHOTS / "desk-business-hours.png", full_page=True)

    page.get_by_label("Saturday closes").fill("14:00")
    page.click("[name=_save]")
    page.wait_for_url(re.compile(r"/admin/support/businesshours/(\?.*)?$"))
    hours = BusinessHours.objects.get()
    assert hours.weekly == {**{str(d): ["09:00", "17:00"] for d in range(5)}, "5": ["10:00", "14:00"]}
    assert hours.holidays == ["2026-12-25", "2026-12-26"]
