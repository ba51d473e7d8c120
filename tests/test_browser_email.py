"""A marketer reads a sent message in a real browser: the HTML drawn in its sandboxed frame
(styles inlined, the shop's colour and footer), the text and the history; and each shop's
complaint rate above the log. The screenshots are kept in build/screenshots/ as the tests'
artefacts."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import timezone

from crm.roles import MARKETER
from customers.tests.factories import CustomerFactory, ShopFactory
from messaging.models import Message
from messaging.selectors import SENDER_HEALTH_CACHE_KEY
from messaging.sending import messages_send
from messaging.services import MessageRequest, message_queue, messages_queue
from messaging.tests.fixtures import branded_shop
from tests.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_marketer_reads_a_sent_message_with_its_html_in_a_sandboxed_frame(
    browser_login, django_user_model, live_server
):
    user = django_user_model.objects.create_user("mia", password="marketer-pass-1", is_staff=True)
    user.groups.add(Group.objects.get(name=MARKETER))
    shop = branded_shop()
    customer = CustomerFactory(first_name="Ann", last_name="Lee", email="ann@example.com")
    message = message_queue(key="welcome:ann", template="test", customer_id=customer.pk, shop_id=shop.pk)
    messages_send()

    page = browser_login("mia", "marketer-pass-1")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/admin/messaging/message/{message.pk}/change/")

    frame_element = page.locator("iframe.email-html")
    assert frame_element.get_attribute("sandbox") == ""
    frame = frame_element.content_frame
    heading = frame.locator("h1")
    assert heading.inner_text() == "Hello Ann,"
    # The style sheet was inlined: the shop's colour on the header's border.
    border = frame.locator(".header").evaluate("e => getComputedStyle(e).borderBottomColor")
    assert border == "rgb(170, 51, 0)"
    assert "1 Bean Street, Leeds" in frame.locator(".footer").inner_text()
    assert "Hello Ann," in page.locator("pre.email-text").inner_text()
    assert page.get_by_text("Acme Coffee <hello@acme.example>").first.is_visible()
    page.screenshot(path=str(SHOTS / "email_message_detail.png"), full_page=True)
    assert [e for e in errors if "Content Security Policy" in e] == []


def test_a_marketer_sees_each_shops_complaint_rate_above_the_log(browser_login, django_user_model, live_server):
    user = django_user_model.objects.create_user("mia", password="marketer-pass-1", is_staff=True)
    user.groups.add(Group.objects.get(name=MARKETER))
    for name, n, complained in (("Acme Coffee", 1000, 4), ("Bean Box", 600, 1), ("Tea Hut", 200, 0)):
        shop = ShopFactory(name=name)
        rows = messages_queue(
            [
                MessageRequest(key=f"{name}:{i}", template="test", shop_id=shop.pk, to_email=f"p{i}@ex.com")
                for i in range(n)
            ]
        )
        pks = [m.pk for m in rows]
        Message.objects.filter(pk__in=pks).update(status="delivered", sent_at=timezone.now() - timedelta(days=2))
        Message.objects.filter(pk__in=pks[:complained]).update(status="complained")

    cache.delete(SENDER_HEALTH_CACHE_KEY)  # counted afresh, not as an earlier test left it
    page = browser_login("mia", "marketer-pass-1")
    page.goto(f"{live_server.url}/admin/messaging/message/")

    panel = page.locator("#sender-health")
    assert panel.is_visible()
    rows = panel.locator("tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).inner_text().split("\t")[:3] == ["Acme Coffee", "4", "0.40 % of 1,000 delivered, 30 days"]
    assert "Over the limit" in rows.nth(0).inner_text()
    assert "Above 0.1 %" in rows.nth(1).inner_text() and "0.17 % of 600 delivered" in rows.nth(1).inner_text()
    assert "Fine" in rows.nth(2).inner_text()
    alarm = rows.nth(0).locator(".health-alarm").evaluate("e => getComputedStyle(e).color")
    assert alarm == "rgb(180, 35, 24)"
    panel.screenshot(path=str(SHOTS / "email_complaint_rate.png"))
    page.screenshot(path=str(SHOTS / "email_log_with_complaint_rate.png"), full_page=True)


def test_a_marketer_previews_a_template_for_a_customer_in_the_themes_form(
    browser_login, django_user_model, live_server
):
    user = django_user_model.objects.create_user(
        "mia", password="marketer-pass-1", is_staff=True, email="mia@merchant.example"
    )
    user.groups.add(Group.objects.get(name=MARKETER))
    shop = branded_shop()
    CustomerFactory(first_name="Ann", last_name="Lee", email="ann@example.com")

    page = browser_login("mia", "marketer-pass-1")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/admin/messaging/message/preview/")
    page.select_option("#id_template", "ticket_reply")
    page.select_option("#id_shop", str(shop.pk))
    page.fill("#id_customer", "ann@example.com")
    page.click("input[type=submit][value=Preview]")

    assert page.get_by_text("Subject: Re: Where is my parcel? [#1042]").is_visible()
    assert "It left our warehouse today" in page.locator("iframe").first.content_frame.locator("body").inner_text()
    # The theme's controls, not the browser's bare ones.
    assert "border" in (page.locator("#id_template").get_attribute("class") or "")
    assert page.get_by_role("button", name="Send a test to mia@merchant.example").is_visible()
    page.screenshot(path=str(SHOTS / "email_preview.png"), full_page=True)
