"""Tracked links and the open pixel: signed redirects only to the signed address, the CRM's
UTM parameters, one click event per link, nothing for HEAD, and a tampered token refused."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client

from messaging import links
from messaging.models import Message, MessageEvent, MessageStatus
from messaging.sending import messages_send
from messaging.services import message_queue

pytestmark = pytest.mark.django_db
BODY = (
    '<html><body><p><a href="https://shop.example/sale?colour=red&amp;size=m">Sale</a> '
    "<a href='mailto:help@shop.example'>Write</a> "
    '<a class="x" href="https://crm.acme.example/u/abc">Unsubscribe</a> '
    '<a href="https://shop.example/p?utm_source=newsletter">Kept</a></p></body></html>'
)


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_BASE_URL = "https://crm.acme.example"


def marketing(customer, shop, key="email:12:7") -> Message:
    return message_queue(key=key, template="test", customer_id=customer.pk, shop_id=shop.pk, kind="marketing")


def hrefs(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r"""href=["']([^"']+)""", html)]


def test_links_are_signed_redirects_with_the_crm_utm(shop, customer):
    message = marketing(customer, shop)
    out = links.track_html(message, BODY)
    sale, mail, unsub, kept = hrefs(out)
    assert mail == "mailto:help@shop.example" and unsub == "https://crm.acme.example/u/abc"
    assert sale.startswith("https://crm.acme.example/e/c/")
    message_id, url = links.click_target(sale.rsplit("/", 1)[1])
    assert message_id == message.pk
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "colour": ["red"],
        "size": ["m"],
        "utm_source": ["crm"],
        "utm_medium": ["email"],
        "utm_campaign": ["email:12"],
    }
    _, kept_url = links.click_target(kept.rsplit("/", 1)[1])
    assert parse_qs(urlsplit(kept_url).query)["utm_source"] == ["newsletter"]  # the author's, kept
    assert 'src="https://crm.acme.example/e/o/' in out and out.endswith("</body></html>")


def test_the_text_parts_links_go_through_the_same_redirect(shop, customer):
    message = marketing(customer, shop)
    text = "[Sale](https://shop.example/sale?colour=red) or https://shop.example/new.\nLeave: https://crm.acme.example/u/abc\n"
    out = links.track_text(message, text)
    sale, new = re.findall(r"https://crm\.acme\.example/e/c/[^\s)]+", out)
    assert links.click_target(sale.rsplit("/", 1)[1]) == (
        message.pk,
        "https://shop.example/sale?colour=red&utm_source=crm&utm_medium=email&utm_campaign=email%3A12",
    )
    assert new.endswith(".")  # the sentence's full stop stays after the address
    assert links.click_target(new[:-1].rsplit("/", 1)[1])[1].startswith("https://shop.example/new?utm_source=crm")
    assert out.startswith("[Sale](https://crm.acme.example/e/c/") and "Leave: https://crm.acme.example/u/abc" in out
    receipt = message_queue(key="receipt:2", template="test", customer_id=customer.pk, shop_id=shop.pk)
    assert links.track_text(receipt, text) == text


def test_a_transactional_message_is_left_alone(shop, customer):
    message = message_queue(key="receipt:1", template="test", customer_id=customer.pk, shop_id=shop.pk)
    assert links.track_html(message, BODY) == BODY


def test_a_sent_marketing_message_carries_the_pixel(smtp, shop, customer):
    marketing(customer, shop)
    messages_send()
    message = Message.objects.get(key="email:12:7")
    assert "/e/o/" in message.html


def test_a_click_records_once_per_link_and_redirects(shop, customer):
    message = marketing(customer, shop)
    sale = hrefs(links.track_html(message, BODY))[0].removeprefix("https://crm.acme.example")
    client = Client()
    head = client.head(sale)
    assert head.status_code == 302 and not MessageEvent.objects.filter(message=message).exists()
    for _ in range(2):
        response = client.get(sale)
        assert response.status_code == 302
        assert response["Location"].startswith("https://shop.example/sale?colour=red&size=m&utm_source=crm")
    [event] = MessageEvent.objects.filter(message=message)
    assert event.status == MessageStatus.CLICKED and event.detail.startswith("https://shop.example/sale")


def test_a_tampered_or_forged_link_is_refused_never_redirected(shop, customer):
    message = marketing(customer, shop)
    client = Client()
    token = links.click_url(message, "https://shop.example/a").rsplit("/", 1)[1]
    value, rest = token.split(":", 1)
    forged = signing.dumps({"m": message.pk, "u": "https://evil.example/"}, salt="another.salt", compress=True)
    for bad in (value[:-2] + "AA:" + rest, forged, "nonsense", token + "x"):
        response = client.get(f"/e/c/{bad}")
        assert response.status_code == 400 and "Location" not in response
    # Signed, but not a web address: refused as well.
    script = signing.dumps({"m": message.pk, "u": "javascript:alert(1)"}, salt=links.CLICK_SALT)
    assert client.get(f"/e/c/{script}").status_code == 400
    # Signed for a message that is gone: 404.
    gone = links.click_url(message, "https://shop.example/a").rsplit("/", 1)[1]
    Message.objects.filter(pk=message.pk).delete()
    response = client.get(f"/e/c/{gone}")
    assert response.status_code == 404 and "Location" not in response
    assert not MessageEvent.objects.exists()


def test_the_open_pixel_records_one_open(shop, customer):
    message = marketing(customer, shop)
    path = links.open_url(message).removeprefix("https://crm.acme.example")
    client = Client()
    assert client.head(path).status_code == 200
    assert not MessageEvent.objects.exists()
    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert MessageEvent.objects.filter(message=message, status=MessageStatus.OPENED).count() == 1
    assert client.get("/e/o/forged.gif").status_code == 404


def sent(customer, shop, key="email:12:7") -> tuple[Message, str, str]:
    """A marketing message sent over SMTP, with its tracked sale link and open pixel as paths."""
    marketing(customer, shop, key=key)
    messages_send()
    message = Message.objects.get(key=key)
    assert message.status == MessageStatus.SENT
    base = "https://crm.acme.example"
    click = next(h for h in hrefs(message.html) if h.startswith(f"{base}/e/c/")).removeprefix(base)
    [pixel] = re.findall(rf'src="{base}(/e/o/[^"]+)"', message.html)
    return message, click, pixel


def status_of(message: Message) -> str:
    return Message.objects.values_list("status", flat=True).get(pk=message.pk)


def test_an_open_then_a_click_through_the_crms_links_move_the_message_to_opened_then_clicked(smtp, shop, customer):
    message, click, pixel = sent(customer, shop)
    client = Client()
    assert client.head(pixel).status_code == 200 and client.head(click).status_code == 302
    assert status_of(message) == MessageStatus.SENT  # a probe is not an open

    assert client.get(pixel).status_code == 200
    assert status_of(message) == MessageStatus.OPENED
    assert client.get(click).status_code == 302
    assert status_of(message) == MessageStatus.CLICKED
    tracked = MessageEvent.objects.filter(message=message, provider_event="crm").order_by("pk")
    assert list(tracked.values_list("status", flat=True)) == [MessageStatus.OPENED, MessageStatus.CLICKED]


def test_a_clicked_message_stays_clicked_after_a_later_open(smtp, shop, customer):
    message, click, pixel = sent(customer, shop)
    client = Client()
    client.get(click)
    assert status_of(message) == MessageStatus.CLICKED

    assert client.get(pixel).status_code == 200

    assert status_of(message) == MessageStatus.CLICKED
    assert MessageEvent.objects.filter(message=message, status=MessageStatus.OPENED).count() == 1  # in its history


@pytest.mark.parametrize(
    ("before", "after_click"),
    [
        (MessageStatus.DELIVERED, MessageStatus.CLICKED),
        # As a provider's click does: the provider reported a failure, yet the person clicked.
        (MessageStatus.FAILED, MessageStatus.CLICKED),
        (MessageStatus.BOUNCED, MessageStatus.BOUNCED),
        (MessageStatus.COMPLAINED, MessageStatus.COMPLAINED),
        # Not marked sent yet, or never sent: left alone, the click is in the history.
        (MessageStatus.QUEUED, MessageStatus.QUEUED),
        (MessageStatus.SENDING, MessageStatus.SENDING),
        (MessageStatus.SUPPRESSED, MessageStatus.SUPPRESSED),
    ],
)
def test_a_click_moves_the_status_as_a_providers_click_would(smtp, shop, customer, before, after_click):
    message, click, pixel = sent(customer, shop)
    Message.objects.filter(pk=message.pk).update(status=before)

    assert Client().get(click).status_code == 302
    assert status_of(message) == after_click
    assert MessageEvent.objects.filter(message=message, status=MessageStatus.CLICKED).count() == 1

    Client().get(pixel)
    assert status_of(message) == after_click
