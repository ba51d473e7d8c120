"""The SLA clock of a ticket: which policy applies, and its due times in business time.

When a ticket opens, the policy for its priority (and the customer's value band) sets the
first-response and resolution due times in business time. While the ticket is pending on
the customer, the clock stops: the due times are cleared and the business minutes still
left are kept, to start again from the moment the ticket leaves pending.
"""

from datetime import datetime

from support.models import SlaPolicy, Team, Ticket
from support.sla import Calendar, add_business_minutes, business_minutes_between


def calendar_of(policy: SlaPolicy | None) -> Calendar | None:
    hours = policy.business_hours if policy else None
    if hours is None:
        return None
    return Calendar.parse(time_zone=hours.time_zone, weekly=hours.weekly, holidays=hours.holidays)


def sla_policy_for(*, priority: str, high_value: bool) -> SlaPolicy | None:
    """The active policy for the priority: the high-value one for a high-value customer if
    there is one, else the one for any customer."""
    policies = {p.value_band: p for p in SlaPolicy.objects.filter(priority=priority, is_active=True)}
    if high_value and SlaPolicy.ValueBand.HIGH in policies:
        return policies[SlaPolicy.ValueBand.HIGH]
    return policies.get(SlaPolicy.ValueBand.ANY)


def escalation_team_id() -> int | None:
    return Team.objects.filter(handles_escalations=True).order_by("pk").values_list("pk", flat=True).first()


def escalate(ticket: Ticket, reason: str, now: datetime) -> None:
    """Flag the ticket and hand it to the escalation team, if there is one."""
    if ticket.escalated_at is None:
        ticket.escalated_at = now
        ticket.escalation_reason = reason
        ticket.team_id = escalation_team_id() or ticket.team_id


def clock_start(ticket: Ticket, now: datetime) -> None:
    policy = ticket.sla_policy
    if policy is None:
        ticket.sla_state = Ticket.SlaState.NONE
        return
    if ticket.sla_state == Ticket.SlaState.NONE:
        ticket.sla_state = Ticket.SlaState.OK if ticket.sla_policy_id else Ticket.SlaState.NONE
    calendar = calendar_of(policy)
    if ticket.first_responded_at is None:
        ticket.first_response_due_at = add_business_minutes(now, policy.first_response_minutes, calendar)
    ticket.resolution_due_at = add_business_minutes(now, policy.resolution_minutes, calendar)


def clock_pause(ticket: Ticket, now: datetime) -> None:
    calendar = calendar_of(ticket.sla_policy)
    if ticket.first_response_due_at is not None:
        ticket.first_response_left_minutes = business_minutes_between(now, ticket.first_response_due_at, calendar)
    if ticket.resolution_due_at is not None:
        ticket.resolution_left_minutes = business_minutes_between(now, ticket.resolution_due_at, calendar)
    ticket.first_response_due_at = ticket.resolution_due_at = None


def clock_resume(ticket: Ticket, now: datetime) -> None:
    calendar = calendar_of(ticket.sla_policy)
    if ticket.first_response_left_minutes is not None and ticket.first_responded_at is None:
        ticket.first_response_due_at = add_business_minutes(now, ticket.first_response_left_minutes, calendar)
    if ticket.resolution_left_minutes is not None:
        ticket.resolution_due_at = add_business_minutes(now, ticket.resolution_left_minutes, calendar)
    ticket.first_response_left_minutes = ticket.resolution_left_minutes = None


def target_met(due_at: datetime | None, left_minutes: int | None, now: datetime) -> bool | None:
    """Whether a clock stopped at ``now`` met its target: by its due time while it ran, or
    with business minutes still left while it was paused; None if the ticket had none."""
    if due_at is not None:
        return now <= due_at
    if left_minutes is not None:
        return left_minutes > 0
    return None


def clock_stop(ticket: Ticket) -> None:
    ticket.first_response_due_at = ticket.resolution_due_at = None
    ticket.first_response_left_minutes = ticket.resolution_left_minutes = None
    # A stopped clock keeps the verdict: a ticket solved after a target passed stays breached.
    missed = ticket.first_response_met is False or ticket.resolution_met is False
    if not ticket.sla_policy_id:
        ticket.sla_state = Ticket.SlaState.NONE
    else:
        ticket.sla_state = Ticket.SlaState.BREACHED if missed else Ticket.SlaState.OK
