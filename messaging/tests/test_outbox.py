"""The embedded default: no EMAIL_URL, no Redis. A queued message is sent in-process when its
transaction commits, into the outbox, where the whole message can be read."""

from email import message_from_string, policy

import pytest
from django.db import transaction

from customers.tests.factories import OrderFactory
from messaging.models import Message, MessageStatus, OutboxEmail
from messaging.services import message_queue, order_values

pytestmark = pytest.mark.django_db


def test_the_embedded_default_sends_to_the_outbox():
    from django.conf import settings as live

    assert live.MESSAGING_MAILER == {"BACKEND": "messaging.backends.OutboxBackend"}


def test_a_message_committed_goes_to_the_outbox_whole(shop, customer, django_capture_on_commit_callbacks):
    order = OrderFactory(customer=customer, shop=shop, external_id="#1042", total="59.90", currency="EUR")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = message_queue(
            key=f"order-confirmation:{order.pk}",
            template="order_confirmation",
            customer_id=customer.pk,
            shop_id=shop.pk,
            context={"order": order_values(order)},
        )
        assert OutboxEmail.objects.count() == 0  # nothing before the commit

    kept = OutboxEmail.objects.get()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert kept.message_id == message.pk and kept.message_id_header == message.message_id
    assert message.provider_message_id == f"outbox:{kept.pk}"
    assert kept.to == "ann@example.com" and kept.from_email == "Acme Coffee <hello@acme.example>"
    assert kept.subject == "Your order #1042 from Acme Coffee"
    assert "59.90 EUR" in kept.text and "59.90 EUR" in kept.html
    assert kept.headers["Reply-To"] == "support@acme.example"
    wire = message_from_string(kept.raw, policy=policy.default)
    assert wire["Message-ID"] == message.message_id
    assert "Thank you, Ann!" in wire.get_body(("html",)).get_content()
    assert "Thank you, Ann!" in wire.get_body(("plain",)).get_content()


def test_a_rolled_back_transaction_queues_nothing(shop, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            message_queue(key="k", template="test", customer_id=customer.pk, shop_id=shop.pk)
            raise RuntimeError("the reply failed")
    assert not Message.objects.exists() and not OutboxEmail.objects.exists()
