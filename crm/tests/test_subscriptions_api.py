"""POST /api/v1/subscriptions: a shop's newsletter form. Without double opt-in consent is
given at once; with it, a confirmation email goes (over a real SMTP server) whose link's GET
shows a page and whose POST confirms."""

import re

import pytest
from django.test import Client

from customers.models import ConsentEvent, CustomerIdentity
from messaging.models import Suppression
from messaging.sending import messages_send

pytestmark = pytest.mark.django_db

FORM = {"email": "Ann@Example.com", "consent": True, "source": "footer_form", "shown_text": "Get our news"}


def identity(shop):
    return CustomerIdentity.objects.get(shop=shop, email__iexact="ann@example.com")


def history():
    return list(ConsentEvent.objects.order_by("id").values_list("given", "source", "shown_text"))


def test_without_double_opt_in_a_subscription_counts_at_once(api, shop):
    response = api.post("/api/v1/subscriptions", FORM, format="json")

    assert response.status_code == 200 and response.json() == {"status": "subscribed"}
    assert identity(shop).marketing_consent is True
    assert history() == [(True, "footer_form", "Get our news")]


def test_unsubscribing_withdraws_and_suppresses_and_subscribing_again_lifts_it(api, shop):
    api.post("/api/v1/subscriptions", FORM, format="json")

    response = api.post("/api/v1/subscriptions", {**FORM, "consent": False, "shown_text": ""}, format="json")

    assert response.status_code == 200 and response.json() == {"status": "unsubscribed"}
    assert identity(shop).marketing_consent is False
    assert Suppression.objects.filter(address="ann@example.com", reason="unsubscribed", shop=shop).exists()
    api.post("/api/v1/subscriptions", FORM, format="json")
    assert not Suppression.objects.exists()
    assert [given for given, _, _ in history()] == [True, False, True]


def test_a_bad_email_or_source_is_a_400_that_writes_nothing(api):
    for body in ({**FORM, "email": "not-an-email"}, {**FORM, "source": "unsubscribe_link"}, {"email": "a@b.example"}):
        assert api.post("/api/v1/subscriptions", body, format="json").status_code == 400
    assert not CustomerIdentity.objects.exists() and not ConsentEvent.objects.exists()


def test_with_double_opt_in_the_emailed_links_get_shows_a_page_and_its_post_confirms(api, shop, smtp, settings):  # noqa: F811
    settings.PUBLIC_BASE_URL = "https://crm.acme.example"
    shop.double_opt_in = True
    shop.save()

    response = api.post("/api/v1/subscriptions", FORM, format="json")

    assert response.status_code == 202 and response.json() == {"status": "confirmation_sent"}
    assert identity(shop).marketing_consent is None and history() == []
    messages_send()
    [wire] = smtp.messages()
    assert wire["To"] == "ann@example.com" and wire["Subject"] == "Please confirm your subscription to Main Store"
    assert wire["List-Unsubscribe"] is None  # a transactional message
    html = wire.get_body(("html",)).get_content()
    path = re.search(r'href="https://crm\.acme\.example(/u/confirm/[^"]+)"', html).group(1)

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)  # what a link scanner does
    assert page.status_code == 200 and "Yes, subscribe me" in page.text
    assert identity(shop).marketing_consent is None and history() == []
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    confirmed = browser.post(path, {"csrfmiddlewaretoken": csrf})

    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert identity(shop).marketing_consent is True
    assert history() == [(True, "double_opt_in", "Get our news")]
    browser.post(path, {"csrfmiddlewaretoken": csrf})
    assert len(history()) == 1
    assert Client().get(path[:-2] + "xx").status_code == 400


def test_a_form_sent_again_and_again_sends_one_confirmation_in_ten_minutes(api, shop, smtp, monkeypatch):  # noqa: F811
    """A bot posting one address over and over must not mail-bomb it from the shop's domain."""
    from datetime import timedelta

    from django.utils import timezone

    shop.double_opt_in = True
    shop.save()
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    monkeypatch.setattr("messaging.consent.timezone.now", lambda: start)
    answers = [api.post("/api/v1/subscriptions", FORM, format="json").status_code for _ in range(8)]
    monkeypatch.setattr("messaging.consent.timezone.now", lambda: start + timedelta(minutes=10))
    answers.append(api.post("/api/v1/subscriptions", FORM, format="json").status_code)
    messages_send()

    assert answers == [202] * 9
    assert len(smtp.messages()) == 2  # one, then one more ten minutes later
    assert {m["To"] for m in smtp.messages()} == {"ann@example.com"}
