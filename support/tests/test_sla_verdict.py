"""A solved ticket keeps its SLA verdict: solved late reads "Breached", not "on track"."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.tests.factories import CustomerFactory
from support.models import SlaPolicy, Ticket
from support.tickets import TicketData, ticket_open, ticket_set_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy():
    return SlaPolicy.objects.create(name="Urgent", priority="urgent", first_response_minutes=60, resolution_minutes=240)


def test_a_ticket_solved_after_its_resolution_target_stays_breached(policy):
    opened = timezone.now() - timedelta(days=1)
    data = TicketData(subject="Late", body="x", priority="urgent")
    ticket, _ = ticket_open(customer=CustomerFactory(), data=data, now=opened)

    ticket = ticket_set_status(ticket=ticket, status=Ticket.Status.SOLVED)

    ticket.refresh_from_db()
    assert ticket.resolution_met is False
    assert ticket.get_sla_state_display() == "Breached"


def test_a_ticket_solved_in_time_reads_on_track(policy):
    data = TicketData(subject="Quick", body="x", priority="urgent")
    ticket, _ = ticket_open(customer=CustomerFactory(), data=data)

    ticket = ticket_set_status(ticket=ticket, status=Ticket.Status.SOLVED)

    ticket.refresh_from_db()
    assert ticket.get_sla_state_display() == "on track"
