"""``DailyStageFlow``: lifecycle stage changes by day, from the recorded ``StageChange``s."""

from datetime import date

from django.db.models import Count, F

from crm.dashboard.days import local_day, within
from crm.dashboard.models import DailyStageFlow
from customers.models import StageChange


def stage_flows_refresh(first: date, last: date) -> int:
    """Recompute the days ``first`` … ``last``: one grouped read (through the index on the
    time of change), one delete, one insert."""
    flows = (
        StageChange.objects.filter(**within("changed_at", first, last))
        .annotate(day=local_day("changed_at"), shop_id=F("customer__first_seen_shop_id"))
        .values("day", "shop_id", "from_stage", "to_stage")
        .annotate(customers=Count("id"))
        .order_by()
    )
    rows = [DailyStageFlow(**flow) for flow in flows]
    DailyStageFlow.objects.filter(day__range=(first, last)).delete()
    DailyStageFlow.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
