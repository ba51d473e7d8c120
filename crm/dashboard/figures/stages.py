"""Customers by lifecycle stage and the flow between stages, from ``DailyStageFlow``."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Min, Q, Sum

from crm.dashboard import links
from crm.dashboard.figures.base import Chart, Period
from crm.dashboard.models import DailyStageFlow
from customers.models import Stage

HOW = (
    "Each customer's stage is recomputed after each order and nightly (docs/metrics.md), and "
    "every change is recorded. The counts at a day's end add up those changes: into a stage, "
    "and out of it. With a shop chosen: the customers that shop first saw. The links list the "
    "customers in each stage now."
)


@dataclass(frozen=True)
class StageRow:
    stage: str
    label: str
    at_start: int | None  # None: the period starts before stages were recorded (not known)
    at_end: int
    link: str

    @property
    def change(self) -> str:
        return "—" if self.at_start is None else f"{self.at_end - self.at_start:+,}"


@dataclass(frozen=True)
class Flow:
    from_label: str
    to_label: str
    customers: int
    link: str


@dataclass(frozen=True)
class Stages:
    rows: list[StageRow]
    flows: list[Flow]
    chart: Chart
    # The first day stages were recorded (when the CRM first computed them). Before it the
    # counts are unknown, not zero, and first assessments are not moves customers made.
    history_starts: date | None = None
    period_first: date | None = None
    how: str = HOW

    @property
    def history_after_start(self) -> bool:
        """Whether the period begins before any stage was recorded: the page says so."""
        if self.history_starts is None or self.period_first is None:
            return False
        return self.history_starts > self.period_first

    @property
    def total(self) -> int:
        return sum(r.at_end for r in self.rows)


def stages(period: Period) -> Stages:
    """One grouped read of every flow up to the period's end."""
    flows = DailyStageFlow.objects.filter(day__lte=period.last)
    if period.shop_id is not None:
        flows = flows.filter(shop_id=period.shop_id)
    grouped = (
        flows.values("from_stage", "to_stage")
        .annotate(
            before=Sum("customers", filter=Q(day__lt=period.first), default=0),
            during=Sum("customers", filter=Q(day__gte=period.first), default=0),
            first_day=Min("day"),
        )
        .order_by()
    )
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    moves = []
    for g in grouped:
        for totals, n in ((start, g["before"]), (end, g["before"] + g["during"])):
            totals[g["to_stage"]] = totals.get(g["to_stage"], 0) + n
            if g["from_stage"]:
                totals[g["from_stage"]] = totals.get(g["from_stage"], 0) - n
        if g["during"]:
            moves.append(g)
    labels = dict(Stage.choices)
    first_days = [g["first_day"] for g in grouped if g["first_day"] is not None]
    history_starts = min(first_days) if first_days else None
    known_at_start = history_starts is None or history_starts <= period.first
    rows = [
        StageRow(
            value,
            label,
            start.get(value, 0) if known_at_start else None,
            end.get(value, 0),
            links.stage(value, period.shop_id),
        )
        for value, label in Stage.choices
    ]
    moves.sort(key=lambda g: (-g["during"], g["from_stage"], g["to_stage"]))
    start_series = [{"label": f"{period.first:%d %b %Y} (start)", "data": [r.at_start for r in rows]}]
    return Stages(
        history_starts=history_starts,
        period_first=period.first,
        rows=rows,
        flows=[
            Flow(
                labels.get(g["from_stage"], "first assessment"),
                labels[g["to_stage"]],
                g["during"],
                links.stage_changes(period, g["from_stage"], g["to_stage"]),
            )
            for g in moves
        ],
        chart=Chart(
            "stages",
            "bar",
            [r.label for r in rows],
            [
                *(start_series if known_at_start else []),
                {
                    "label": f"{period.last:%d %b %Y} (end)",
                    "data": [r.at_end for r in rows],
                    "links": [r.link for r in rows],
                },
            ],
            y_title="customers",
        ),
    )
