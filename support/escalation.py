"""The scheduled SLA sweep: which open tickets breached, or are about to breach, their
due times, in three UPDATE statements whatever the number of tickets.

A ticket's ``sla_state`` says where its running clock stands now; a ticket whose clock is
paused (pending on the customer) keeps the state it had. A ticket that breaches for the
first time is escalated: flagged with the reason and handed to the escalation team.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from support.models import Ticket
from support.sla_clock import escalation_team_id

State = Ticket.SlaState


@dataclass(frozen=True)
class SweepResult:
    breached: int
    escalated: int
    at_risk: int
    on_track: int


def _due_before(moment: datetime) -> Q:
    return Q(first_response_due_at__lt=moment) | Q(resolution_due_at__lt=moment)


def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    warn = now + settings.SLA_WARNING
    running = Ticket.objects.filter(status__in=Ticket.OPEN_STATUSES).filter(
        Q(first_response_due_at__isnull=False) | Q(resolution_due_at__isnull=False)
    )
    team_id = escalation_team_id()
    handover = {"team_id": team_id} if team_id else {}
    with transaction.atomic():
        breached = running.filter(_due_before(now)).exclude(sla_state=State.BREACHED)
        escalated = breached.filter(escalated_at__isnull=True).update(
            sla_state=State.BREACHED,
            escalated_at=now,
            escalation_reason=Case(
                When(first_response_due_at__lt=now, then=Value("first response overdue")),
                default=Value("resolution overdue"),
            ),
            **handover,
        )
        # Escalated already (a high-value customer's), breaching now.
        escalated_before = breached.update(sla_state=State.BREACHED)
        at_risk = running.filter(_due_before(warn)).exclude(_due_before(now)).exclude(sla_state=State.AT_RISK)
        at_risk_count = at_risk.update(sla_state=State.AT_RISK)
        on_track = running.exclude(_due_before(warn)).exclude(sla_state=State.OK).update(sla_state=State.OK)
    return SweepResult(
        breached=escalated + escalated_before, escalated=escalated, at_risk=at_risk_count, on_track=on_track
    )
