"""Builders for the support app's tests."""

from customers.models import Tag
from customers.tests.factories import CustomerFactory
from support.models import Macro, Ticket
from support.tickets import TicketData, ticket_open


def open_ticket(customer=None, subject="Where is my parcel?", *, body="<p>Hi</p>", now=None, **data):
    """A ticket opened through the desk's service (SLA clock and all), for ``customer`` or a new one."""
    ticket, _ = ticket_open(
        customer=customer or CustomerFactory(first_name="Ada", last_name="Lovelace"),
        data=TicketData(subject=subject, body=body, **data),
        now=now,
    )
    return ticket


def refund_macro(body: str) -> Macro:
    """A public macro that solves the ticket and tags it "refund"."""
    macro = Macro.objects.create(name="Refund issued", body=body, set_status=Ticket.Status.SOLVED)
    macro.add_tags.add(Tag.objects.create(name="refund"))
    return macro
