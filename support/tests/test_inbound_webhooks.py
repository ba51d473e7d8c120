"""Providers' inbound webhooks (django-anymail) take a customer's reply into its ticket:
signed requests in Mailgun's and Postmark's own formats; a bad signature writes nothing."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from customers.tests.factories import CustomerFactory
from messaging.tests.fixtures import branded_shop
from support.models import InboundEmail, Ticket, TicketAttachment
from support.tests.inbound_mail import reply_to, sent_email
from support.tickets import TicketData, ticket_open

pytestmark = pytest.mark.django_db

SIGNING_KEY = "key-inbound-test-0123456789"
BASIC = "anymail-user:s3cret-pass"


@pytest.fixture
def thread(django_user_model, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    shop = branded_shop()
    customer = CustomerFactory(email="ann@example.com", first_name="Ann")
    ticket, _ = ticket_open(customer=customer, shop=shop, data=TicketData(subject="Broken lid", body="Hi"))
    agent = django_user_model.objects.create_user(username="bo", is_staff=True)
    return ticket, sent_email(ticket, agent)


def mailgun_form(raw: bytes, recipient: str, key: str = SIGNING_KEY) -> dict:
    """Mailgun's forward() to a ``…/inbound_mime/`` URL: the raw MIME, the envelope, and the
    signature over timestamp and token with the webhook signing key."""
    timestamp, token = str(int(time.time())), "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "recipient": recipient,
        "sender": "ann@example.com",
        "from": "Ann Lee <ann@example.com>",
        "subject": "Re: Broken lid",
        "body-mime": raw.decode(),
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }


def test_a_mailgun_inbound_post_adds_the_reply_to_its_ticket(client, settings, thread):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    ticket, wire = thread
    raw = reply_to(wire, "Sent by Mailgun", to="hello@acme.example", threading=False)  # the envelope names the ticket
    url = reverse("anymail:mailgun_inbound_webhook")
    form = mailgun_form(raw, recipient=wire["Reply-To"])

    first = client.post(url.replace("inbound/", "inbound_mime/"), form)
    retried = client.post(url.replace("inbound/", "inbound_mime/"), form)  # Mailgun retries until a 200

    assert (first.status_code, retried.status_code) == (200, 200)
    email = InboundEmail.objects.get()
    assert (email.via, email.outcome, email.ticket_id) == ("mailgun", "appended", ticket.pk)
    assert email.recipient == wire["Reply-To"].lower()
    assert ticket.messages.filter(author_kind="customer").last().text == "Sent by Mailgun"


def test_a_mailgun_post_with_a_wrong_signature_is_refused_and_writes_nothing(client, settings, thread):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    ticket, wire = thread
    form = mailgun_form(reply_to(wire, "Forged"), recipient=wire["Reply-To"], key="not-the-key")

    response = client.post("/anymail/mailgun/inbound_mime/", form)

    assert response.status_code == 400
    assert not InboundEmail.objects.exists() and ticket.messages.count() == 2


def postmark_payload(wire, text: str) -> dict:
    """Postmark's inbound JSON (parsed fields; no RawEmail), as its docs and anymail's tests
    show it: the Return-Path first among Headers, the threading headers among them."""
    return {
        "FromName": "Ann Lee",
        "MessageStream": "inbound",
        "From": "ann@example.com",
        "FromFull": {"Email": "ann@example.com", "Name": "Ann Lee", "MailboxHash": ""},
        "To": wire["Reply-To"],
        "ToFull": [
            {"Email": wire["Reply-To"], "Name": "", "MailboxHash": wire["Reply-To"].split("+")[1].split("@")[0]}
        ],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": wire["Reply-To"],
        "Subject": f"Re: {wire['Subject']}",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": "Fri, 4 Dec 2026 10:30:00 +0000",
        "TextBody": text,
        "HtmlBody": "",
        "StrippedTextReply": text.split("\n\n")[0],
        "Tag": "",
        "Headers": [
            {"Name": "Return-Path", "Value": "<ann@example.com>"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "Message-ID", "Value": "<CAF8sQ2x9@mail.example.net>"},
            {"Name": "In-Reply-To", "Value": wire["Message-ID"]},
            {"Name": "References", "Value": f"{wire['References']} {wire['Message-ID']}"},
        ],
        "Attachments": [
            {
                "Name": "lid.png",
                "Content": base64.b64encode(b"\x89PNG fake").decode(),
                "ContentType": "image/png",
                "ContentLength": 9,
            }
        ],
    }


def test_a_postmark_inbound_post_with_basic_auth_adds_the_reply_and_its_file(client, settings, thread):
    settings.ANYMAIL = {"WEBHOOK_SECRET": BASIC}
    ticket, wire = thread
    payload = json.dumps(postmark_payload(wire, "The lid photo.\n\nOn Fri, Acme wrote:\n> old"))
    auth = "Basic " + base64.b64encode(BASIC.encode()).decode()
    url = reverse("anymail:postmark_inbound_webhook")

    refused = client.post(url, payload, content_type="application/json")
    wrong = client.post(url, payload, content_type="application/json", HTTP_AUTHORIZATION="Basic eDp5")
    assert (refused.status_code, wrong.status_code) == (400, 400)
    assert not InboundEmail.objects.exists()

    response = client.post(url, payload, content_type="application/json", HTTP_AUTHORIZATION=auth)

    assert response.status_code == 200
    email = InboundEmail.objects.get()
    assert (email.via, email.outcome, email.ticket_id) == ("postmark", "appended", ticket.pk)
    assert email.message_key == "<CAF8sQ2x9@mail.example.net>"
    message = email.ticket_message
    assert message.text == "The lid photo."
    (attachment,) = TicketAttachment.objects.filter(message=message)
    assert (attachment.filename, attachment.file.read()) == ("lid.png", b"\x89PNG fake")


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
@pytest.mark.parametrize("auth", [{}, {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(BASIC.encode()).decode()}])
def test_a_postmark_inbound_post_is_refused_while_no_webhook_secret_is_set(client, settings, thread, auth):
    """Postmark has only basic auth: without ANYMAIL_WEBHOOK_SECRET anyone could post a reply
    into any ticket, or open tickets (messaging/webhook_auth.py)."""
    settings.ANYMAIL = {}
    ticket, wire = thread
    payload = json.dumps(postmark_payload(wire, "Forged reply."))

    response = client.post(
        reverse("anymail:postmark_inbound_webhook"), payload, content_type="application/json", **auth
    )

    assert response.status_code == 403
    assert "webhook secret is not configured" in response.json()["detail"]
    assert not InboundEmail.objects.exists()
    assert (Ticket.objects.count(), ticket.messages.count()) == (1, 2)


GARBAGE = {
    "not-json": ("text/plain", b"this is not json"),
    "json-array": ("application/json", b"[1, 2]"),
    "form": ("application/x-www-form-urlencoded", b"From=ann%40example.com&TextBody=hi"),
    "not-utf8": ("application/json", b"\xff\xfe{"),
    "signature-a-string": ("application/json", b'{"signature": "str"}'),
}
INBOUND_PATHS = [
    "/anymail/postmark/inbound/",
    "/anymail/sendgrid/inbound/",
    "/anymail/mailgun/inbound/",
    "/anymail/mailgun/inbound_mime/",
]


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")
@pytest.mark.parametrize(
    "path, body",
    [
        pytest.param(path, body, id=f"{path.split('/')[2]}-{path.split('/')[3]}-{name}")
        for path in INBOUND_PATHS
        for name, body in GARBAGE.items()
        # A JSON object is Postmark's format: an email with no fields, taken like any other.
        if not (path == "/anymail/postmark/inbound/" and name == "signature-a-string")
    ],
)
def test_an_inbound_body_anymail_cannot_read_is_a_400_that_writes_nothing(settings, thread, path, body):
    settings.ANYMAIL = {"WEBHOOK_SECRET": BASIC, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    ticket, _ = thread
    content_type, data = body
    auth = "Basic " + base64.b64encode(BASIC.encode()).decode()
    client = Client(raise_request_exception=False)

    response = client.post(path, data, content_type=content_type, HTTP_AUTHORIZATION=auth)

    assert response.status_code == 400, response.content
    assert not InboundEmail.objects.exists()
    assert (Ticket.objects.count(), ticket.messages.count()) == (1, 2)


@pytest.mark.parametrize(
    "error, status",
    [(OperationalError("server closed the connection unexpectedly"), 503), (ValueError("a bug of ours"), 500)],
    ids=["database-down", "bug-in-the-desk"],
)
def test_an_error_while_taking_the_email_stays_a_5xx_for_the_provider_to_retry(
    settings, thread, monkeypatch, error, status
):
    """Only anymail failing to read the body is the sender's fault (400); the desk failing
    to take a readable email is ours, and the provider must send it again."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": BASIC}
    _, wire = thread

    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr("support.inbound.webhooks.inbound_receive_anymail", fails)
    client = Client(raise_request_exception=False)
    auth = "Basic " + base64.b64encode(BASIC.encode()).decode()
    payload = json.dumps(postmark_payload(wire, "The lid photo."))

    response = client.post(
        "/anymail/postmark/inbound/", payload, content_type="application/json", HTTP_AUTHORIZATION=auth
    )

    assert response.status_code == status
    assert not InboundEmail.objects.exists()
