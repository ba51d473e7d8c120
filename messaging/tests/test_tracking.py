"""The providers' tracking webhooks (messaging/tracking.py), end to end: a message is sent
through the provider's real anymail backend to a local HTTP server that answers as the
provider's API does (so the provider's message id is recorded the way it is in production),
then the provider's signed webhook, in the provider's own payload format, is posted to
anymail's URL.

Mailgun: one JSON event per POST, HMAC-SHA256 signed with the webhook signing key.
Mandrill: batches of up to a thousand events, form-encoded, HMAC-SHA1 over the URL and the
fields. Postmark: one JSON event per POST, HTTP basic auth (anymail's WEBHOOK_SECRET)."""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from customers.models import ConsentEvent, CustomerIdentity
from customers.tests.factories import CustomerFactory, ShopFactory
from messaging.models import Message, MessageEvent, MessageStatus, Suppression
from messaging.sending import messages_send
from messaging.services import message_queue

pytestmark = pytest.mark.django_db

MAILGUN_KEY = "key-mailgun-webhook-signing-0123456789"
MANDRILL_KEY = "mandrill-webhook-key-abcdef"
WEBHOOK_SECRET = "crm:s3cret-webhook"


class FakeProviderApi:
    """A local HTTP server that answers a provider's send API with ``answer(body)``."""

    def __init__(self, answer):
        outer = self
        self.answer = answer
        self.requests: list[tuple[str, bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, body))
                payload = json.dumps(outer.answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def client():
    # As a provider's server posts: no session, no cookie, CSRF checks on.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def mailgun(settings):
    """Sending through anymail's Mailgun backend to a fake Mailgun API, which answers with a
    Mailgun message id; its tracking webhook signed with ``MAILGUN_KEY``."""
    api = FakeProviderApi(lambda body: {"id": f"<{uuid.uuid4().hex}@mg.acme.example>", "message": "Queued. Thank you."})
    settings.MESSAGING_MAILER = {"BACKEND": "anymail.backends.mailgun.EmailBackend"}
    settings.EMAIL_RATE_PER_SECOND = 0
    settings.ANYMAIL = {
        "MAILGUN_API_KEY": "key-api",
        "MAILGUN_API_URL": f"{api.url}/v3",
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    }
    yield api
    api.close()


@pytest.fixture
def mandrill(settings):
    def answer(body):
        sent = json.loads(body)["message"]["to"]
        return [{"email": to["email"], "status": "sent", "_id": uuid.uuid4().hex, "reject_reason": None} for to in sent]

    api = FakeProviderApi(answer)
    settings.MESSAGING_MAILER = {"BACKEND": "anymail.backends.mandrill.EmailBackend"}
    settings.EMAIL_RATE_PER_SECOND = 0
    settings.ANYMAIL = {"MANDRILL_API_KEY": "md-api", "MANDRILL_API_URL": api.url, "MANDRILL_WEBHOOK_KEY": MANDRILL_KEY}
    yield api
    api.close()


def sent(customer, shop, *, key="newsletter:1", kind="marketing") -> Message:
    message_queue(key=key, template="test", customer_id=customer.pk, shop_id=shop.pk, kind=kind)
    messages_send()
    message = Message.objects.get(key=key)
    assert message.status == MessageStatus.SENT
    return message


def consenting(customer, shop) -> CustomerIdentity:
    return CustomerIdentity.objects.create(
        shop=shop, customer=customer, external_id=f"c-{customer.pk}", email=customer.email, marketing_consent=True
    )


def provider_events(message):
    return list(MessageEvent.objects.filter(message=message).exclude(provider_event="").order_by("at", "id"))


# --- Mailgun ------------------------------------------------------------------------------


def mailgun_signature(key=MAILGUN_KEY, *, token=None, timestamp=None) -> dict:
    token = token or uuid.uuid4().hex
    timestamp = str(timestamp or int(time.time()))
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": digest}


def mailgun_event(message: Message, event: str, *, at: float, **fields) -> dict:
    """An event as Mailgun's webhooks post it ("event-data"; documentation's examples)."""
    data = {
        "id": uuid.uuid4().hex[:22],
        "timestamp": at,
        "log-level": "info",
        "event": event,
        "envelope": {"transport": "smtp", "sender": "hello@acme.example", "targets": message.to_email},
        "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False},
        "message": {
            "headers": {
                "to": message.to_email,
                "message-id": message.provider_message_id.strip("<>"),
                "from": "Acme Coffee <hello@acme.example>",
                "subject": message.subject,
            },
            "attachments": [],
            "size": 4012,
        },
        "recipient": message.to_email,
        "recipient-domain": message.to_email.partition("@")[2],
        "campaigns": [],
        "tags": [],
        "user-variables": {"message_key": message.key},
    }
    data.update(fields)
    return data


def mailgun_post(client, event_data, *, signature=None, **extra):
    body = {"signature": signature or mailgun_signature(), "event-data": event_data}
    return client.post("/anymail/mailgun/tracking/", json.dumps(body), content_type="application/json", **extra)


DELIVERED = {"delivery-status": {"tls": True, "code": 250, "message": "OK", "description": "", "attempt-no": 1}}
PERMANENT = {
    "severity": "permanent",
    "reason": "bounce",
    "delivery-status": {
        "attempt-no": 1,
        "code": 550,
        "message": "5.1.1 The email account that you tried to reach does not exist.",
        "description": "",
    },
}
TEMPORARY = {
    "severity": "temporary",
    "reason": "generic",
    "delivery-status": {
        "attempt-no": 1,
        "code": 452,
        "message": "4.2.2 The email account is over quota.",
        "description": "",
    },
}


def test_mailgun_delivered_moves_the_message_forward_and_records_it(mailgun, client, shop, customer):
    message = sent(customer, shop)
    assert message.provider_message_id.endswith("@mg.acme.example>")  # Mailgun's answer, kept

    response = mailgun_post(client, mailgun_event(message, "delivered", at=1767225600.25, **DELIVERED))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    [event] = provider_events(message)
    assert (event.status, event.provider_event) == ("delivered", "delivered")
    assert event.at == datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
    assert event.detail == "Mailgun: delivered: OK"
    assert not Suppression.objects.exists()


def test_mailgun_permanent_failure_is_a_hard_bounce_for_every_shop_and_stops_later_mail(
    mailgun, client, shop, customer
):
    message = sent(customer, shop, kind="transactional")

    assert mailgun_post(client, mailgun_event(message, "failed", at=1767225600, **PERMANENT)).status_code == 200

    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    [suppression] = Suppression.objects.all()
    assert (suppression.address, suppression.reason, suppression.shop_id) == ("ann@example.com", "hard_bounce", None)
    reason, _, message_part = suppression.detail.rpartition(" (message ")  # the id may hold "550" too
    assert "550" not in reason and "does not exist" in reason and message_part == f"{message.pk})"
    # Nothing more goes to the address, from any shop, transactional mail included.
    later = message_queue(key="ticket-reply:1", template="test", customer_id=customer.pk, shop_id=ShopFactory().pk)
    assert messages_send().suppressed == 1
    later.refresh_from_db()
    assert later.status == MessageStatus.SUPPRESSED


def test_mailgun_temporary_failure_is_a_deferral_that_suppresses_nothing(mailgun, client, shop, customer):
    message = sent(customer, shop)

    assert mailgun_post(client, mailgun_event(message, "failed", at=1767225600, **TEMPORARY)).status_code == 200

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    [event] = provider_events(message)
    assert event.provider_event == "deferred" and "over quota" in event.detail
    assert not Suppression.objects.exists()


def test_mailgun_complaint_suppresses_the_shop_and_withdraws_consent(mailgun, client, shop, customer):
    identity = consenting(customer, shop)
    customer.marketing_consent = True  # merged: given while any shop has it
    customer.save()
    message = sent(customer, shop)

    assert mailgun_post(client, mailgun_event(message, "complained", at=1767225600)).status_code == 200

    message.refresh_from_db()
    assert message.status == MessageStatus.COMPLAINED
    [suppression] = Suppression.objects.all()
    assert (suppression.reason, suppression.shop_id) == ("complaint", shop.pk)
    identity.refresh_from_db()
    assert identity.marketing_consent is False
    [withdrawal] = ConsentEvent.objects.all()
    assert (withdrawal.given, withdrawal.source, withdrawal.shop_id) == (False, "provider", shop.pk)
    customer.refresh_from_db()
    assert customer.marketing_consent is False  # no shop has it now


def test_mailgun_unsubscribe_does_what_our_own_unsubscribe_does(mailgun, client, shop, customer):
    identity = consenting(customer, shop)
    message = sent(customer, shop)

    assert mailgun_post(client, mailgun_event(message, "unsubscribed", at=1767225600)).status_code == 200

    [suppression] = Suppression.objects.all()
    assert (suppression.address, suppression.reason, suppression.shop_id) == (
        "ann@example.com",
        "unsubscribed",
        shop.pk,
    )
    identity.refresh_from_db()
    assert identity.marketing_consent is False
    assert ConsentEvent.objects.get().source == "provider"
    # Later marketing from the shop is suppressed; its transactional mail still goes.
    message_queue(key="newsletter:2", template="test", customer_id=customer.pk, shop_id=shop.pk, kind="marketing")
    message_queue(key="receipt:2", template="test", customer_id=customer.pk, shop_id=shop.pk)
    result = messages_send()
    assert (result.sent, result.suppressed) == (1, 1)


def test_mailgun_replayed_webhook_writes_nothing_twice(mailgun, client, shop, customer):
    consenting(customer, shop)
    message = sent(customer, shop)
    complaint = mailgun_event(message, "complained", at=1767225600.5)
    signature = mailgun_signature()

    assert mailgun_post(client, complaint, signature=signature).status_code == 200
    # The very same request again, then Mailgun's retry of it, signed anew.
    assert mailgun_post(client, complaint, signature=signature).status_code == 200
    assert mailgun_post(client, complaint).status_code == 200

    assert len(provider_events(message)) == 1
    assert Suppression.objects.count() == 1 and ConsentEvent.objects.count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        mailgun_signature("not-the-key"),
        {**mailgun_signature(), "token": "swapped-token"},
        {"timestamp": "1767225600", "token": "t"},  # no signature
    ],
    ids=["wrong key", "tampered", "missing"],
)
def test_mailgun_bad_signature_is_a_400_and_writes_nothing(mailgun, client, shop, customer, signature):
    message = sent(customer, shop)

    response = mailgun_post(client, mailgun_event(message, "failed", at=1767225600, **PERMANENT), signature=signature)

    assert response.status_code == 400
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert not provider_events(message) and not Suppression.objects.exists()


def test_events_out_of_order_never_move_a_message_back(mailgun, client, shop, customer):
    message = sent(customer, shop)

    def post(event, at, **fields):
        assert mailgun_post(client, mailgun_event(message, event, at=at, **fields)).status_code == 200
        message.refresh_from_db()
        return message.status

    assert post("opened", 1767225700) == MessageStatus.OPENED
    assert post("delivered", 1767225600, **DELIVERED) == MessageStatus.OPENED  # late, older
    assert post("clicked", 1767225800, url="https://acme.example/beans") == MessageStatus.CLICKED
    assert post("complained", 1767225900) == MessageStatus.COMPLAINED
    assert post("opened", 1767226000) == MessageStatus.COMPLAINED
    assert [e.provider_event for e in provider_events(message)] == [
        "delivered",
        "opened",
        "clicked",
        "complained",
        "opened",
    ]
    clicked = provider_events(message)[2]
    assert clicked.detail == "Mailgun: clicked https://acme.example/beans"


def test_an_event_for_no_message_of_ours_is_accepted_and_writes_nothing(mailgun, client, shop, customer):
    message = sent(customer, shop)
    stranger = mailgun_event(message, "failed", at=1767225600, **PERMANENT)
    stranger["message"]["headers"]["message-id"] = "someone-else@mg.acme.example"
    stranger["user-variables"] = {}

    assert mailgun_post(client, stranger).status_code == 200

    assert not MessageEvent.objects.exclude(provider_event="").exists() and not Suppression.objects.exists()


def test_a_message_is_found_by_its_key_when_the_provider_id_differs(mailgun, client, shop, customer):
    message = sent(customer, shop)
    event = mailgun_event(message, "delivered", at=1767225600, **DELIVERED)
    event["message"]["headers"]["message-id"] = "relayed-by-smtp@mg.acme.example"

    assert mailgun_post(client, event).status_code == 200

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_with_a_webhook_secret_mailgun_also_needs_basic_auth(mailgun, client, shop, customer, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": WEBHOOK_SECRET}
    message = sent(customer, shop)
    event = mailgun_event(message, "delivered", at=1767225600, **DELIVERED)

    assert mailgun_post(client, event).status_code == 400
    assert not provider_events(message)
    auth = "Basic " + base64.b64encode(WEBHOOK_SECRET.encode()).decode()
    assert mailgun_post(client, event, HTTP_AUTHORIZATION=auth).status_code == 200
    assert len(provider_events(message)) == 1


# --- Mandrill -----------------------------------------------------------------------------

MANDRILL_URL = "http://testserver/anymail/mandrill/"


def mandrill_post(client, events, *, key=MANDRILL_KEY):
    fields = {"mandrill_events": json.dumps(events)}
    signed = MANDRILL_URL + "".join(k + fields[k] for k in sorted(fields))
    signature = base64.b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    return client.post("/anymail/mandrill/", fields, HTTP_X_MANDRILL_SIGNATURE=signature)


def mandrill_event(message: Message, event: str, *, ts: int, **fields) -> dict:
    """An event as Mandrill's webhooks post it (the documentation's examples)."""
    msg = {
        "ts": ts - 60,
        "subject": message.subject,
        "email": message.to_email,
        "sender": "hello@acme.example",
        "tags": [],
        "opens": [],
        "clicks": [],
        "state": "sent",
        "metadata": {"message_key": message.key},
        "_id": message.provider_message_id,
        "_version": "exampleaaaaaaaaaaaaaaa",
    }
    msg.update(fields.pop("msg", {}))
    return {"event": event, "msg": msg, "_id": message.provider_message_id, "ts": ts, **fields}


def test_mandrill_batch_records_every_event_with_its_effects(mandrill, client, shop):
    people = [CustomerFactory(email=f"p{i}@example.com") for i in range(5)]
    for person in people:
        consenting(person, shop)
    messages = [sent(person, shop, key=f"newsletter:{person.pk}") for person in people]
    assert all(len(m.provider_message_id) == 32 for m in messages)  # Mandrill's _id, kept
    bounce = {"state": "bounced", "bounce_description": "bad_mailbox", "diag": "smtp;550 5.1.1 No such user"}
    soft = {"state": "soft-bounced", "bounce_description": "mailbox_full", "diag": "smtp;452 4.2.2 Mailbox full"}
    batch = [
        mandrill_event(messages[0], "open", ts=1767225700, ip="203.0.113.9", user_agent="Mozilla/5.0"),
        mandrill_event(messages[0], "click", ts=1767225800, url="https://acme.example/sale"),
        mandrill_event(messages[1], "hard_bounce", ts=1767225700, msg=bounce),
        mandrill_event(messages[2], "soft_bounce", ts=1767225700, msg=soft),
        mandrill_event(messages[3], "spam", ts=1767225700),
        mandrill_event(messages[4], "unsub", ts=1767225700),
    ]

    assert mandrill_post(client, batch).status_code == 200

    status = dict(Message.objects.values_list("key", "status"))
    assert [status[m.key] for m in messages] == ["clicked", "bounced", "sent", "complained", "delivered"]
    assert sorted(Suppression.objects.values_list("address", "reason", "shop_id")) == [
        ("p1@example.com", "hard_bounce", None),
        ("p3@example.com", "complaint", shop.pk),
        ("p4@example.com", "unsubscribed", shop.pk),
    ]
    assert sorted(ConsentEvent.objects.values_list("customer_id", "source")) == [
        (people[3].pk, "provider"),
        (people[4].pk, "provider"),
    ]
    assert MessageEvent.objects.exclude(provider_event="").count() == 6
    assert "Mailbox full" in provider_events(messages[2])[0].detail

    # Mandrill retries a batch it got no 200 for: all of it again writes nothing.
    assert mandrill_post(client, batch).status_code == 200
    assert MessageEvent.objects.exclude(provider_event="").count() == 6
    assert Suppression.objects.count() == 3 and ConsentEvent.objects.count() == 2


def test_mandrill_bad_signature_is_a_400_and_writes_nothing(mandrill, client, shop, customer):
    message = sent(customer, shop)

    response = mandrill_post(client, [mandrill_event(message, "hard_bounce", ts=1767225700)], key="wrong")

    assert response.status_code == 400
    assert not provider_events(message) and not Suppression.objects.exists()


@pytest.mark.parametrize("size", [10, 200])
def test_mandrill_batch_costs_the_same_queries_at_any_size(mandrill, client, shop, size, django_assert_num_queries):
    """Set-based: the events of a POST are recorded together. Read the messages, read the
    replay keys, insert the history, one UPDATE of the statuses, insert the suppressions,
    then the consents (read the identities, update them, the customers' merged consent in
    two updates, insert the events), inside one transaction (a savepoint in the test's)."""
    people = CustomerFactory.create_batch(size)
    for person in people:
        consenting(person, shop)
    queued = [
        message_queue(key=f"n:{p.pk}", template="test", customer_id=p.pk, shop_id=shop.pk, kind="marketing")
        for p in people
    ]
    while messages_send().sent:
        pass
    messages = list(Message.objects.filter(pk__in=[m.pk for m in queued]).order_by("pk"))
    kinds = ["open", "click", "hard_bounce", "spam", "unsub"]
    batch = [
        mandrill_event(m, kinds[i % 5], ts=1767225700, **({"url": "https://acme.example/"} if i % 5 == 1 else {}))
        for i, m in enumerate(messages)
    ]

    with django_assert_num_queries(12):
        assert mandrill_post(client, batch).status_code == 200

    assert MessageEvent.objects.exclude(provider_event="").count() == size
    assert Suppression.objects.count() == size * 3 // 5
    assert ConsentEvent.objects.count() == size * 2 // 5


# --- Postmark -----------------------------------------------------------------------------


@pytest.fixture
def postmark(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


def postmark_post(client, event, *, secret=WEBHOOK_SECRET):
    auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()} if secret else {}
    return client.post("/anymail/postmark/tracking/", json.dumps(event), content_type="application/json", **auth)


def postmark_bounce(message: Message, bounce_type: str) -> dict:
    """A bounce as Postmark's webhook posts it (the documentation's example)."""
    return {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": bounce_type,
        "TypeCode": 1 if bounce_type == "HardBounce" else 4096,
        "Name": "Hard bounce",
        "Tag": "newsletter",
        "MessageID": message.provider_message_id,
        "Metadata": {"message_key": message.key},
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": message.to_email,
        "From": "hello@acme.example",
        "BouncedAt": "2026-01-01T10:00:00Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": message.subject,
        "Content": "",
    }


@pytest.fixture
def postmark_message(settings, shop, customer):
    settings.MESSAGING_MAILER = {"BACKEND": "anymail.backends.test.EmailBackend"}
    return sent(customer, shop)


def test_postmark_hard_bounce_with_basic_auth(postmark, postmark_message, client):
    assert postmark_post(client, postmark_bounce(postmark_message, "HardBounce")).status_code == 200

    postmark_message.refresh_from_db()
    assert postmark_message.status == MessageStatus.BOUNCED
    assert Suppression.objects.get().reason == "hard_bounce"


def test_postmark_soft_bounce_suppresses_nothing(postmark, postmark_message, client):
    assert postmark_post(client, postmark_bounce(postmark_message, "SoftBounce")).status_code == 200

    postmark_message.refresh_from_db()
    assert postmark_message.status == MessageStatus.SENT
    assert provider_events(postmark_message)[0].provider_event == "deferred"
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("secret", ["crm:wrong", ""], ids=["wrong", "none"])
def test_postmark_without_the_secret_is_a_400(postmark, postmark_message, client, secret):
    response = postmark_post(client, postmark_bounce(postmark_message, "HardBounce"), secret=secret)

    assert response.status_code == 400
    assert not provider_events(postmark_message) and not Suppression.objects.exists()


# --- anymail's normalised events, whatever the provider -------------------------------------


def test_an_event_with_a_time_without_zone_and_a_nul_in_the_answer_is_recorded(settings, shop, customer):
    from anymail.signals import AnymailTrackingEvent

    from messaging.tracking import tracking_events_record

    settings.MESSAGING_MAILER = {"BACKEND": "anymail.backends.test.EmailBackend"}
    message = sent(customer, shop)
    event = AnymailTrackingEvent(
        event_type="bounced",
        timestamp=datetime(2026, 1, 1, 10, 0),  # noqa: DTZ001  (naive, as a provider may send)
        message_id=message.provider_message_id,
        mta_response="550 no such user\x00",
        esp_event={},
    )

    result = tracking_events_record([event], esp_name="Postal")

    assert (result.recorded, result.suppressed) == (1, 1)
    [recorded] = provider_events(message)
    assert recorded.at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert recorded.detail == "Postal: bounced: 550 no such user"
