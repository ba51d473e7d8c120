"""A marketer reads a sent message in a real browser: the HTML drawn in its sandboxed frame
(styles inlined, the shop's colour and footer), the text and the history. The screenshot is
kept in build/screenshots/ as the test's artefact."""

import pytest
from django.contrib.auth.models import Group

from crm.roles import MARKETER
from customers.tests.factories import CustomerFactory
from messaging.sending import messages_send
from messaging.services import message_queue
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
