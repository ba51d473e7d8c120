"""The flow pass through a real Celery worker on a real Redis, to a real SMTP server: the
periodic task queues one pass per active flow, the worker runs it, the email goes out."""

import pytest
from django.utils import timezone

from campaigns.models import FlowRun, RunStatus, TriggerKind
from campaigns.tasks import run_flows
from campaigns.tests.flow_helpers import SEND, a_flow, an_email, mailable, shop_with_sender, switch_on
from customers.models import Event
from messaging.models import Message, MessageStatus
from tests.live_worker import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_the_worker_runs_the_pass_and_the_email_is_sent(worker, smtp):
    shop = shop_with_sender()
    (ann,) = mailable(shop, first_name="Ann")
    flow = switch_on(
        a_flow(shop, TriggerKind.EVENT, {"event_type": "signed_up"}, [(SEND, {}, an_email(shop))]), timezone.now()
    )
    Event.objects.create(shop=shop, customer=ann, type="signed_up", occurred_at=timezone.now(), payload={})

    run_flows.delay()  # as beat sends it every 30 s

    assert wait_for(lambda: FlowRun.objects.filter(flow=flow, status=RunStatus.COMPLETED).exists())
    assert wait_for(lambda: Message.objects.filter(status=MessageStatus.SENT).count() == 1)
    [wire] = smtp.messages()
    assert wire["Subject"] == "Hello Ann"
