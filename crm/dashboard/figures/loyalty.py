"""Points issued, redeemed, expired and given back, and the liability, from ``DailyPoints``
and ``PointsLiability``."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Sum

from core.figures import money_text, unit_money_text
from crm.dashboard import links
from crm.dashboard.figures.base import Chart, Figure, Period, bucket_start, change, money
from crm.dashboard.models import DailyPoints, PointsLiability
from loyalty.models import Programme

BY_GROUP = " With a shop chosen: the accounts of its shop group (shops in a group share points)."
# column: (label, the ledger's kinds behind it, how)
COLUMNS = {
    "issued": (
        "Points issued",
        "earn",
        "Points earned in the period (orders, bonuses, referrals), pending or spendable.",
    ),
    "redeemed": ("Points redeemed", "redeem", "Points spent on rewards in the period."),
    "expired": ("Points expired", "expire", "Points that expired in the period (by inactivity or by age)."),
    "reversed": (
        "Points given back",
        "cancel,reverse",
        "Points taken back in the period because their order was refunded or cancelled.",
    ),
}


@dataclass(frozen=True)
class Loyalty:
    figures: list[Figure]
    liability: Figure
    pending: Figure
    chart: Chart

    @property
    def tiles(self) -> list[Figure]:
        return [*self.figures, self.liability, self.pending]


def loyalty(period: Period, *, group_id: int | None) -> Loyalty:
    """Three reads: the period's movements, the latest liability, the point's value."""
    moves = DailyPoints.objects.filter(day__range=(period.previous.first, period.last))
    held = PointsLiability.objects.all()
    if group_id is not None:
        moves, held = moves.filter(group_id=group_id), held.filter(group_id=group_id)
    now: dict[str, int] = defaultdict(int)
    before: dict[str, int] = defaultdict(int)
    series: dict = defaultdict(lambda: defaultdict(int))
    for row in moves.values("day", *COLUMNS, "restored", "adjusted"):
        totals = now if row["day"] >= period.first else before
        for column in (*COLUMNS, "restored", "adjusted"):
            totals[column] += row[column]
            if row["day"] >= period.first:
                series[bucket_start(row["day"], period.grain)][column] += row[column]
    latest = held.aggregate(day=Max("day"))["day"]
    owed = held.filter(day=latest).aggregate(a=Sum("available", default=0), p=Sum("pending", default=0))
    programme = Programme.objects.filter(pk=1).first()
    value = programme.point_value if programme else None
    base = settings.BASE_CURRENCY
    as_of = f"as of {latest:%d %b %Y}" if latest else "not computed yet"
    worth = unit_money_text(value, base) if value is not None else "no programme yet"

    def in_money(points: int) -> Decimal | None:
        return None if value is None else points * value

    also = {
        "issued": f"; {now['adjusted']:+,} adjusted by hand",
        "redeemed": f"; {now['restored']:,} came back from codes that expired unused",
    }
    figures = [
        Figure(
            column,
            label,
            now[column],
            "points",
            how + BY_GROUP,
            link=links.points(period, kinds, group_id),
            detail=change(now[column], before[column], period.length) + also.get(column, ""),
        )
        for column, (label, kinds, how) in COLUMNS.items()
    ]
    pending_worth = f"worth {money_text(in_money(owed['p']), base)} at {worth}, " if value is not None else ""
    return Loyalty(
        figures=figures,
        liability=money(
            "liability",
            "Points liability",
            in_money(owed["a"]),
            base,
            f"What customers could spend now, in money: the positive balances of every account (a "
            f"negative one owes nothing) times the point's value ({worth}), today whatever the period." + BY_GROUP,
            link=links.accounts(group_id),
            detail=f"{owed['a']:,} spendable points at {worth}, {as_of}",
            thin="" if value is not None else "No loyalty programme is set up.",
        ),
        pending=Figure(
            "points_pending",
            "Pending points",
            owed["p"],
            "points",
            "Points earned on orders still within their return window: spendable once it ends, "
            "unless the order is refunded; not part of the liability until then. Today whatever "
            "the period." + BY_GROUP,
            link=links.accounts(group_id, pending=True),
            detail=f"{pending_worth}{as_of}",
        ),
        chart=Chart(
            "points",
            "bar",
            [b.label for b in period.buckets()],
            [
                {"label": COLUMNS[c][0], "data": [series[b.start][c] for b in period.buckets()]}
                for c in ("issued", "redeemed", "expired", "reversed")
            ],
            y_title="points",
        ),
    )
