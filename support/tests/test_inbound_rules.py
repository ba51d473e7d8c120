"""Automatic mail and loops are recorded, not answered and not added to any ticket."""

from datetime import UTC, datetime, timedelta

import pytest

from customers.tests.factories import CustomerFactory
from messaging.models import Message
from messaging.tests.fixtures import branded_shop
from support.inbound import inbound_receive
from support.models import InboundEmail, Ticket, TicketMessage
from support.tests.inbound_mail import reply_to, sent_email
from support.tickets import TicketData, ticket_open

pytestmark = pytest.mark.django_db

Outcome = InboundEmail.Outcome
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def wire(django_user_model):
    """The agent's reply the out-of-office answers, and the reply-address it goes to."""
    shop = branded_shop()
    customer = CustomerFactory(email="ann@example.com")
    ticket, _ = ticket_open(customer=customer, shop=shop, data=TicketData(subject="Parcel", body="Hi"))
    agent = django_user_model.objects.create_user(username="bo", is_staff=True)
    return sent_email(ticket, agent)


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "ann@example.com", "Auto-Submitted: auto-replied"),
        (
            {"Auto-Submitted": "auto-generated; owner-email=x@y"},
            "ann@example.com",
            "Auto-Submitted: auto-generated; owner-email=x@y",
        ),
        ({"X-Autoreply": "yes"}, "ann@example.com", "X-Autoreply header"),
        ({"X-Autorespond": "Out of office"}, "ann@example.com", "X-Autorespond header"),
        ({"X-Auto-Response-Suppress": "All"}, "ann@example.com", "X-Auto-Response-Suppress header"),
        ({"Precedence": "bulk"}, "ann@example.com", "Precedence: bulk"),
        ({"Precedence": "auto_reply"}, "ann@example.com", "Precedence: auto_reply"),
        ({"Precedence": "junk"}, "ann@example.com", "Precedence: junk"),
        ({"List-Id": "<news.shop.example>"}, "ann@example.com", "mailing list (List-Id header)"),
        ({"List-Unsubscribe": "<https://x.example/u>"}, "news@x.example", "mailing list (List-Unsubscribe header)"),
        ({"Return-Path": "<>"}, "ann@example.com", "null sender (Return-Path: <>)"),
        ({}, "MAILER-DAEMON@mx.example.net", "sent by mailer-daemon@mx.example.net"),
        ({}, "postmaster@example.com", "sent by postmaster@example.com"),
    ],
)
def test_automatic_mail_is_recorded_and_goes_no_further(wire, headers, sender, reason):
    messages, outbound = TicketMessage.objects.count(), Message.objects.count()

    email = inbound_receive(reply_to(wire, "I am out of the office.", sender=sender, headers=headers), via="imap").email

    assert (email.outcome, email.detail, email.ticket_id) == (Outcome.AUTO_REPLY, reason, None)
    assert TicketMessage.objects.count() == messages and Message.objects.count() == outbound
    assert Ticket.objects.count() == 1


def test_a_person_saying_auto_submitted_no_is_a_person(wire):
    email = inbound_receive(reply_to(wire, "Thanks", headers={"Auto-Submitted": "no"}), via="imap").email
    assert email.outcome == Outcome.APPENDED


def test_a_delivery_status_notification_is_a_bounce_not_a_ticket(wire):
    report = (
        b"From: Mail Delivery System <mailer@mx.example.net>\r\nTo: " + wire["Reply-To"].encode() + b"\r\n"
        b"Subject: Undelivered Mail\r\nMessage-ID: <dsn-1@mx.example.net>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; ann@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
    )
    email = inbound_receive(report, via="imap").email
    assert (email.outcome, email.detail) == (Outcome.AUTO_REPLY, "delivery status notification (multipart/report)")


def test_our_own_mail_coming_back_is_a_loop(wire, settings):
    settings.SUPPORT_REPLY_ADDRESS = "desk@help.example"
    for sender in ("hello@acme.example", "Support <support+t9-0123456789@acme.example>", "desk@help.example"):
        email = inbound_receive(reply_to(wire, "Re: your reply", sender=sender), via="imap").email
        assert email.outcome == Outcome.LOOP
        assert email.detail.startswith("sent from the CRM's own address ")


def test_a_sender_over_the_rate_is_taken_for_a_loop_until_the_window_passes(wire, settings):
    settings.SUPPORT_INBOUND_MAX_PER_SENDER = 3
    settings.SUPPORT_INBOUND_WINDOW_MINUTES = 10

    outcomes = [
        inbound_receive(reply_to(wire, f"Reply {n}"), via="imap", now=NOW + timedelta(minutes=n)).email.outcome
        for n in range(5)
    ]
    later = inbound_receive(reply_to(wire, "Much later"), via="imap", now=NOW + timedelta(minutes=14)).email

    assert outcomes == ["appended", "appended", "appended", "loop", "loop"]
    looped = InboundEmail.objects.filter(outcome="loop").first()
    assert looped.detail == "more than 3 emails from ann@example.com in 10 minutes"
    assert later.outcome == Outcome.APPENDED  # none of the five in the 10 minutes before it


def test_a_mail_clients_unsubscribe_to_the_mailto_unsubscribes_and_a_persons_mail_opens_a_ticket(smtp, settings):
    """The List-Unsubscribe mailto of a marketing email, as a mail client sends it, arriving
    in the desk's mailbox; and a person writing to the same address by hand."""
    from urllib.parse import unquote

    from messaging.models import Suppression
    from messaging.tests.test_unsubscribe import sent_marketing

    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@acme.example"
    settings.PUBLIC_BASE_URL = "https://crm.acme.example/"
    shop = branded_shop()
    customer = CustomerFactory(email="ann@example.com")
    wire, _ = sent_marketing(smtp, customer, shop)
    mailto = wire["List-Unsubscribe"].split(", ")[1].strip("<>")
    subject = unquote(mailto.partition("?subject=")[2])

    email = inbound_receive(reply_to(None, "", to="unsubscribe@acme.example", subject=subject), via="imap").email
    by_hand = inbound_receive(
        reply_to(None, "Please stop the newsletters", to="unsubscribe@acme.example", subject="Stop"), via="imap"
    ).email

    assert (email.outcome, email.ticket_id) == (Outcome.UNSUBSCRIBED, None)
    assert email.detail == f"ann@example.com unsubscribed from shop #{shop.pk}'s marketing"
    assert Suppression.objects.filter(address="ann@example.com", shop=shop, reason="unsubscribed").exists()
    assert by_hand.outcome == Outcome.OPENED and by_hand.ticket.subject == "Stop"
