"""A marketer builds and sends a campaign in a real browser: names it, picks the shop and
a segment and watches the audience count follow, writes the variant, saves, previews it
for a customer of the audience, presses Send now, confirms, and reads the results. The
screenshots are kept in build/screenshots/."""

import pytest
from django.contrib.auth.models import Group

from campaigns.campaigns.sending import campaigns_send_due
from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.campaign_data import customer, segment
from crm.roles import MARKETER
from messaging.sending import messages_send
from messaging.services import suppression_add
from messaging.tests.fixtures import branded_shop
from tests.conftest import SHOTS
from tests.test_browser_dashboard import problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_builds_previews_and_sends_a_campaign(browser_login, django_user_model, live_server, smtp, any_hour):
    user = django_user_model.objects.create_user(
        "mia", password="marketer-pass-1", is_staff=True, email="mia@merchant.example"
    )
    user.groups.add(Group.objects.get(name=MARKETER))
    shop = branded_shop()
    people = [customer(shop, first_name=name, email=f"{name.lower()}@example.com") for name in ("Ann", "Bob", "Cy")]
    people.append(customer(shop, consent=False, email="dee@example.com"))
    suppression_add(address="cy@example.com", reason="hard_bounce")
    vip = segment("VIP", people)
    segment("Nobody", [])

    page = browser_login("mia", "marketer-pass-1")
    errors = problems(page)
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Spring sale")
    page.select_option("#id_shop", str(shop.pk))
    page.get_by_label("VIP").first.check()
    count = page.locator("#audience .audience-count")
    count.filter(has_text="Reaches 2 of 4").wait_for()
    assert "1 left out: no marketing consent for this shop" in page.locator("#audience").inner_text()
    assert "1 left out: suppressed" in page.locator("#audience").inner_text()
    page.fill("#id_variants-0-label", "A")
    page.fill("#id_variants-0-subject", "Spring is here, {{ customer.first_name }}")
    page.fill("#id_variants-0-body", "<p>Dear {{ customer.first_name }}, ten per cent off all week.</p>")
    page.screenshot(path=str(SHOTS / "campaign_new.png"), full_page=True)
    page.locator("[name=_continue]").first.click()

    made = Campaign.objects.get()
    assert list(made.segments.all()) == [vip]
    page.fill("#preview-customer", "bob@example.com")
    page.click("input[type=submit][value=Preview]")
    frame = page.locator("#preview iframe").content_frame
    assert "Dear Bob, ten per cent off all week." in frame.locator("body").inner_text()
    page.screenshot(path=str(SHOTS / "campaign_preview.png"), full_page=True)

    page.get_by_role("link", name="Send now").click()
    assert "Send now: “Spring sale”?" in page.locator(".campaign-confirm").inner_text()
    assert "It reaches 2 of 4 customers" in page.locator(".campaign-confirm").inner_text()
    page.screenshot(path=str(SHOTS / "campaign_confirm.png"), full_page=True)
    page.get_by_role("button", name="Yes, send now").click()
    page.wait_for_url(f"**/admin/campaigns/campaign/{made.pk}/change/")

    campaigns_send_due()  # the periodic pass (it also ran after the commit, where tasks run in-process)
    messages_send()
    made.refresh_from_db()
    assert made.status == CampaignStatus.SENT
    assert sorted(m["To"] for m in smtp.messages()) == ["ann@example.com", "bob@example.com"]
    page.reload()
    results = page.locator("#results tbody tr").first.inner_text().split("\t")
    assert results[:4] == ["A", "2", "2", "2"]
    assert results[8:10] == ["0 (0.0 %)", "0.00 USD"]  # conversions and revenue per customer: no order yet
    assert page.locator("#results svg.results-chart").is_visible()
    assert "When sending started it reached 2 of 4" in page.locator("#audience").inner_text()
    page.locator("#preview iframe").content_frame.get_by_text("Dear Ann, ten per cent off all week.").wait_for()
    page.screenshot(path=str(SHOTS / "campaign_sent.png"), full_page=True)
    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    assert "Opens (unreliable)" in page.locator("#result_list").inner_text()
    page.screenshot(path=str(SHOTS / "campaign_list.png"), full_page=True)
    assert errors == []
