"""The agent's tools: macros, merging, escalation and the scheduled SLA sweep."""

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from django.core.exceptions import ValidationError

from core.errors import DomainError
from customers.models import ClvModel, CustomerMetrics, Tag
from customers.tests.factories import CustomerFactory, OrderFactory
from support.escalation import sla_sweep
from support.models import Macro, SlaPolicy, Team, Ticket, TicketMessage
from support.tasks import sweep_sla
from support.tests import factories
from support.tickets import macro_apply, ticket_merge, ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user("ana", first_name="Ana", last_name="Diaz", is_staff=True)


@pytest.fixture
def policy():
    # Around the clock (no business hours): 60 minutes to respond, 8 hours to resolve.
    return SlaPolicy.objects.create(name="Normal", priority="normal", first_response_minutes=60, resolution_minutes=480)


open_ticket = partial(factories.open_ticket, now=NOW)


# Macros


def test_a_macro_fills_in_the_customer_and_last_order_sets_status_and_adds_tags(agent):
    customer = CustomerFactory(first_name="Ada", last_name="Lovelace")
    OrderFactory(customer=customer, external_id="1001", placed_at=NOW - timedelta(days=30))
    OrderFactory(customer=customer, external_id="1002", placed_at=NOW - timedelta(days=2))
    ticket = open_ticket(customer)
    macro = Macro.objects.create(
        name="Shipped",
        body="<p>Hi {{ first_name }}, order {{last_order_number}} of {{ last_order_date }} is on its way. "
        "{{ agent_name }}</p>",
        set_status=Ticket.Status.PENDING,
    )
    macro.add_tags.add(Tag.objects.create(name="shipping"))

    message = macro_apply(ticket=ticket, macro=macro, user=agent, now=NOW + timedelta(minutes=5))

    expected_day = (NOW - timedelta(days=2)).strftime("%Y-%m-%d")
    assert message.body == f"<p>Hi Ada, order 1002 of {expected_day} is on its way. Ana Diaz</p>"
    assert message.public and message.author == agent
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.PENDING
    assert list(ticket.tags.values_list("name", flat=True)) == ["shipping"]
    assert ticket.first_responded_at == NOW + timedelta(minutes=5)


def test_the_value_tier_variable_says_whether_the_customer_is_high_value(agent):
    ClvModel.objects.create(
        status=ClvModel.Status.FITTED,
        observation_end=NOW.date(),
        time_unit="weeks",
        clv_percentiles=[float(p) for p in range(0, 1010, 10)],
    )
    rich, modest = CustomerFactory(), CustomerFactory()
    CustomerMetrics.objects.create(customer=rich, clv_predicted=950, computed_at=NOW, stage_since=NOW)
    macro = Macro.objects.create(name="Tier", body="{{ value_tier }}", public=False)
    assert macro_apply(ticket=open_ticket(rich), macro=macro, user=agent).body == "high value"
    assert macro_apply(ticket=open_ticket(modest), macro=macro, user=agent).body == "standard"


def test_macro_values_are_escaped_so_a_customer_name_cannot_inject_html(agent):
    ticket = open_ticket(CustomerFactory(first_name="<script>x</script>"))
    macro = Macro.objects.create(name="Hello", body="<p>Hi {{ first_name }}</p>", public=False)
    message = macro_apply(ticket=ticket, macro=macro, user=agent)
    assert "<script>" not in message.body and "&lt;script&gt;" in message.body
    assert message.public is False


def test_a_macro_with_an_unknown_variable_is_refused_naming_the_field():
    macro = Macro(name="Bad", body="Hi {{ nickname }} and {{ first_name }}")
    with pytest.raises(ValidationError) as error:
        macro.full_clean()
    assert error.value.message_dict == {"body": ["Unknown variable(s): nickname."]}


def test_a_variable_written_as_an_attribute_or_in_capitals_is_refused_too():
    macro = Macro(name="Bad", body="Hi {{ customer.email }}, {{First_Name}} and {{ first_name }}")
    with pytest.raises(ValidationError) as error:
        macro.full_clean()
    assert error.value.message_dict == {"body": ["Unknown variable(s): First_Name, customer.email."]}


def test_a_switched_off_macro_changes_nothing(agent):
    ticket = open_ticket()
    macro = Macro.objects.create(name="Old", body="x", is_active=False, set_status=Ticket.Status.SOLVED)
    with pytest.raises(DomainError):
        macro_apply(ticket=ticket, macro=macro, user=agent)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW and ticket.messages.count() == 1


# Merging


def test_merging_moves_every_message_in_time_order_and_closes_the_source(agent):
    customer = CustomerFactory()
    first = open_ticket(customer, "Parcel late", now=NOW)
    second = open_ticket(customer, "Still no parcel", now=NOW + timedelta(hours=1))
    ticket_reply(ticket=first, body="We are looking", user=agent, now=NOW + timedelta(minutes=30))
    second.tags.add(Tag.objects.create(name="late"))

    ticket_merge(source=second, target=first, user=agent, now=NOW + timedelta(hours=2))

    bodies = list(first.messages.values_list("body", flat=True))
    assert bodies[:3] == ["<p>Hi</p>", "We are looking", "<p>Hi</p>"]
    assert "was merged into this one" in bodies[3]
    second.refresh_from_db()
    assert second.status == Ticket.Status.CLOSED and second.merged_into == first
    assert list(second.messages.values_list("public", flat=True)) == [False]  # only the "merged into" note
    assert list(first.tags.values_list("name", flat=True)) == ["late"]


def test_tickets_of_different_customers_are_not_merged(agent):
    a, b = open_ticket(), open_ticket()
    with pytest.raises(DomainError) as error:
        ticket_merge(source=a, target=b, user=agent)
    assert error.value.field == "target"
    assert a.messages.count() == 1 and b.messages.count() == 1
    with pytest.raises(DomainError):
        ticket_merge(source=a, target=a, user=agent)


def test_a_closed_ticket_is_not_merged(agent):
    customer = CustomerFactory()
    a, b = open_ticket(customer), open_ticket(customer)
    ticket_set_status(ticket=b, status=Ticket.Status.CLOSED)
    with pytest.raises(DomainError) as error:
        ticket_merge(source=a, target=b, user=agent)
    assert "closed" in str(error.value) and error.value.field == "target"


# Escalation and the sweep


def test_a_high_value_customers_ticket_is_escalated_to_the_escalation_team(policy):
    team = Team.objects.create(name="Tier 2", handles_escalations=True)
    ClvModel.objects.create(
        status=ClvModel.Status.FITTED,
        observation_end=NOW.date(),
        time_unit="weeks",
        clv_percentiles=[float(p) for p in range(0, 1010, 10)],
    )
    rich = CustomerFactory()
    CustomerMetrics.objects.create(customer=rich, clv_predicted=950, computed_at=NOW, stage_since=NOW)
    ticket = open_ticket(rich)
    assert ticket.escalated_at == NOW and ticket.team == team
    assert "high-value" in ticket.escalation_reason
    assert open_ticket().escalated_at is None


def test_the_sweep_flags_breaches_and_tickets_about_to_breach_and_escalates_breaches(policy, settings):
    settings.SLA_WARNING = timedelta(minutes=30)
    team = Team.objects.create(name="Tier 2", handles_escalations=True)
    late = open_ticket(now=NOW - timedelta(minutes=61))  # first response due 1 minute ago
    soon = open_ticket(now=NOW - timedelta(minutes=40))  # due in 20 minutes
    fine = open_ticket(now=NOW)  # due in 60 minutes
    waiting = open_ticket(now=NOW - timedelta(hours=9))
    ticket_set_status(ticket=waiting, status=Ticket.Status.PENDING, now=NOW - timedelta(hours=9))  # clock paused
    done = open_ticket(now=NOW - timedelta(hours=9))
    ticket_set_status(ticket=done, status=Ticket.Status.SOLVED, now=NOW - timedelta(hours=9))

    result = sla_sweep(now=NOW)

    assert (result.breached, result.escalated, result.at_risk) == (1, 1, 1)
    states = dict(Ticket.objects.values_list("pk", "sla_state"))
    assert states[late.pk] == "breached" and states[soon.pk] == "at_risk" and states[fine.pk] == "ok"
    assert states[waiting.pk] == "ok" and states[done.pk] == "ok"
    late.refresh_from_db()
    assert (late.escalated_at, late.escalation_reason, late.team) == (NOW, "first response overdue", team)
    # Run again: nothing new.
    assert sla_sweep(now=NOW).breached == 0
    # 25 minutes later the one that was about to breach has breached.
    later = sla_sweep(now=NOW + timedelta(minutes=25))
    assert later.breached == 1 and later.escalated == 1


def test_an_answered_ticket_goes_back_on_track_but_stays_escalated(policy, django_user_model):
    agent = django_user_model.objects.create_user("bo", is_staff=True)
    late = open_ticket(now=NOW - timedelta(minutes=61))
    sla_sweep(now=NOW)
    ticket_reply(ticket=late, body="Sorry!", user=agent, now=NOW)
    sla_sweep(now=NOW + timedelta(minutes=1))
    late.refresh_from_db()
    assert late.sla_state == "ok" and late.escalated_at == NOW


def test_the_sweep_task_returns_its_counts(policy):
    open_ticket(now=NOW - timedelta(days=2))
    result = sweep_sla.delay().get()
    assert result["breached"] == 1 and result["escalated"] == 1


def test_the_sweep_flags_a_reopened_ticket_against_its_new_resolution_clock(policy, settings):
    settings.SLA_WARNING = timedelta(minutes=30)
    ticket = open_ticket(now=NOW - timedelta(days=2))
    sla_sweep(now=NOW - timedelta(days=1))
    ticket_set_status(ticket=ticket, status=Ticket.Status.SOLVED, now=NOW - timedelta(hours=1))
    ticket_reply(ticket=ticket, body="It broke again", now=NOW)  # the customer reopens it
    assert TicketMessage.objects.filter(ticket=ticket, author_kind="system").exists()  # the CSAT invitation
    sla_sweep(now=NOW + timedelta(minutes=1))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN and ticket.sla_state == "ok"
    assert ticket.resolution_due_at == NOW + timedelta(hours=8)
