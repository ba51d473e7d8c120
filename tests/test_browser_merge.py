"""An agent merges two records of one person in a real browser: finds the pair among the
suggested duplicates, picks both in the customers list, reads the preview (what moves, the
points before and after), merges, and undoes it from the merge's log page. The screenshots
are kept in build/screenshots/."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from crm.merging.suggestions import suggestions_build
from crm.roles import SUPPORT_AGENT
from crm.tests.merge_data import two_records
from customers.models import CustomerMerge, Order
from loyalty.tests.conftest import programme  # noqa: F401 (a fixture shared with loyalty)
from tests.conftest import SHOTS, message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def agent(django_user_model):
    user = django_user_model.objects.create_user("sam", password="agent-pass-1", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    return user


def test_an_agent_previews_merges_and_undoes_a_duplicate(browser_login, live_server, agent, programme):  # noqa: F811
    pair = two_records()
    suggestions_build()  # as the nightly build would have
    page = browser_login("sam", "agent-pass-1")
    page.set_viewport_size({"width": 1440, "height": 1000})

    # The pair is suggested (same name, same address from both shops), for review only.
    page.click("text=Suggested duplicates")
    suggestion = page.locator("#suggestions tbody tr").first
    expect(suggestion).to_contain_text(f"#{pair.survivor.pk} Jane Doe")
    expect(suggestion).to_contain_text("same name and address")
    expect(page.locator("#suggestions-built")).to_contain_text("List built")
    page.screenshot(path=SHOTS / "merge_suggestions.png", full_page=True)
    assert CustomerMerge.objects.count() == 0
    # A rebuild asked for from the page runs in the background; the page says so.
    page.click("#suggestions-rebuild [type=submit]")
    expect(message(page, "being rebuilt in the background")).to_be_visible()

    # The agent merges from the customers list: both records selected, the action.
    page.goto(f"{live_server.url}/admin/customers/customer/?q=Doe")
    for customer in (pair.survivor, pair.duplicate):
        page.locator(f"input.action-select[value='{customer.pk}']").check()
    page.select_option("select[name=action]", "merge_duplicates")
    page.click("button[name=index], [type=submit][title='Run the selected action'], .actions button")

    preview = page.locator("#merge-preview")
    expect(preview).to_be_visible()
    counts = page.locator("#merge-counts")
    expect(counts.locator("tr", has_text="orders").first).to_contain_text("2")
    expect(counts.locator("tr", has_text="segment memberships")).to_contain_text("1")
    points = page.locator("#merge-points tr", has_text="EU Store")
    expect(points).to_contain_text("250 (+60 pending)")
    expect(page.locator("#merge-profile")).to_contain_text("Phone “+1 555 0100”")
    page.screenshot(path=SHOTS / "merge_preview.png", full_page=True)

    page.click(f"#merge-confirm [type=submit][value='Merge #{pair.duplicate.pk} into #{pair.survivor.pk}']")
    expect(message(page, f"Customer #{pair.duplicate.pk} merged into #{pair.survivor.pk}.")).to_be_visible()
    expect(page.locator("#merge-moved tr", has_text="orders").first).to_contain_text("2")
    assert Order.objects.filter(customer=pair.survivor).count() == 3
    page.screenshot(path=SHOTS / "merge_done.png", full_page=True)

    page.click("#undo-form [type=submit]")
    expect(message(page, "Merge undone")).to_be_visible()
    expect(page.locator("#merge-undone")).to_be_visible()
    assert Order.objects.filter(customer=pair.duplicate).count() == 2
    assert CustomerMerge.objects.get().undone_at is not None
    page.screenshot(path=SHOTS / "merge_undone.png", full_page=True)
