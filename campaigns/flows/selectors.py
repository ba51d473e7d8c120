"""Reads about flows for other pages: where a customer is in each flow (the 360 page)."""

from django.db.models import QuerySet

from campaigns.models import FlowRun


def customer_flow_runs(*, customer_id: int, limit: int = 20) -> QuerySet[FlowRun]:
    """The customer's passes through flows, newest first, with the flow and the step they are at."""
    return (
        FlowRun.objects.filter(customer_id=customer_id)
        .select_related("flow", "step")
        .order_by("-entered_at", "-id")[:limit]
    )
