"""Each role's main journey through the admin on the seeded demo, in Chromium (issue 19's
"done when"), and a screenshot of every page in the sidebar, for a person to look at.

- The agent, on the phone with a Rossi: finds them by name, opens their ticket from the
  queue, reads the macro's text in the reply box before sending, and solves the ticket.
- The marketer: lands on segments and saves a static segment from pasted emails.
- The manager: lands on the dashboard and reads it (its figures: tests/test_browser_dashboard.py).
- Every page of the sidebar opens for a superuser with no script error, no CSP violation,
  and no table wider than the screen; each is saved under build/screenshots/pages/.
"""

import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from campaigns.models import Segment
from crm.navigation import GROUPS, _reachable
from customers.models import Customer
from support.models import Ticket
from support.tickets import TicketData, ticket_open
from tests.conftest import SHOTS, message
from tests.test_browser_csp import watch
from tests.test_browser_dashboard import problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = SHOTS / "pages"


@pytest.fixture
def demo():
    call_command("seed_demo", "--customers", "300", "--seed", "7", "-v", "0")


def test_the_agent_finds_rossi_and_solves_their_ticket_with_a_macro(browser_login, live_server, demo):
    rossi = Customer.objects.filter(last_name="Rossi").order_by("pk").first() or Customer.objects.first()
    Customer.objects.filter(pk=rossi.pk).update(first_name="Dan", last_name="Rossi")
    ticket, _ = ticket_open(
        customer=rossi, data=TicketData(subject="Where is my refund?", body="Hello,\nstill nothing.")
    )

    page = browser_login("agent", "demo")
    violations, errors = watch(page), problems(page)
    assert page.url.endswith("/admin/support/ticket/")  # the agent's start page: the queue
    page.screenshot(path=SHOTS / "journey-agent-queue.png")

    page.locator(f"a[href='{reverse('admin:crm_customer360_changelist')}']").first.click()  # the sidebar
    page.fill("#searchbar", "Rossi")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=Rossi"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        assert "Rossi" in rows.nth(i).inner_text()
    page.screenshot(path=SHOTS / "journey-agent-search-rossi.png")

    page.goto(f"{live_server.url}/admin/support/ticket/{ticket.pk}/change/")
    expect(page.locator("#ticket-conversation")).to_contain_text("Hello,\nstill nothing.", use_inner_text=True)
    expect(page.locator("#ticket-customer")).to_contain_text("Rossi")
    macro = page.locator("#id_macro option").nth(1)
    page.select_option("#id_macro", value=macro.get_attribute("value"))
    box = page.locator("#id_reply")
    expect(box).not_to_have_value("")  # the macro's text, for Dan, before anything is sent
    expect(box).to_have_value(re.compile(r"Dan"))
    assert "{{" not in box.input_value()
    page.screenshot(path=SHOTS / "journey-agent-macro.png", full_page=True)
    sent = box.input_value()
    page.select_option("#id_status", "solved")
    page.click("[name=_save]")
    page.wait_for_url(re.compile(r"/admin/support/ticket/(\?.*)?$"))

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED
    reply = ticket.messages.filter(author_kind="agent").order_by("pk").last()
    assert sent.split("\n")[0] in reply.body
    assert violations == [] and errors == []


def test_the_marketer_saves_a_static_segment_from_pasted_emails(browser_login, live_server, demo):
    first, second = Customer.objects.exclude(email="").order_by("pk")[:2]
    page = browser_login("marketer", "demo")
    assert page.url.endswith("/admin/campaigns/segment/")  # the marketer's start page
    page.screenshot(path=SHOTS / "journey-marketer-segments.png")

    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.fill("#id_name", "VIP press list")
    page.select_option("#id_kind", "static")
    page.fill("#id_members_add", f"{first.email}\n{second.email}")
    page.click("[name=_continue]")
    message(page, "was added successfully").wait_for()

    segment = Segment.objects.get(name="VIP press list")
    members = set(segment.memberships.filter(exited_at=None).values_list("customer_id", flat=True))
    assert members == {first.pk, second.pk}
    page.screenshot(path=SHOTS / "journey-marketer-static-segment.png", full_page=True)


def test_the_manager_lands_on_the_dashboard(browser_login, live_server, demo):
    page = browser_login("manager", "demo")
    assert page.url.endswith("/admin/dashboard/")
    page.wait_for_load_state("networkidle")
    assert page.locator("canvas[data-drawn=true]").count() >= 1
    page.screenshot(path=SHOTS / "journey-manager-dashboard.png", full_page=True)


def test_every_page_in_the_sidebar_opens_cleanly_and_fits_the_screen(page, live_server, demo):
    PAGES.mkdir(parents=True, exist_ok=True)
    violations, errors = watch(page), problems(page)
    links = [url for _, pages in GROUPS for entry in pages if (url := _reachable(entry))]
    assert len(links) >= 40
    for href in links[:3]:
        expect(page.locator(f"a[href='{href}']").first).to_be_attached()  # they are the sidebar's
    too_wide = []
    for href in links:
        response = page.goto(f"{live_server.url}{href}")
        assert response.status == 200, href
        page.wait_for_load_state("networkidle")
        name = href.strip("/").replace("/", "-") or "admin"
        page.screenshot(path=PAGES / f"{name}.png")
        # A table may scroll inside its own box, but the page itself must not scroll sideways.
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"):
            too_wide.append(href)
    assert too_wide == []
    assert violations == [] and errors == []
