"""Builders for the support app's tests."""

from customers.tests.factories import CustomerFactory
from support.tickets import TicketData, ticket_open


def open_ticket(customer=None, subject="Where is my parcel?", *, body="<p>Hi</p>", now=None, **data):
    """A ticket opened through the desk's service (SLA clock and all), for ``customer`` or a new one."""
    ticket, _ = ticket_open(
        customer=customer or CustomerFactory(first_name="Ada", last_name="Lovelace"),
        data=TicketData(subject=subject, body=body, **data),
        now=now,
    )
    return ticket
