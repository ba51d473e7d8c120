"""``DailyPoints`` (points moved each day, from the ledger) and ``PointsLiability`` (what
the accounts hold, each day at the last refresh)."""

from datetime import date

from django.db.models import F, Max, Q, Sum

from crm.dashboard.days import local_day, within
from crm.dashboard.models import DailyPoints, PointsLiability
from loyalty.models import Account, PointsEntry

Kind = PointsEntry.Kind
# DailyPoints' column: (the entry kinds it adds up, the sign that makes it positive).
# "mature" (pending to available) and "transfer" (between a customer's accounts when shop
# groups merge) move no points in or out of the programme, and are left out.
COLUMNS = {
    "issued": ((Kind.EARN,), 1),
    "redeemed": ((Kind.REDEEM,), -1),
    "expired": ((Kind.EXPIRE,), -1),
    "reversed": ((Kind.CANCEL, Kind.REVERSE), -1),
    "restored": ((Kind.REFUND,), 1),
    "adjusted": ((Kind.ADJUST,), 1),
}


def points_refresh(first: date, last: date, *, after_id: int = 0) -> int:
    """Recompute the days ``first`` … ``last`` from the ledger entries written on them, one
    grouped read. The ledger has no index on time, so a caller that knows an id below every
    entry of those days (``after_id``: see ``refresh.points_mark``) reads the range of ids
    above it through the primary key instead of every entry."""
    entries = PointsEntry.objects.filter(pk__gt=after_id, **within("created_at", first, last))
    sums = (
        entries.annotate(day=local_day("created_at"))
        .values("day", "group_id")
        .annotate(
            **{
                column: Sum(_points(sign), filter=Q(kind__in=kinds), default=0)
                for column, (kinds, sign) in COLUMNS.items()
            }
        )
        .order_by()
    )
    rows = [DailyPoints(**{k: int(v) if k in COLUMNS else v for k, v in r.items()}) for r in sums]
    DailyPoints.objects.filter(day__range=(first, last)).delete()
    DailyPoints.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _points(sign: int):
    return (F("available") + F("pending")) * sign


def liability_snapshot(day: date) -> int:
    """What every group's accounts hold now, as ``day``'s figure: one pass over the accounts."""
    held = (
        Account.objects.values("group_id")
        .annotate(available=Sum("balance", filter=Q(balance__gt=0), default=0), pending=Sum("pending", default=0))
        .order_by()
    )
    rows = [PointsLiability(day=day, **r) for r in held]
    PointsLiability.objects.filter(day=day).delete()
    PointsLiability.objects.bulk_create(rows)
    return len(rows)


def last_entry_id() -> int:
    return PointsEntry.objects.aggregate(m=Max("pk"))["m"] or 0
