"""Sending through a real Celery worker on a real Redis, to a real SMTP server."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import transaction

from config.celery import app
from customers.tests.factories import CustomerFactory
from messaging.models import Message, MessageStatus
from messaging.services import message_queue
from messaging.tasks import send_queued_email

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "REDIS_URL is set, so tasks must go through the broker"
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_messages_queued_in_a_transaction_are_sent_by_the_worker_after_the_commit(worker, smtp, shop):
    customers = [CustomerFactory() for _ in range(3)]
    with transaction.atomic():
        for customer in customers:
            message_queue(key=f"welcome:{customer.pk}", template="test", customer_id=customer.pk, shop_id=shop.pk)

    assert _wait_for(lambda: Message.objects.filter(status=MessageStatus.SENT).count() == 3)
    assert sorted(recipients[0] for recipients, _ in smtp.received) == sorted(c.email for c in customers)


def test_the_periodic_send_takes_a_message_whose_commit_queued_no_task(worker, smtp, shop, customer):
    # As if Redis was down at commit time: the row is there, no task was queued for it.
    with transaction.atomic():
        message = message_queue(key="reply:1", template="test", customer_id=customer.pk, shop_id=shop.pk)
        transaction.get_connection().run_on_commit.clear()
    time.sleep(0.5)
    assert Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED

    send_queued_email.delay()  # as beat sends it every 30 s

    assert _wait_for(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT)
    assert len(smtp.received) == 1
