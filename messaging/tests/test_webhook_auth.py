"""The guard in front of anymail's webhooks (messaging/webhook_auth.py): a provider that has
only HTTP basic auth is refused while ANYMAIL_WEBHOOK_SECRET is unset; a body anymail cannot
read is a 400 that writes nothing; a database error while recording stays a 5xx so the
provider retries; and ``check --deploy`` says when the secret is missing.

The providers that sign their calls (Mailgun, Mandrill) working without the secret is
covered by test_tracking.py and support/tests/test_inbound_webhooks.py."""

import base64
import json

import pytest
from django.core.checks import run_checks
from django.db import OperationalError
from django.test import Client

from messaging.models import Message, MessageEvent, MessageStatus, Suppression
from messaging.tests.test_tracking import MAILGUN_KEY, postmark_bounce, sent
from messaging.webhook_auth import check_webhook_secret

pytestmark = pytest.mark.django_db

SECRET = "crm:s3cret-webhook"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(SECRET.encode()).decode()}
POSTMARK = "anymail.backends.postmark.EmailBackend"


@pytest.fixture
def client():
    # As a provider's server posts; an exception is answered as in production, not raised.
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


@pytest.fixture
def message(settings, shop, customer) -> Message:
    settings.MESSAGING_MAILER = {"BACKEND": "anymail.backends.test.EmailBackend"}
    return sent(customer, shop, key="ticket-reply:259")


def post_bounce(client, message, **auth):
    body = json.dumps(postmark_bounce(message, "HardBounce"))
    return client.post("/anymail/postmark/tracking/", body, content_type="application/json", **auth)


def nothing_recorded(message) -> bool:
    message.refresh_from_db()
    return (
        message.status == MessageStatus.SENT
        and not MessageEvent.objects.exclude(provider_event="").exists()
        and not Suppression.objects.exists()
    )


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
@pytest.mark.parametrize("auth", [{}, AUTH], ids=["no-auth", "any-auth"])
def test_a_basic_auth_provider_is_refused_while_no_secret_is_set(settings, client, message, auth):
    settings.ANYMAIL = {}

    response = post_bounce(client, message, **auth)

    assert response.status_code == 403
    assert "webhook secret is not configured" in response.json()["detail"]
    assert nothing_recorded(message)
    # The same call once the secret is set is the provider's, and is recorded.
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    assert post_bounce(client, message, **AUTH).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED and Suppression.objects.get().reason == "hard_bounce"


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")
@pytest.mark.parametrize(
    "path", ["/anymail/sendgrid/tracking/", "/anymail/brevo/tracking/", "/anymail/mailjet/tracking/"]
)
def test_every_basic_auth_provider_is_refused_without_the_secret(settings, client, path):
    settings.ANYMAIL = {}

    assert client.post(path, "[]", content_type="application/json").status_code == 403


GARBAGE = {
    "not-json": ("text/plain", b"this is not json"),
    "json-array": ("application/json", b"[1, 2]"),
    "form": ("application/x-www-form-urlencoded", b"RecordType=Bounce&Email=a%40b.example"),
    "not-utf8": ("application/json", b"\xff\xfe{"),
    "signature-a-string": ("application/json", b'{"signature": "str"}'),
}


@pytest.mark.parametrize("path", ["/anymail/postmark/tracking/", "/anymail/mailgun/tracking/"])
@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_body_anymail_cannot_read_is_a_400_that_writes_nothing(settings, client, message, path, body):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    content_type, data = body

    response = client.post(path, data, content_type=content_type, **AUTH)

    if path.startswith("/anymail/postmark/") and body == GARBAGE["signature-a-string"]:
        assert response.status_code == 200  # a JSON object: Postmark's format, an event of no known type
    else:
        assert response.status_code == 400
    assert nothing_recorded(message)


def test_an_unreadable_body_names_the_provider(settings, client):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}

    response = client.post("/anymail/postmark/tracking/", "[1, 2]", content_type="application/json", **AUTH)

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "The webhook's body could not be read as Postmark's format."},
    )


def test_a_database_error_while_recording_is_a_5xx_for_the_provider_to_retry(settings, client, message, monkeypatch):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}

    def database_down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("messaging.tracking.tracking_events_record", database_down)

    assert post_bounce(client, message, **AUTH).status_code >= 500
    assert nothing_recorded(message)


# --- check --deploy ------------------------------------------------------------------------


def test_the_deploy_check_warns_of_a_basic_auth_backend_without_the_secret(settings):
    settings.MESSAGING_MAILER = {"BACKEND": POSTMARK}
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token"}

    (warning,) = check_webhook_secret(None)

    assert warning.id == "messaging.W001"
    assert "Postmark" in warning.msg and "ANYMAIL_WEBHOOK_SECRET" in warning.msg
    assert "messaging.W001" in {issue.id for issue in run_checks(include_deployment_checks=True)}


@pytest.mark.parametrize(
    "backend, anymail",
    [
        (POSTMARK, {"POSTMARK_SERVER_TOKEN": "token", "WEBHOOK_SECRET": SECRET}),
        ("anymail.backends.mailgun.EmailBackend", {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}),
        ("messaging.backends.OutboxBackend", {}),
    ],
    ids=["postmark-with-secret", "mailgun-signs", "no-anymail-backend"],
)
def test_the_deploy_check_is_clean_otherwise(settings, backend, anymail):
    settings.MESSAGING_MAILER = {"BACKEND": backend}
    settings.ANYMAIL = anymail

    assert check_webhook_secret(None) == []
