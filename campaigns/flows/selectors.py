"""Reads about flows for other pages: where a customer is in each flow (the 360 page)."""

from django.db.models import Case, Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from campaigns.models import FlowRun, FlowStep, FlowStepRun, RunStatus


def step_number(step: str = "step") -> Subquery:
    """The number of the step at the path ``step`` as the flow page draws it: its place in
    its flow's (position, id) order, from 1 (positions need not be 1, 2, 3 …). A correlated
    count over the flow's few steps, so it costs no query of its own; NULL with no step."""
    before = FlowStep.objects.filter(flow_id=OuterRef(f"{step}__flow_id")).filter(
        Q(position__lt=OuterRef(f"{step}__position"))
        | Q(position=OuterRef(f"{step}__position"), id__lte=OuterRef(f"{step}__id"))
    )
    return Subquery(
        before.order_by().values("flow_id").annotate(n=Count("pk")).values("n"), output_field=IntegerField()
    )


def customer_flow_runs(*, customer_id: int, limit: int = 20) -> QuerySet[FlowRun]:
    """The customer's passes through flows, with the flow and the step they are at: the
    ones in progress first, then the finished ones, each newest first, ``limit`` at most.
    Each run carries ``step_number`` (as the flow page numbers its steps) and
    ``at_step_since`` (when its last step ran, or when it entered: since when it has been
    where it is). One query."""
    last_step = (
        FlowStepRun.objects.filter(run_id=OuterRef("pk"))
        .order_by()
        .values("run_id")
        .annotate(at=Max("executed_at"))
        .values("at")
    )
    return (
        FlowRun.objects.filter(customer_id=customer_id)
        .select_related("flow", "step")
        .annotate(
            step_number=step_number(),
            at_step_since=Coalesce(Subquery(last_step), "entered_at"),
            finished=Case(When(status=RunStatus.ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField()),
        )
        .order_by("finished", "-entered_at", "-id")[:limit]
    )
