"""One-click unsubscribe (RFC 8058): the headers on the wire (through a real SMTP server),
the page a GET shows, the POST that unsubscribes with no login, and a bad token."""

import re
from urllib.parse import unquote

import pytest
from django.core import signing
from django.test import Client

from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.tests.factories import ShopFactory
from messaging.consent import unsubscribe_via_mail
from messaging.models import Message, MessageStatus, Suppression
from messaging.sending import messages_send
from messaging.services import message_queue

pytestmark = pytest.mark.django_db


def queue(customer, shop, *, key, kind):
    return message_queue(key=key, template="test", customer_id=customer.pk, shop_id=shop.pk, kind=kind)


def sent_marketing(smtp, customer, shop, key="newsletter:1"):
    """Send one marketing message; its wire form and the path of its unsubscribe link."""
    queue(customer, shop, key=key, kind="marketing")
    messages_send()
    wire = smtp.messages()[-1]
    url = re.match(r"<(https://[^>]+)>", wire["List-Unsubscribe"]).group(1)
    return wire, url.removeprefix("https://crm.acme.example")


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_BASE_URL = "https://crm.acme.example/"
    settings.UNSUBSCRIBE_MAILTO = ""


@pytest.fixture
def client():
    # As a mail provider's server posts: no session, no cookie, and CSRF checks on.
    return Client(enforce_csrf_checks=True)


def test_a_marketing_message_carries_the_one_click_headers_and_a_transactional_one_none(smtp, shop, customer):
    queue(customer, shop, key="receipt:1", kind="transactional")
    messages_send()
    wire, path = sent_marketing(smtp, customer, shop)

    [receipt, _] = smtp.messages()
    assert receipt["List-Unsubscribe"] is None and receipt["List-Unsubscribe-Post"] is None
    assert wire["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert path.startswith("/u/")
    message = Message.objects.get(key="newsletter:1")
    # The link names the message by its Message-ID (an HMAC of its key), not by a guessable
    # id, and is signed with a salt no other link of the CRM uses.
    token = path.removeprefix("/u/")
    assert signing.loads(token, salt="messaging.unsubscribe") == message.message_id
    with pytest.raises(signing.BadSignature):
        signing.loads(token, salt="support.csat")
    assert message.headers["List-Unsubscribe"] == wire["List-Unsubscribe"]


def test_a_marketing_messages_footer_links_to_the_same_page_as_its_header_in_both_parts(smtp, shop, customer, client):
    CustomerIdentity.objects.create(shop=shop, customer=customer, external_id="c-1", marketing_consent=True)
    Customer.objects.filter(pk=customer.pk).update(marketing_consent=True)
    queue(customer, shop, key="receipt:1", kind="transactional")
    messages_send()
    wire, path = sent_marketing(smtp, customer, shop)

    html = wire.get_body(("html",)).get_content()
    text = wire.get_body(("plain",)).get_content()
    [footer_link] = re.findall(r'<a href="([^"]+)"[^>]*>Unsubscribe</a>', html)
    assert footer_link == f"https://crm.acme.example{path}"  # one token: the header's
    assert f"[Unsubscribe](https://crm.acme.example{path})" in text
    assert "subscribed to Acme Coffee's emails" in text
    receipt = smtp.messages()[0]
    for part in ("html", "plain"):
        assert "unsubscribe" not in receipt.get_body((part,)).get_content().lower()

    # The footer's link, followed: a page with a button, and nothing changed yet ...
    page = client.get(path)
    assert page.status_code == 200 and ">Unsubscribe</button>" in page.text
    assert not Suppression.objects.exists() and not ConsentEvent.objects.exists()
    # ... and the button's POST unsubscribes.
    done = client.post(path)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert Suppression.objects.get().shop_id == shop.pk
    assert ConsentEvent.objects.get().source == "unsubscribe_link"
    assert CustomerIdentity.objects.get().marketing_consent is False
    assert Customer.objects.get(pk=customer.pk).marketing_consent is False  # no shop of theirs has it now


def test_a_mailto_is_offered_beside_the_link_when_configured(smtp, shop, customer, settings):
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@acme.example"

    wire, _ = sent_marketing(smtp, customer, shop)

    https, mailto = wire["List-Unsubscribe"].split(", ")
    assert https.startswith("<https://crm.acme.example/u/")
    assert mailto.startswith("<mailto:unsubscribe@acme.example?subject=unsubscribe%20") and mailto.endswith(">")


def test_a_post_unsubscribes_at_once_and_later_marketing_is_suppressed_but_not_transactional(
    smtp, shop, customer, client
):
    identity = CustomerIdentity.objects.create(
        shop=shop, customer=customer, external_id="c-1", email=customer.email, marketing_consent=True
    )
    _, path = sent_marketing(smtp, customer, shop)

    # What Gmail's one-click button sends (RFC 8058 section 3.1).
    response = client.post(path, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert "You are unsubscribed" in response.text and "Acme Coffee" in response.text
    [suppression] = Suppression.objects.all()
    assert (suppression.address, suppression.reason) == ("ann@example.com", "unsubscribed")
    assert suppression.shop_id == shop.pk
    identity.refresh_from_db()
    assert identity.marketing_consent is False and identity.marketing_consent_at is not None
    [withdrawal] = ConsentEvent.objects.all()
    assert (withdrawal.customer_id, withdrawal.shop_id, withdrawal.given) == (customer.pk, shop.pk, False)
    assert withdrawal.source == "unsubscribe_link" and withdrawal.at == identity.marketing_consent_at

    offer = queue(customer, shop, key="newsletter:2", kind="marketing")
    reply = queue(customer, shop, key="ticket-reply:9", kind="transactional")
    result = messages_send()

    assert (result.sent, result.suppressed) == (1, 1)
    offer.refresh_from_db()
    reply.refresh_from_db()
    assert offer.status == MessageStatus.SUPPRESSED and reply.status == MessageStatus.SENT
    assert len(smtp.messages()) == 2  # the first newsletter and the reply
    # Another shop of the merchant may still write to them.
    other = queue(customer, ShopFactory(), key="newsletter:other", kind="marketing")
    messages_send()
    other.refresh_from_db()
    assert other.status == MessageStatus.SENT


def test_the_mail_a_client_sends_to_the_mailto_unsubscribes_and_a_hand_written_one_does_nothing(
    smtp, shop, customer, settings
):
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@acme.example"
    CustomerIdentity.objects.create(
        shop=shop, customer=customer, external_id="c-1", email=customer.email, marketing_consent=True
    )
    wire, _ = sent_marketing(smtp, customer, shop)
    mailto = wire["List-Unsubscribe"].split(", ")[1].strip("<>")
    subject = unquote(mailto.partition("?subject=")[2])

    assert unsubscribe_via_mail("Please take me off your list") is None
    assert unsubscribe_via_mail("unsubscribe not-a-token") is None
    assert not Suppression.objects.exists()
    suppression = unsubscribe_via_mail(subject)

    assert suppression is not None and suppression.address == "ann@example.com" and suppression.shop_id == shop.pk
    assert CustomerIdentity.objects.get(customer=customer, shop=shop).marketing_consent is False
    event = ConsentEvent.objects.get(customer=customer, given=False)
    assert event.shown_text == "The List-Unsubscribe mailto of a marketing email."
    assert unsubscribe_via_mail(subject).pk == suppression.pk  # again: nothing new
    assert ConsentEvent.objects.filter(customer=customer, given=False).count() == 1


def test_a_second_post_changes_nothing_and_says_the_same(smtp, shop, customer, client):
    _, path = sent_marketing(smtp, customer, shop)

    assert client.post(path).status_code == 200
    response = client.post(path)

    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert Suppression.objects.count() == 1 and ConsentEvent.objects.count() == 1


def test_a_get_shows_a_button_and_never_unsubscribes(smtp, shop, customer, client):
    _, path = sent_marketing(smtp, customer, shop)

    response = client.get(path)

    assert response.status_code == 200
    assert '<form method="post"' in response.text and ">Unsubscribe</button>" in response.text
    assert "ann@example.com" in response.text and "Acme Coffee" in response.text
    assert not Suppression.objects.exists()
    assert client.head(path).status_code == 200  # a link checker's probe
    assert not Suppression.objects.exists() and not ConsentEvent.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_or_made_up_token_gets_a_400_page(smtp, shop, customer, client, method):
    _, path = sent_marketing(smtp, customer, shop)
    tampered = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")

    for bad in (tampered, "/u/1", "/u/not-a-token"):
        response = getattr(client, method)(bad)
        assert response.status_code == 400
        assert "This unsubscribe link is not valid." in response.text
    assert not Suppression.objects.exists()
