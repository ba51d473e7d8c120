"""Sending through a real Celery worker on a real Redis, to a real SMTP server."""

import time

import pytest
from django.db import transaction

from customers.tests.factories import CustomerFactory
from messaging.models import Message, MessageStatus
from messaging.services import message_queue
from messaging.tasks import send_queued_email
from tests.live_worker import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_messages_queued_in_a_transaction_are_sent_by_the_worker_after_the_commit(worker, smtp, shop):
    customers = [CustomerFactory() for _ in range(3)]
    with transaction.atomic():
        for customer in customers:
            message_queue(key=f"welcome:{customer.pk}", template="test", customer_id=customer.pk, shop_id=shop.pk)

    assert wait_for(lambda: Message.objects.filter(status=MessageStatus.SENT).count() == 3)
    assert sorted(recipients[0] for recipients, _ in smtp.received) == sorted(c.email for c in customers)


def test_the_periodic_send_takes_a_message_whose_commit_queued_no_task(worker, smtp, shop, customer):
    # As if Redis was down at commit time: the row is there, no task was queued for it.
    with transaction.atomic():
        message = message_queue(key="reply:1", template="test", customer_id=customer.pk, shop_id=shop.pk)
        transaction.get_connection().run_on_commit.clear()
    time.sleep(0.5)
    assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED

    send_queued_email.delay()  # as beat sends it every 30 s

    assert wait_for(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT)
    assert len(smtp.received) == 1
