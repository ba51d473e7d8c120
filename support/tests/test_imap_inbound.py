"""End to end: customers' emails read from a real IMAP server (Dovecot) by the fetch that beat
runs, through the desk's own handler, into their tickets; a mail client's unsubscribe to the
``UNSUBSCRIBE_MAILTO`` address; and a refetch of the same mail writes nothing twice."""

from io import StringIO
from urllib.parse import unquote

import pytest
from django.core.management import call_command

from customers.models import CustomerIdentity
from customers.tests.factories import CustomerFactory
from messaging.models import Message, MessageKind, OutboxEmail, Suppression
from messaging.sending import messages_send
from messaging.services import message_queue
from messaging.tests.fixtures import branded_shop
from support.models import InboundEmail, Ticket, TicketMessage
from support.tests.inbound_mail import quoted, reply_to, sent_email
from support.tickets import TicketData, ticket_open, ticket_set_status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mailbox(settings, imap_server):
    settings.SUPPORT_IMAP_URL = imap_server.url()
    settings.SUPPORT_IMAP_TIMEOUT = 5
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@acme.example"
    return imap_server


def fetch() -> str:
    out = StringIO()
    call_command("fetch_support_mail", stdout=out, stderr=out)
    return out.getvalue()


def test_replies_in_the_support_mailbox_reach_their_tickets_and_a_new_email_opens_one(mailbox, django_user_model):
    shop = branded_shop()
    agent = django_user_model.objects.create_user(username="bo", first_name="Bo", is_staff=True)
    ann = CustomerFactory(email="ann@example.com", first_name="Ann", last_name="Lee")
    ticket = ticket_open(customer=ann, shop=shop, data=TicketData(subject="Parcel?", body="<p>Where is it?</p>"))[0]
    wire = sent_email(ticket, agent)
    ticket_set_status(ticket=ticket, status=Ticket.Status.PENDING)
    mailbox.append(
        [
            reply_to(wire, f"Still nothing here.\n\n{quoted(wire)}"),
            reply_to(None, "Do you ship to Norway?", sender="Cy <cy@example.org>", subject="Shipping"),
            reply_to(wire, "Out of office until Monday.", headers={"Auto-Submitted": "auto-replied"}),
        ]
    )

    fetch()

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN  # the customer's reply reopened it
    texts = [m.text for m in ticket.messages.filter(author_kind="customer").order_by("id")]
    assert texts == ["Where is it?", "Still nothing here."]  # the quote trimmed
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert (new.subject, new.customer.email, new.channel) == ("Shipping", "cy@example.org", "email")
    outcomes = sorted(InboundEmail.objects.values_list("outcome", flat=True))
    assert outcomes == ["appended", "auto_reply", "opened"]
    assert mailbox.folder("INBOX") == [] and len(mailbox.folder("Processed")) == 3

    # The same three emails delivered again (a mailbox restored from a backup): nothing new.
    mailbox.append([bytes(e.raw) for e in InboundEmail.objects.order_by("id")])
    fetch()
    assert InboundEmail.objects.count() == 3 and TicketMessage.objects.filter(author_kind="customer").count() == 3


def test_a_mail_clients_unsubscribe_to_the_mailto_address_is_applied(mailbox):
    shop = branded_shop()
    ann = CustomerFactory(email="ann@example.com", first_name="Ann")
    CustomerIdentity.objects.create(shop=shop, customer=ann, external_id="a", email=ann.email, marketing_consent=True)
    message_queue(key="news:1", template="test", customer_id=ann.pk, shop_id=shop.pk, kind=MessageKind.MARKETING)
    messages_send()
    header = OutboxEmail.objects.get(message__key="news:1").headers["List-Unsubscribe"]
    mailto = header.split(", ")[1].strip("<>")
    address, _, query = mailto.removeprefix("mailto:").partition("?subject=")
    mailbox.append([reply_to(None, "", sender="ann@example.com", to=address, subject=unquote(query))])

    fetch()

    [suppression] = Suppression.objects.filter(reason="unsubscribed")
    assert (suppression.address, suppression.shop_id) == ("ann@example.com", shop.pk)
    assert CustomerIdentity.objects.get(customer=ann).marketing_consent is False
    assert InboundEmail.objects.get().outcome == "unsubscribed"
    assert not Ticket.objects.exists()
    assert Message.objects.filter(kind=MessageKind.MARKETING).count() == 1
