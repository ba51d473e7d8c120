"""The desk over email, outbound: agents' public replies and the CSAT invitation reach the
customer through a real SMTP server (aiosmtpd in this process), threaded per ticket."""

import re

import pytest

from customers.tests.factories import CustomerFactory, ShopFactory
from messaging.models import Message, MessageStatus
from messaging.sending import messages_send
from messaging.services import message_queue, suppression_add
from messaging.tests.fixtures import branded_shop
from support import links, mail
from support.models import Ticket
from support.tickets import TicketData, ticket_follow_up, ticket_open, ticket_reply, ticket_set_status, ticket_work

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return branded_shop(reply_to="help@acme.example")


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user(username="bo", first_name="Bo", last_name="Baker", is_staff=True)


def open_ticket(shop, email="ann@example.com", subject="Where is my parcel?") -> Ticket:
    customer = CustomerFactory(email=email, first_name="Ann", last_name="Lee")
    ticket, _ = ticket_open(customer=customer, shop=shop, data=TicketData(subject=subject, body="<p>Hi</p>"))
    return ticket


def test_an_agents_replies_reach_the_customer_threaded_with_the_tickets_address(smtp, shop, agent):
    ticket = open_ticket(shop)

    body = "<p>It left our warehouse <b>today</b>.</p><script>x()</script>"
    first = ticket_reply(ticket=ticket, body=body, user=agent)
    messages_send()
    second = ticket_reply(ticket=ticket, body="<p>It should arrive tomorrow.</p>", user=agent)
    messages_send()

    one, two = smtp.messages()
    sent_one = Message.objects.get(key=f"ticket-reply:{first.pk}")
    sent_two = Message.objects.get(key=f"ticket-reply:{second.pk}")
    root = mail.thread_root_id(ticket.pk)
    for wire in (one, two):
        assert wire["From"] == "Acme Coffee <hello@acme.example>"
        assert wire["To"] == "ann@example.com"
        assert wire["Subject"] == f"Re: Where is my parcel? [#{ticket.pk}]"
        assert re.fullmatch(rf"help\+t{ticket.pk}-[0-9a-f]{{10}}@acme\.example", wire["Reply-To"])
        assert mail.ticket_id_from_address(wire["Reply-To"]) == ticket.pk
    assert one["Message-ID"] == sent_one.message_id and two["Message-ID"] == sent_two.message_id
    assert one["In-Reply-To"] == root and one["References"] == root
    assert two["In-Reply-To"] == sent_one.message_id
    assert two["References"] == f"{root} {sent_one.message_id}"
    text = one.get_body(("plain",)).get_content()
    html = one.get_body(("html",)).get_content()
    assert "It left our warehouse today." in text and f"Ticket #{ticket.pk}: Where is my parcel?" in text
    assert "Bo Baker" in text
    assert "<b>today</b>" in html and "<script" not in html  # the reply as stored: sanitised
    assert "It should arrive tomorrow." in two.get_body(("plain",)).get_content()
    assert sent_two.status == MessageStatus.SENT and sent_two.kind == "transactional"
    assert sent_two.shop_id == shop.pk and sent_two.customer_id == ticket.customer_id


def test_the_reply_address_falls_back_and_resists_tampering(settings, agent):
    ticket = open_ticket(ShopFactory())  # no sender identity: the CRM's From address
    settings.DEFAULT_FROM_EMAIL = "crm@merchant.example"
    assert re.fullmatch(rf"crm\+t{ticket.pk}-[0-9a-f]{{10}}@merchant\.example", mail.reply_address(ticket))
    settings.SUPPORT_REPLY_ADDRESS = "desk+inbox@help.example"
    address = mail.reply_address(ticket)
    assert re.fullmatch(rf"desk\+t{ticket.pk}-[0-9a-f]{{10}}@help\.example", address)
    assert mail.ticket_id_from_address(address.upper()) == ticket.pk
    other = address.replace(f"+t{ticket.pk}-", f"+t{ticket.pk + 1}-")
    assert mail.ticket_id_from_address(other) is None
    assert mail.ticket_id_from_address("desk@help.example") is None


def test_an_internal_note_and_a_customers_own_message_send_nothing(smtp, shop, agent):
    ticket = open_ticket(shop)

    ticket_reply(ticket=ticket, body="<p>Carrier lost it, ask the depot</p>", user=agent, public=False)
    ticket_follow_up(ticket=ticket, body="<p>Any news?</p>")
    messages_send()

    assert Message.objects.count() == 0 and smtp.received == []


def test_a_reply_is_emailed_once_whatever_replays_it(smtp, shop, agent):
    ticket = open_ticket(shop)
    reply = ticket_reply(ticket=ticket, body="<p>On its way.</p>", user=agent)
    first = Message.objects.get()

    again = mail.reply_email_queue(ticket, reply, now=reply.created_at)
    messages_send()
    assert mail.reply_email_queue(ticket, reply, now=reply.created_at).pk == first.pk
    messages_send()

    assert again is not None and again.pk == first.pk
    assert Message.objects.count() == 1 and len(smtp.received) == 1


def test_the_csat_invitation_follows_the_solving_reply(smtp, shop, agent):
    ticket = open_ticket(shop)

    ticket_work(ticket=ticket, user=agent, reply="<p>Refunded in full.</p>", status=Ticket.Status.SOLVED)

    reply, invite = Message.objects.order_by("id")
    assert reply.key.startswith("ticket-reply:") and invite.key == f"csat-invite:{ticket.pk}"
    messages_send()
    first, second = smtp.messages()
    assert first["Message-ID"] == reply.message_id and second["Message-ID"] == invite.message_id
    assert second["In-Reply-To"] == reply.message_id
    assert second["References"] == f"{mail.thread_root_id(ticket.pk)} {reply.message_id}"
    assert second["Subject"] == f"How did we do? Re: Where is my parcel? [#{ticket.pk}]"
    assert mail.ticket_id_from_address(second["Reply-To"]) == ticket.pk
    html = second.get_body(("html",)).get_content()
    [url] = re.findall(r'href="([^"]+/csat/[^"]+)"', html)
    assert links.csat_ticket_id(url.rstrip("/").rsplit("/", 1)[1]) == ticket.pk
    assert "Rate the help you got" in second.get_body(("plain",)).get_content()
    # Transactional: neither the reply nor the invitation offers an unsubscribe.
    for wire in (first, second):
        assert wire["List-Unsubscribe"] is None
        for part in ("html", "plain"):
            assert "unsubscribe" not in wire.get_body((part,)).get_content().lower()

    # Reopened and solved again: the invitation is not emailed twice.
    ticket_follow_up(ticket=ticket, body="<p>Actually, one more thing</p>")
    ticket_set_status(ticket=ticket, status=Ticket.Status.SOLVED)
    messages_send()
    assert Message.objects.filter(key__startswith="csat-invite:").count() == 1 and len(smtp.received) == 2


def test_no_address_or_a_dead_one_gets_nothing_an_unsubscribed_one_still_gets_replies(smtp, shop, agent):
    no_email = open_ticket(shop, email="")
    bounced = open_ticket(shop, email="gone@example.com")
    unsubscribed = open_ticket(shop, email="quiet@example.com")
    suppression_add(address="gone@example.com", reason="hard_bounce", detail="550 no such user")
    suppression_add(address="quiet@example.com", reason="unsubscribed", shop_id=shop.pk)

    for ticket in (no_email, bounced, unsubscribed):
        ticket_work(ticket=ticket, user=agent, reply="<p>Done.</p>", status=Ticket.Status.SOLVED)
    messages_send()

    assert not Message.objects.filter(customer_id=no_email.customer_id).exists()
    assert set(Message.objects.filter(to_email="gone@example.com").values_list("status", flat=True)) == {
        MessageStatus.SUPPRESSED
    }
    assert [recipients for recipients, _ in smtp.received] == [["quiet@example.com"], ["quiet@example.com"]]


def test_a_retried_reply_keeps_its_thread_and_reply_address(smtp, shop, agent):
    ticket = open_ticket(shop)
    ticket_reply(ticket=ticket, body="<p>On its way.</p>", user=agent)
    smtp.rcpt_answers.append("451 4.7.1 Greylisted, try again later")
    message = Message.objects.get()

    assert messages_send().retried == 1
    Message.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
    assert messages_send().sent == 1

    [wire] = smtp.messages()
    assert wire["In-Reply-To"] == mail.thread_root_id(ticket.pk) and wire["Message-ID"] == message.message_id
    assert wire["Reply-To"] == mail.reply_address(ticket)


def test_a_message_cannot_be_queued_with_other_headers(shop):
    ticket = open_ticket(shop)
    with pytest.raises(ValueError, match="Bcc"):
        message_queue(key="x", template="test", customer_id=ticket.customer_id, headers={"Bcc": "spy@example.com"})
