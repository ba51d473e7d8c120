"""Sending through a real SMTP server (aiosmtpd in this process): what arrives on the wire,
once per key, suppression when sending, retries, permanent failures, a killed sender."""

from datetime import timedelta

import pytest
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils import timezone

from customers.tests.factories import CustomerFactory, ShopFactory
from messaging.models import Message, MessageEvent, MessageStatus, Suppression
from messaging.sending import LEASE, messages_claim, messages_send
from messaging.services import message_queue, suppression_add
from messaging.tests.fixtures import smtp_mailer
from messaging.tests.smtp_sink import Sink, SmtpServer

pytestmark = pytest.mark.django_db


def queue(customer, shop=None, *, key="test:1", kind="transactional", template="test", **kwargs):
    return message_queue(
        key=key, template=template, customer_id=customer.pk, shop_id=shop and shop.pk, kind=kind, **kwargs
    )


def statuses(message) -> list[str]:
    return list(MessageEvent.objects.filter(message=message).values_list("status", flat=True))


def test_the_wire_message_carries_the_shops_sender_both_parts_and_inlined_css(smtp, shop, customer):
    message = queue(customer, shop, key="welcome:ann")

    result = messages_send()

    assert (result.sent, result.failed, result.retried) == (1, 0, 0)
    [(recipients, _)] = smtp.received
    assert recipients == ["ann@example.com"]
    [wire] = smtp.messages()
    assert wire["From"] == "Acme Coffee <hello@acme.example>"
    assert wire["Reply-To"] == "support@acme.example"
    assert wire["To"] == "ann@example.com"
    assert wire["Subject"] == "A test from Acme Coffee"
    message.refresh_from_db()
    assert wire["Message-ID"] == message.message_id
    assert message.message_id.startswith("<") and message.message_id.endswith("@example.com>")
    assert "welcome" not in message.message_id and "ann" not in message.message_id  # names nothing
    text = wire.get_body(("plain",)).get_content()
    html = wire.get_body(("html",)).get_content()
    assert "Hello Ann," in text and "<" not in text
    assert "1 Bean Street, Leeds" in text
    # The style sheet's rules are on the elements; the brand's colour is used.
    assert '<div class="header" style="padding: 20px 28px;border-bottom: 4px solid #aa3300;">' in html
    assert ".header {" not in html
    assert "Acme Coffee Ltd<br>1 Bean Street, Leeds" in html
    assert message.status == MessageStatus.SENT and message.sent_at is not None
    assert message.subject == "A test from Acme Coffee"
    assert "Hello Ann," in message.html and "Hello Ann," in message.text
    assert message.headers["From"] == "Acme Coffee <hello@acme.example>"
    assert message.headers["Message-ID"] == message.message_id
    assert statuses(message) == ["sending", "sent"]


def test_a_shop_without_a_sender_identity_sends_as_the_crm(smtp, customer, settings):
    settings.DEFAULT_FROM_EMAIL = "crm@merchant.example"
    settings.EMAIL_FROM_NAME = "Merchant"
    queue(customer, ShopFactory())

    messages_send()

    [wire] = smtp.messages()
    assert wire["From"] == "Merchant <crm@merchant.example>"
    assert wire["Reply-To"] is None


def test_a_key_is_queued_and_sent_once(smtp, shop, customer):
    first = queue(customer, shop, key="ticket-reply:7")
    again = queue(customer, shop, key="ticket-reply:7")

    assert again.pk == first.pk and Message.objects.count() == 1
    messages_send()
    assert queue(customer, shop, key="ticket-reply:7").status == MessageStatus.SENT
    messages_send()
    assert len(smtp.received) == 1


def test_suppression_is_checked_when_sending_not_when_queueing(smtp, shop, customer):
    other_shop = ShopFactory()
    marketing = queue(customer, shop, key="promo:1", kind="marketing")
    reply = queue(customer, shop, key="reply:1")
    elsewhere = queue(customer, other_shop, key="promo:2", kind="marketing")
    # After queueing: the customer unsubscribes from this shop's marketing.
    suppression_add(address="Ann@Example.com", reason="unsubscribed", shop_id=shop.pk)

    result = messages_send()

    assert (result.sent, result.suppressed) == (2, 1)
    assert Message.objects.get(pk=marketing.pk).status == MessageStatus.SUPPRESSED
    assert statuses(marketing) == ["sending", "suppressed"]
    assert Message.objects.get(pk=reply.pk).status == MessageStatus.SENT  # a support reply still goes
    assert Message.objects.get(pk=elsewhere.pk).status == MessageStatus.SENT  # another shop's consent stands
    assert sorted(m["Message-ID"] for m in smtp.messages()) == sorted([reply.message_id, elsewhere.message_id])


def test_nothing_goes_to_a_hard_bounced_address_not_even_a_reply(smtp, shop, customer):
    suppression_add(address="ann@example.com", reason="hard_bounce", detail="550 mailbox unknown")
    reply = queue(customer, shop, key="reply:1")

    assert messages_send().suppressed == 1
    assert Message.objects.get(pk=reply.pk).status == MessageStatus.SUPPRESSED
    assert smtp.received == []
    assert Suppression.objects.get().shop is None  # for every shop


def test_a_transient_refusal_is_retried_after_a_backoff_then_sent(smtp, shop, customer):
    smtp.rcpt_answers.append("451 4.7.1 Greylisted, try again later")
    message = queue(customer, shop)
    now = timezone.now()

    first = messages_send(now=now)

    assert (first.sent, first.retried) == (0, 1)
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 1
    assert "451" in message.last_error and "Greylisted" in message.last_error
    assert message.next_attempt_at == now + timedelta(minutes=1)
    assert messages_send(now=now + timedelta(seconds=30)).claimed == 0  # not before its backoff

    second = messages_send(now=now + timedelta(minutes=1))

    assert second.sent == 1 and len(smtp.received) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 2 and message.last_error == ""
    assert statuses(message) == ["sending", "queued", "sending", "sent"]


def test_a_permanent_refusal_is_recorded_and_never_retried(smtp, shop, customer):
    smtp.rcpt_answers.append("550 5.1.1 No such user here")
    message = queue(customer, shop)
    later = queue(CustomerFactory(email="bo@example.com"), shop, key="test:2")

    result = messages_send()

    assert (result.sent, result.failed, result.retried) == (1, 1, 0)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and "550" in message.last_error
    assert message.subject == "A test from Acme Coffee"  # what was attempted is kept
    assert Message.objects.get(pk=later.pk).status == MessageStatus.SENT  # the batch went on
    assert messages_send(now=timezone.now() + timedelta(days=1)).claimed == 0
    assert statuses(message) == ["sending", "failed"]


def test_a_message_refused_after_its_data_with_a_4xx_is_retried(smtp, shop, customer):
    smtp.data_answers.append("452 4.3.1 Insufficient system storage")
    message = queue(customer, shop)
    now = timezone.now()

    assert messages_send(now=now).retried == 1
    assert messages_send(now=now + timedelta(minutes=1)).sent == 1
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT and len(smtp.received) == 1


def test_the_server_down_puts_the_whole_batch_back_with_a_backoff(settings, shop, customer):
    from messaging.tests.smtp_sink import free_port

    port = free_port()  # nothing listens there
    settings.MESSAGING_MAILER = smtp_mailer(port)
    queue(customer, shop, key="a")
    queue(CustomerFactory(), shop, key="b")
    now = timezone.now()

    result = messages_send(now=now)

    assert (result.sent, result.retried, result.failed) == (0, 2, 0)
    # The one tried counts an attempt; the one never tried gets its claim's attempt back.
    assert dict(Message.objects.values_list("key", "attempts")) == {"a": 1, "b": 0}
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.QUEUED}
    assert Message.objects.filter(next_attempt_at=now + timedelta(minutes=1)).count() == 2
    # Back up: the retry goes through.
    with SmtpServer(Sink(), port=port) as server:
        assert messages_send(now=now + timedelta(minutes=1)).sent == 2
    assert len(server.sink.received) == 2


def test_a_relay_down_for_hours_loses_no_mail_and_gives_up_only_after_days(settings, shop, customer):
    """A connection-level failure is not the message's fault: it runs out no attempts, only
    the days a message is kept trying (EMAIL_RETRY_DAYS, 3)."""
    from messaging.tests.smtp_sink import free_port

    port = free_port()  # nothing listens there
    settings.MESSAGING_MAILER = smtp_mailer(port)
    settings.EMAIL_MAX_ATTEMPTS = 3
    first = queue(customer, shop, key="a")
    queue(CustomerFactory(), shop, key="b")
    now = first.created_at
    for _ in range(12):  # four times EMAIL_MAX_ATTEMPTS, over six hours of backoff
        now = max(Message.objects.values_list("next_attempt_at", flat=True))
        messages_send(now=now)

    assert now - first.created_at > timedelta(hours=6)
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.QUEUED}
    assert Message.objects.get(key="b").attempts == 0  # never tried: the first one failed each time
    with SmtpServer(Sink(), port=port) as server:  # back: both go
        assert messages_send(now=now + timedelta(hours=1)).sent == 2
    assert len(server.sink.received) == 2

    late = queue(CustomerFactory(), shop, key="c")
    result = messages_send(now=late.created_at + settings.EMAIL_RETRY_FOR)

    assert result.failed == 1
    late.refresh_from_db()
    assert late.status == MessageStatus.FAILED
    assert late.events.last().detail.startswith("Gave up after trying for 3 days")


def test_retries_stop_after_the_last_attempt(smtp, shop, customer, settings):
    settings.EMAIL_MAX_ATTEMPTS = 2
    smtp.rcpt_answers.extend(["451 busy", "451 busy"])
    message = queue(customer, shop)
    now = timezone.now()

    messages_send(now=now)
    messages_send(now=now + timedelta(minutes=1))

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.attempts == 2
    assert "Gave up after 2 attempts" in message.events.last().detail


class WorkerKilled(BaseException):
    """What a killed process looks like from inside: nothing after it runs."""


class DiesAfterTwoSends(SmtpBackend):
    sends = 0

    def send_messages(self, email_messages):
        if DiesAfterTwoSends.sends == 2:
            raise WorkerKilled
        DiesAfterTwoSends.sends += 1
        return super().send_messages(email_messages)


def test_a_sender_killed_mid_batch_leaves_the_rest_to_the_next_once_its_lease_ends(smtp, shop, settings):
    messages = [queue(CustomerFactory(), shop, key=f"m:{i}") for i in range(5)]
    mailer = settings.MESSAGING_MAILER
    settings.MESSAGING_MAILER = {**mailer, "BACKEND": f"{__name__}.DiesAfterTwoSends"}
    now = timezone.now()

    with pytest.raises(WorkerKilled):
        messages_send(now=now)

    assert len(smtp.received) == 2
    assert list(Message.objects.order_by("id").values_list("status", flat=True)) == ["sent"] * 2 + ["sending"] * 3
    assert messages_claim(limit=10, now=now + LEASE - timedelta(seconds=1)) == []  # still leased
    settings.MESSAGING_MAILER = mailer

    result = messages_send(now=now + LEASE + timedelta(seconds=1))

    assert result.sent == 3
    ids = [m["Message-ID"] for m in smtp.messages()]
    assert sorted(ids) == sorted(m.message_id for m in messages)  # each once, none twice
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_sending_is_rate_limited(smtp, shop, settings):
    import time

    settings.EMAIL_RATE_PER_SECOND = 5
    for i in range(11):
        queue(CustomerFactory(), shop, key=f"m:{i}")

    started = time.monotonic()
    assert messages_send().sent == 11
    # Five a second: the eleventh waits for the third second's window to open.
    assert time.monotonic() - started >= 1.0
