"""Managers are emailed, through a real SMTP server, when an outbound webhook endpoint is
switched off after repeated failures: once per switch-off, after the commit, never lost."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.utils import timezone

from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from crm.tasks import send_webhooks
from crm.tests import webhook_receiver
from crm.webhooks.delivery import deliveries_send
from crm.webhooks.events import events_collect
from crm.webhooks.models import EventType, WebhookEndpoint
from crm.webhooks.services import endpoint_create, endpoints_enable
from customers.models import ConsentSource
from customers.services.consent import consent_set
from customers.tests.factories import IdentityFactory, ShopFactory
from messaging.models import Message, MessageStatus
from messaging.sending import messages_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver, server = webhook_receiver.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def staff():
    """A manager, a superuser and one who was given the permission directly are told; a
    marketer, an agent, a manager without an address and a former manager are not."""

    def person(name, *, role=None, **fields):
        user = User.objects.create_user(name, email=f"{name}@crm.example", is_staff=True, **fields)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    person("mo", role=MANAGER)
    person("root", is_superuser=True)
    person("ops").user_permissions.add(Permission.objects.get(codename="change_webhookendpoint"))
    person("mia", role=MARKETER)
    person("al", role=SUPPORT_AGENT)
    User.objects.filter(pk=person("nomail", role=MANAGER).pk).update(email="")
    person("gone", role=MANAGER, is_active=False)


def _failing_endpoint(receiver, settings, *, failures=3):
    """An endpoint of "North Store" with ``failures`` deliveries waiting, its receiver failing."""
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = failures
    shop = ShopFactory(slug="north", name="North Store")
    identity = IdentityFactory(shop=shop)
    endpoint, _ = endpoint_create(
        shop=shop, url=receiver.url + "/hooks/T0001/secret-token", events=[EventType.CONSENT_CHANGED]
    )
    receiver.statuses = [500] * 100
    for n in range(failures):
        consent_set(customer_id=identity.customer_id, shop_id=shop.pk, given=n % 2 == 0, source=ConsentSource.API)
    events_collect(now=timezone.now())
    return endpoint


def test_each_manager_is_emailed_once_after_the_switch_off_commits(
    smtp, staff, receiver, settings, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = "https://crm.example.com"
    endpoint = _failing_endpoint(receiver, settings)

    with django_capture_on_commit_callbacks(execute=True):
        deliveries_send()
        assert smtp.received == []  # nothing leaves before the commit

    assert not WebhookEndpoint.objects.get().active
    assert sorted(recipients[0] for recipients, _ in smtp.received) == [
        "mo@crm.example",
        "ops@crm.example",
        "root@crm.example",
    ]
    wire = smtp.messages()[0]
    assert wire["Subject"] == "A webhook endpoint of North Store was switched off"
    assert wire["From"] == "E-commerce CRM <crm@example.com>"  # as the CRM, not as the shop
    text = wire.get_body(("plain",)).get_content()
    assert f"webhook endpoint #{endpoint.pk} of North Store: 3 attempts in a row failed." in text
    assert f"https://crm.example.com/admin/crm/webhookendpoint/{endpoint.pk}/change/" in text
    # The endpoint's address may carry the receiver's token: it is not mailed.
    assert "secret-token" not in wire.as_string()

    # Later passes and sends add nothing: one email per person per switch-off.
    deliveries_send(now=timezone.now() + timedelta(hours=1))
    send_webhooks()
    messages_send()
    assert len(smtp.received) == 3
    assert Message.objects.filter(template="webhook_endpoint_off", status=MessageStatus.SENT).count() == 3


def test_switched_off_again_after_being_switched_on_it_is_a_new_email(smtp, staff, receiver, settings):
    endpoint = _failing_endpoint(receiver, settings, failures=1)
    deliveries_send()
    messages_send()
    assert len(smtp.received) == 3

    endpoints_enable([endpoint.pk])
    deliveries_send(now=timezone.now() + timedelta(minutes=1))
    messages_send()

    assert not WebhookEndpoint.objects.get().active
    assert len(smtp.received) == 6


def test_the_email_waits_out_an_smtp_outage(smtp, staff, receiver, settings):
    endpoint = _failing_endpoint(receiver, settings)
    smtp.rcpt_answers.extend(["451 4.3.0 Try again later"] * 3)

    deliveries_send()  # its commit asks for a send; the server turns the first try away
    messages_send()
    assert smtp.received == []
    assert Message.objects.filter(template="webhook_endpoint_off", status=MessageStatus.QUEUED).count() == 3

    messages_send(now=timezone.now() + timedelta(hours=1))  # the periodic send, once the retry is due
    assert len(smtp.received) == 3
    assert not WebhookEndpoint.objects.get(pk=endpoint.pk).active


def test_a_switch_off_that_rolls_back_emails_nobody(smtp, staff, receiver, settings):
    _failing_endpoint(receiver, settings)

    with transaction.atomic():
        deliveries_send()
        assert Message.objects.filter(template="webhook_endpoint_off").count() == 3
        transaction.set_rollback(True)

    messages_send()
    assert WebhookEndpoint.objects.get().active
    assert Message.objects.filter(template="webhook_endpoint_off").count() == 0
    assert smtp.received == []


def test_a_failure_that_does_not_switch_it_off_emails_nobody(smtp, staff, receiver, settings):
    _failing_endpoint(receiver, settings, failures=2)
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 5

    deliveries_send()
    messages_send()

    assert WebhookEndpoint.objects.get().active
    assert smtp.received == []
