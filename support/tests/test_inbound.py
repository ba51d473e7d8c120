"""Inbound email into tickets: matched by the reply address or the threading headers of the
emails the CRM sent, or opening a new ticket; once only, whatever is replayed."""

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from customers.models import Customer, CustomerIdentity
from customers.tests.factories import CustomerFactory, ShopFactory
from messaging.models import Message
from messaging.tests.fixtures import branded_shop
from support.inbound import inbound_receive
from support.models import BusinessHours, InboundEmail, SlaPolicy, Ticket, TicketMessage
from support.tests.inbound_mail import quoted, reply_to, sent_email
from support.tickets import TicketData, ticket_merge, ticket_open, ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db

Outcome = InboundEmail.Outcome
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def shop():
    return branded_shop()


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user(username="bo", first_name="Bo", is_staff=True)


@pytest.fixture
def ann():
    return CustomerFactory(email="ann@example.com", first_name="Ann", last_name="Lee")


def open_ticket(shop, customer, subject="Where is my parcel?", now=None) -> Ticket:
    data = TicketData(subject=subject, body="<p>Hi, where is it?</p>")
    return ticket_open(customer=customer, shop=shop, data=data, now=now)[0]


def customer_messages(ticket) -> list[str]:
    return [m.text for m in ticket.messages.filter(author_kind="customer").order_by("id")]


def test_a_reply_to_the_tickets_email_is_added_to_it_without_the_quote(shop, ann, agent):
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    raw = reply_to(wire, f"Thanks, it arrived!\n\nAnn\n\n{quoted(wire)}")

    result = inbound_receive(raw, via="imap")

    email = result.email
    assert result.created and email.outcome == Outcome.APPENDED
    assert email.ticket_id == ticket.pk and email.ticket_message.ticket_id == ticket.pk
    assert email.recipient == wire["Reply-To"].lower() and email.from_email == "ann@example.com"
    assert email.detail == f"matched by reply address {wire['Reply-To'].lower()}"
    assert bytes(email.raw) == raw  # the original, quote and all
    assert customer_messages(ticket) == ["Hi, where is it?", "Thanks, it arrived!\n\nAnn"]
    assert email.ticket_message.body == "<p>Thanks, it arrived!</p>\n\n<p>Ann</p>"


def test_the_threading_headers_match_when_the_reply_address_is_gone(shop, ann, agent):
    """A client that answered the From address (or a forward) loses the plus tag; In-Reply-To
    or References still name the ticket's email, or its thread root."""
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    sent = Message.objects.get(message_id=wire["Message-ID"])

    by_reply = inbound_receive(reply_to(wire, "Got it", to="hello@acme.example"), via="imap").email
    root_only = reply_to(
        wire,
        "And again",
        to="hello@acme.example",
        threading=False,
        headers={"References": wire["References"].split()[0]},
    )
    by_root = inbound_receive(root_only, via="imap").email

    assert (by_reply.outcome, by_reply.ticket_id) == (Outcome.APPENDED, ticket.pk)
    assert by_reply.detail == f"matched by threading header naming {sent.message_id}"
    assert (by_root.outcome, by_root.ticket_id) == (Outcome.APPENDED, ticket.pk)
    assert customer_messages(ticket)[1:] == ["Got it", "And again"]


def test_a_forged_reply_address_matches_nothing_and_opens_a_new_ticket(shop, ann, agent):
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    forged = wire["Reply-To"].replace(f"+t{ticket.pk}-", f"+t{ticket.pk + 1000}-")

    email = inbound_receive(reply_to(wire, "Hello", to=forged, threading=False), via="imap").email

    assert email.outcome == Outcome.OPENED and email.ticket_id != ticket.pk
    assert email.detail == f"no ticket matched; opened ticket #{email.ticket_id}"


def test_a_replayed_email_writes_nothing_twice(shop, ann, agent):
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    raw = reply_to(wire, "Thanks")
    no_id = reply_to(wire, "No Message-ID here").replace(b"Message-ID:", b"X-Was-Message-ID:")

    first, again = inbound_receive(raw, via="imap"), inbound_receive(raw, via="mailgun")
    third, fourth = inbound_receive(no_id, via="imap"), inbound_receive(no_id, via="imap")

    assert (first.created, again.created, again.email.pk) == (True, False, first.email.pk)
    assert (third.created, fourth.created) == (True, False)
    assert third.email.message_key.startswith("sha256:")
    assert InboundEmail.objects.count() == 2
    assert customer_messages(ticket)[1:] == ["Thanks", "No Message-ID here"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_email_twice_at_once_is_added_once(shop, ann, agent):
    ticket = open_ticket(shop, ann)
    raw = reply_to(sent_email(ticket, agent), "At once")
    barrier, results, errors = threading.Barrier(2), [], []

    def receive():
        try:
            barrier.wait()
            results.append(inbound_receive(raw, via="imap").created)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=receive) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == [] and sorted(results) == [False, True]
    assert InboundEmail.objects.count() == 1
    assert customer_messages(ticket) == ["Hi, where is it?", "At once"]


def test_a_customer_email_reply_resumes_the_sla_clock_as_a_reply_in_the_desk_does(shop, agent):
    """Two tickets paused alike; the customer answers one in the desk and the other by email:
    the same status and due times after, in business time."""
    hours = BusinessHours.objects.create(name="Office", weekly={str(d): ["09:00", "17:00"] for d in range(5)})
    SlaPolicy.objects.create(
        name="Normal", priority="normal", first_response_minutes=60, resolution_minutes=480, business_hours=hours
    )
    desk, by_email = (open_ticket(shop, CustomerFactory(email=f"c{i}@example.com"), now=MONDAY_10) for i in (1, 2))
    wire = None
    for ticket in (desk, by_email):
        wire = sent_email(ticket, agent, now=MONDAY_10 + timedelta(minutes=30)) if ticket is by_email else None
        if ticket is desk:
            ticket_reply(ticket=ticket, body="A photo?", user=agent, now=MONDAY_10 + timedelta(minutes=30))
        ticket_set_status(ticket=ticket, status="pending", now=MONDAY_10 + timedelta(minutes=30))
    tuesday_9 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    ticket_reply(ticket=desk, body="Here it is", now=tuesday_9)
    inbound_receive(reply_to(wire, "Here it is", sender="c2@example.com"), via="imap", now=tuesday_9)

    fields = ("status", "resolution_due_at", "resolution_left_minutes", "first_responded_at")
    desk.refresh_from_db()
    by_email.refresh_from_db()
    assert [getattr(by_email, f) for f in fields] == [getattr(desk, f) for f in fields]
    assert by_email.status == "open" and by_email.resolution_due_at == datetime(2026, 11, 24, 16, 30, tzinfo=UTC)


def test_a_reply_reopens_a_solved_ticket(shop, ann, agent):
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    ticket_set_status(ticket=ticket, status="solved")

    inbound_receive(reply_to(wire, "It broke again"), via="imap")

    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.solved_at is None


def test_a_reply_to_a_merged_ticket_goes_to_the_ticket_it_was_merged_into(shop, ann, agent):
    source, target = open_ticket(shop, ann), open_ticket(shop, ann, subject="Refund")
    wire = sent_email(source, agent)
    ticket_merge(source=source, target=target)

    email = inbound_receive(reply_to(wire, "Any news?"), via="imap").email

    assert (email.outcome, email.ticket_id) == (Outcome.APPENDED, target.pk)
    assert email.detail.endswith(f"; ticket #{source.pk} was merged into #{target.pk}")
    assert customer_messages(target)[-1] == "Any news?"


def test_a_reply_to_a_closed_ticket_opens_a_new_one_and_says_so(shop, ann, agent):
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    ticket_set_status(ticket=ticket, status="closed")

    email = inbound_receive(reply_to(wire, "One more thing"), via="imap").email

    new = email.ticket
    assert email.outcome == Outcome.OPENED and new.pk != ticket.pk
    assert email.detail == f"ticket #{ticket.pk} is closed, so a new ticket was opened; opened ticket #{new.pk}"
    assert (new.customer_id, new.shop_id, new.channel, new.subject) == (ann.pk, shop.pk, "email", "Where is my parcel?")
    assert customer_messages(new) == ["One more thing"]
    assert customer_messages(ticket) == ["Hi, where is it?"]


def test_a_reply_from_someone_else_is_added_with_a_note_for_the_agents(shop, ann, agent):
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)

    email = inbound_receive(reply_to(wire, "I am Ann's husband", sender="Tom <tom@example.org>"), via="imap").email

    assert email.outcome == Outcome.APPENDED and email.ticket_id == ticket.pk
    assert email.detail.endswith("; sent by tom@example.org, not the ticket's customer (ann@example.com)")
    note = ticket.messages.filter(author_kind="system", public=False).get()
    assert note.text == "This reply came from tom@example.org, not from the ticket's customer."


def test_a_new_email_opens_a_ticket_for_a_new_customer_in_the_shop_it_was_sent_to(shop):
    other = branded_shop(from_email="hi@tea.example", reply_to="care@tea.example")
    raw = reply_to(
        None,
        "My tea has not come.",
        sender="Zoe Quinn <Zoe@Example.com>",
        to="care@tea.example",
        subject="Missing order",
    )

    email = inbound_receive(raw, via="imap").email

    ticket = email.ticket
    assert email.outcome == Outcome.OPENED and email.recipient == "care@tea.example"
    assert (ticket.shop_id, ticket.channel, ticket.subject, ticket.status) == (
        other.pk,
        "email",
        "Missing order",
        "new",
    )
    customer = ticket.customer
    assert (customer.email_normalized, customer.first_name, customer.last_name) == ("zoe@example.com", "Zoe", "Quinn")
    assert CustomerIdentity.objects.filter(customer=customer, shop=other).exists()
    assert customer_messages(ticket) == ["My tea has not come."]
    assert not Message.objects.exists()  # no acknowledgement goes out


def test_a_known_customer_writing_to_the_shared_address_gets_the_ticket_in_their_shop(settings, shop):
    settings.SUPPORT_REPLY_ADDRESS = "desk@help.example"
    ShopFactory()
    known = CustomerFactory(email="kim@example.com", first_name="Kim", first_seen_shop=shop)
    raw = reply_to(None, "Hello again", sender="K <kim@example.com>", to="desk@help.example")

    ticket = inbound_receive(raw, via="imap").email.ticket

    assert (ticket.shop_id, ticket.customer_id) == (shop.pk, known.pk)
    known.refresh_from_db()
    assert known.first_name == "Kim"  # a display name changes no profile
    assert Customer.objects.count() == 1


def test_an_email_with_no_sender_or_no_shop_is_rejected_with_why():
    no_from = reply_to(None, "x").replace(b"From: Ann Lee <ann@example.com>\n", b"")
    assert inbound_receive(no_from, via="imap").email.detail == "no sender address (From)"

    email = inbound_receive(reply_to(None, "Hello"), via="imap").email  # no shop at all

    assert email.outcome == Outcome.REJECTED
    assert email.detail == "no ticket matched, and there is no shop to open a ticket in"
    assert not Ticket.objects.exists() and not TicketMessage.objects.exists()


def test_a_matched_reply_costs_a_fixed_number_of_queries(shop, ann, agent, django_assert_num_queries):
    """The budget of the common case (bench/inbound.py runs 1,000), whatever the ticket's
    history: the row (its savepoint and release here; the transaction in production), the
    loop guard (our addresses, the sender's count), the ticket, the follow-up
    (``ticket_follow_up``: its savepoint, lock, message, merge check, save, release), the
    outcome."""
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    inbound_receive(reply_to(wire, "Warm-up"), via="imap")  # content types and the like, cached
    with django_assert_num_queries(13) as first:
        inbound_receive(reply_to(wire, "First"), via="imap")
    for i in range(10):
        sent_email(ticket, agent, body=f"<p>Answer {i}</p>")
    with django_assert_num_queries(len(first.captured_queries)):
        inbound_receive(reply_to(wire, "Later"), via="imap")


def test_an_email_to_thousands_opens_one_ticket_in_the_shop_among_its_first_recipients(shop):
    other = branded_shop(from_email="hi@tea.example", reply_to="care@tea.example")
    crowd = ", ".join(f"person{n}@list.example" for n in range(3000))
    raw = reply_to(None, "To all of you", sender="Zoe <zoe@example.com>", to=f"care@tea.example, {crowd}")

    email = inbound_receive(raw, via="imap").email

    assert email.outcome == Outcome.OPENED and email.recipient == "care@tea.example"
    assert email.ticket.shop_id == other.pk
    assert customer_messages(email.ticket) == ["To all of you"]


def test_a_reply_to_thousands_still_matches_its_ticket_by_the_threading_headers(shop, ann, agent):
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    crowd = ", ".join(f"person{n}@list.example" for n in range(3000))
    # The reply address comes after the first 50 recipients, so only the headers can match.
    raw = reply_to(wire, "Thanks", to=f"{crowd}, {wire['Reply-To']}")

    email = inbound_receive(raw, via="imap").email

    assert email.outcome == Outcome.APPENDED and email.ticket_id == ticket.pk
    assert email.detail.startswith("matched by threading header")
    assert customer_messages(ticket) == ["Hi, where is it?", "Thanks"]


def test_the_ticket_page_names_the_address_a_reply_came_from_when_it_is_not_the_customers(
    shop, ann, agent, admin_client
):
    ticket = open_ticket(shop, ann)
    wire = sent_email(ticket, agent)
    inbound_receive(reply_to(wire, "I am Ann's husband", sender="Tom <tom@example.org>"), via="imap")
    inbound_receive(reply_to(wire, "And me, Ann", sender="Ann <ANN@example.com>"), via="imap")

    page = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()

    heads = re.findall(
        r'class="ticket-message from-customer[^"]*"[^>]*>\s*<div class="ticket-message-head">\s*<b>([^<]*)</b>', page
    )
    assert heads == ["Ann Lee", "tom@example.org", "Ann Lee"]  # the opening message, Tom's reply, Ann's
