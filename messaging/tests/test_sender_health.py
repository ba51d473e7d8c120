"""Each shop's complaint (spam) rate over 30 days, and the panel above the message log that
shows it against Gmail's and Yahoo's limits (warning above 0.1 %, alarm at 0.3 %)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.tests.factories import ShopFactory
from messaging.models import Message, MessageStatus
from messaging.selectors import sender_health, sender_health_report
from messaging.services import MessageRequest, messages_queue

pytestmark = pytest.mark.django_db


def sent_messages(shop, n, *, complained=0, bounced=0, days_ago=1, tag="m"):
    """``n`` messages of ``shop`` sent ``days_ago``, the first ``complained`` complained about,
    the next ``bounced`` bounced, the rest delivered."""
    rows = messages_queue(
        [
            MessageRequest(key=f"{tag}:{shop.pk}:{i}", template="test", shop_id=shop.pk, to_email=f"p{i}@example.com")
            for i in range(n)
        ]
    )
    pks = [m.pk for m in rows]
    at = timezone.now() - timedelta(days=days_ago)
    Message.objects.filter(pk__in=pks).update(status=MessageStatus.DELIVERED, sent_at=at)
    Message.objects.filter(pk__in=pks[:complained]).update(status=MessageStatus.COMPLAINED)
    Message.objects.filter(pk__in=pks[complained : complained + bounced]).update(status=MessageStatus.BOUNCED)


@pytest.fixture
def three_shops():
    calm, busy, noisy = ShopFactory(name="Calm"), ShopFactory(name="Busy"), ShopFactory(name="Noisy")
    sent_messages(calm, 500)
    sent_messages(busy, 1002, complained=2, bounced=2)  # 2 of 1,000 delivered
    sent_messages(noisy, 300, complained=1)
    sent_messages(calm, 50, complained=5, days_ago=31, tag="old")  # outside the 30 days
    return calm, busy, noisy


def test_the_rate_is_complaints_over_delivered_in_30_days_worst_first(three_shops, django_assert_num_queries):
    with django_assert_num_queries(1):
        health = sender_health()

    assert [(h.shop_name, h.complaints, h.delivered, h.level) for h in health] == [
        ("Noisy", 1, 300, "alarm"),
        ("Busy", 2, 1000, "warning"),
        ("Calm", 0, 500, "ok"),
    ]
    assert [h.text for h in health] == [
        "0.33 % of 300 delivered, 30 days",
        "0.20 % of 1,000 delivered, 30 days",
        "0.00 % of 500 delivered, 30 days",
    ]


def test_exactly_one_in_a_thousand_is_not_yet_a_warning_and_three_is_an_alarm():
    shop = ShopFactory(name="Edge")
    sent_messages(shop, 1000, complained=1)
    assert sender_health()[0].level == "ok"
    sent_messages(shop, 1000, complained=5, tag="more")  # 6 of 2,000: 0.3 %
    assert sender_health()[0].level == "alarm"


def test_the_log_shows_the_panel(three_shops, admin_client):
    page = admin_client.get(reverse("admin:messaging_message_changelist")).text

    assert 'id="sender-health"' in page
    assert "0.33 % of 300 delivered, 30 days" in page and "Over the limit" in page
    assert "0.20 % of 1,000 delivered, 30 days" in page and "Above 0.1 %" in page


def test_with_nothing_sent_the_panel_says_so(admin_client):
    page = admin_client.get(reverse("admin:messaging_message_changelist")).text

    assert "No messages sent in the last 30 days." in page


def test_the_panel_counts_once_in_five_minutes(three_shops, django_assert_num_queries):
    with django_assert_num_queries(1):
        first = sender_health_report()
    sent_messages(ShopFactory(name="New"), 10)
    with django_assert_num_queries(0):
        again = sender_health_report()

    assert again == first and [h.shop_name for h in again.shops] == ["Noisy", "Busy", "Calm"]
