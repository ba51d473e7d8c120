"""A campaign sent through a real Celery worker on a real Redis, to a real SMTP server:
Send now asks for the pass once its write commits, the worker runs it, and the messages it
queues are sent by the worker too."""

import pytest
from django.db import transaction

from campaigns.campaigns.actions import campaign_send_now
from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.campaign_data import campaign, customer, segment
from messaging.models import Message, MessageStatus
from messaging.tests.fixtures import branded_shop
from tests.live_worker import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_send_now_is_sent_by_the_worker_after_the_commit(worker, smtp, any_hour):
    shop = branded_shop()
    people = [customer(shop, email=f"w{i}@example.com") for i in range(3)]
    sale = campaign(shop, [segment("All", people)])

    with transaction.atomic():
        campaign_send_now(campaign=sale, user=None)

    assert wait_for(lambda: Message.objects.filter(status=MessageStatus.SENT).count() == 3, timeout=30)
    assert Campaign.objects.get(pk=sale.pk).status == CampaignStatus.SENT
    assert sorted(recipients[0] for recipients, _ in smtp.received) == [
        "w0@example.com",
        "w1@example.com",
        "w2@example.com",
    ]
