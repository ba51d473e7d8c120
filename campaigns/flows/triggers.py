"""What starts a customer's pass through a flow: each trigger as one queryset of new rows.

A trigger reads a table the CRM already keeps (segment stays, events, orders, stage
changes, loyalty tier changes, CSAT and NPS answers, a date on the customer) for rows newer
than the flow's watermark, and gives each as (customer, key, time, order, due): ``key``
names the row ("event:12"), so reading a row twice enrolls once (``FlowRun``'s unique
(flow, customer, trigger_key)). The engine turns the queryset into one
``INSERT … SELECT``.

Watermarks, and why rows are read twice on purpose. Append-only tables are read by id, but
ids are handed out when a row is inserted and become visible when its transaction commits,
so a row with a smaller id can appear after a larger one was read. The watermark therefore
moves to the table's largest id only once that id was seen ``LAG`` ago; rows read in the
meantime are read again by the next pass and skipped by their key. Rows that change (an order becoming fulfilled, a
stay closing) are read by time with the same overlap. Date triggers run once per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Concat, ExtractDay, ExtractMonth

from campaigns.flows.params_text import control_character_at
from campaigns.models import Flow, Segment, SegmentMembership, TriggerKind
from core.days import start_of, today
from customers.models import Customer, CustomerIdentity, Event, Order, OrderStatus, StageChange
from loyalty.expiry import WARNING_EVENT
from loyalty.models import TierChange
from support.models import CsatResponse, NpsResponse

# How long a transaction may take to commit a row the trigger reads (see the docstring).
LAG = timedelta(minutes=5)
DATE_FIELDS = ("birthday", "first_order_at", "last_order_at", "first_seen_at")
STAGES = ("at_risk", "lapsed", "reactivated", "active", "new", "loyal")


class TriggerError(ValueError):
    """Bad trigger parameters: ``field`` names the parameter."""

    def __init__(self, message: str, field: str = "trigger_params"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Batch:
    """The new rows (a queryset whose values are ``r_customer``, ``r_key``, ``r_at``,
    ``r_order`` and ``r_due``) and the watermark to store once they are enrolled."""

    rows: QuerySet | None
    watermark_id: int
    watermark_at: datetime | None
    watermark_next_id: int = 0


def _int(params: dict, name: str, default: int | None = None, low: int = 0, high: int = 10**6) -> int:
    value = params.get(name, default)
    if value is None:
        raise TriggerError(f"Give {name}.", field=name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TriggerError(f"{name} is a whole number from {low} to {high}.", field=name)
    return value


def params_clean(kind: str, params: dict) -> dict:
    """The parameters of a trigger of ``kind``, checked and normalised; ``TriggerError`` names
    the parameter at fault."""
    if not isinstance(params, dict):
        raise TriggerError("The trigger's parameters are an object.")
    if (where := control_character_at(params)) is not None:
        raise TriggerError("Control characters (such as NUL) are not allowed.", field=where)
    p: dict = {}
    if kind in (TriggerKind.SEGMENT_ENTERED, TriggerKind.SEGMENT_EXITED):
        p["segment_id"] = _int(params, "segment_id", low=1, high=2**62)
        if not Segment.objects.filter(pk=p["segment_id"]).exists():
            raise TriggerError("No such segment.", field="segment_id")
    elif kind in (TriggerKind.EVENT, TriggerKind.POINTS_EXPIRING):
        if kind == TriggerKind.EVENT:
            event_type = params.get("event_type")
            if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 64:
                raise TriggerError("Give the event's type (at most 64 characters).", field="event_type")
            p["event_type"] = event_type.strip()
        p["delay_minutes"] = _int(params, "delay_minutes", 0, high=60 * 24 * 365)
    elif kind == TriggerKind.FULFILLED:
        p["days"] = _int(params, "days", 7, high=365)
        p["max_age_days"] = _int(params, "max_age_days", 60, low=1, high=365)
    elif kind == TriggerKind.STAGE_CHANGED:
        stages = params.get("stages", ["at_risk", "lapsed"])
        if not isinstance(stages, list) or not stages or any(s not in STAGES for s in stages):
            raise TriggerError(f"stages is a list of: {', '.join(STAGES)}.", field="stages")
        p["stages"] = stages
    elif kind == TriggerKind.DATE:
        field = params.get("field", "birthday")
        if field not in DATE_FIELDS:
            raise TriggerError(f"field is one of: {', '.join(DATE_FIELDS)}.", field="field")
        p["field"] = field
        # A time (first order, last order, first seen) is read once its day is over: a day after it at the earliest.
        low = -365 if field == "birthday" else 1
        p["offset_days"] = _int(params, "offset_days", 0 if field == "birthday" else 1, low=low, high=365)
    elif kind == TriggerKind.TIER_REACHED:
        tier = params.get("tier_id")
        p["tier_id"] = None if tier is None else _int(params, "tier_id", low=1, high=2**62)
    elif kind == TriggerKind.LOW_CSAT:
        p["max_rating"] = _int(params, "max_rating", 2, low=1, high=4)
    elif kind == TriggerKind.NPS_DETRACTOR:
        p["max_score"] = _int(params, "max_score", 6, low=0, high=8)
    elif kind != TriggerKind.FIRST_ORDER:
        raise TriggerError("No such trigger.", field="trigger")
    return p


def _known_in_shop(flow: Flow, customer_ref: str = "customer_id") -> Exists:
    return Exists(CustomerIdentity.objects.filter(customer_id=OuterRef(customer_ref), shop_id=flow.shop_id))


def _key(prefix: str, column: str = "id", suffix: str = ""):
    parts = [Value(prefix), Cast(column, CharField())]
    if suffix:
        parts.append(Value(suffix))
    return Concat(*parts, output_field=CharField())


def _shaped(qs: QuerySet, *, customer: str, key, at: str, order=None, due=None) -> QuerySet:
    return qs.order_by().values(
        r_customer=F(customer),
        r_key=key,
        r_at=F(at),
        r_order=order if order is not None else Value(None, output_field=IntegerField()),
        r_due=due if due is not None else F(at),
    )


def _by_id(qs: QuerySet, flow: Flow, now: datetime, **shape) -> Batch:
    """Rows of an append-only table after the id watermark (see the module's docstring).

    The watermark moves to the table's largest id as seen ``LAG`` ago (kept in
    ``watermark_next_id``, seen at ``watermark_at``): every row up to it was committed by now.
    So a pass reads the rows of the last few minutes at most, however rarely the trigger's
    own rows come."""
    rows = _shaped(qs.filter(pk__gt=flow.watermark_id), **shape)
    seen_at = flow.watermark_at
    if seen_at is not None and seen_at > now - LAG:
        return Batch(rows, flow.watermark_id, seen_at, flow.watermark_next_id)
    top = qs.model.objects.aggregate(m=Max("pk"))["m"] or 0
    settled = flow.watermark_id if seen_at is None else max(flow.watermark_id, flow.watermark_next_id)
    return Batch(rows, settled, now, top)


def _by_time(qs: QuerySet, flow: Flow, time_column: str, now: datetime, **shape) -> Batch:
    since = (flow.watermark_at or now) - LAG
    rows = qs.filter(**{f"{time_column}__gte": since, f"{time_column}__lte": now})
    return Batch(_shaped(rows, **shape), flow.watermark_id, now, flow.watermark_next_id)


def _delayed(column: str, minutes: int):
    return ExpressionWrapper(F(column) + Value(timedelta(minutes=minutes)), output_field=DateTimeField())


def new_rows(flow: Flow, now: datetime) -> Batch:
    """The trigger's rows newer than the flow's watermark (nothing for a date trigger
    already run today)."""
    p = params_clean(flow.trigger, flow.trigger_params)
    kind = flow.trigger
    if kind == TriggerKind.SEGMENT_ENTERED:
        stays = SegmentMembership.objects.filter(segment_id=p["segment_id"]).filter(_known_in_shop(flow))
        since = Segment.objects.filter(pk=p["segment_id"]).values_list("history_since", flat=True).first()
        if since is not None:  # the first fill is who was there, not who entered
            stays = stays.filter(entered_at__gt=since)
        return _by_id(stays, flow, now, customer="customer_id", key=_key("stay:", suffix=":in"), at="entered_at")
    if kind == TriggerKind.SEGMENT_EXITED:
        stays = SegmentMembership.objects.filter(segment_id=p["segment_id"], exited_at__isnull=False)
        stays = stays.filter(_known_in_shop(flow))
        return _by_time(
            stays, flow, "exited_at", now, customer="customer_id", key=_key("stay:", suffix=":out"), at="exited_at"
        )
    if kind in (TriggerKind.EVENT, TriggerKind.POINTS_EXPIRING):
        event_type = p.get("event_type", WARNING_EVENT)
        events = Event.objects.filter(shop_id=flow.shop_id, type=event_type)
        due = _delayed("occurred_at", p["delay_minutes"])
        return _by_id(events, flow, now, customer="customer_id", key=_key("event:"), at="occurred_at", due=due)
    if kind == TriggerKind.FIRST_ORDER:
        earlier = Order.objects.filter(
            customer_id=OuterRef("customer_id"), shop_id=flow.shop_id, placed_at__lt=OuterRef("placed_at")
        )
        orders = Order.objects.filter(shop_id=flow.shop_id).filter(~Exists(earlier))
        return _by_id(orders, flow, now, customer="customer_id", key=_key("order:"), at="placed_at", order=F("pk"))
    if kind == TriggerKind.FULFILLED:
        # Orders keep no time of fulfilment: the time of their last change stands for it, and
        # only recent orders count (a refund months later changes an old order too).
        orders = Order.objects.filter(
            shop_id=flow.shop_id, status=OrderStatus.FULFILLED, placed_at__gte=now - timedelta(days=p["max_age_days"])
        )
        due = ExpressionWrapper(F("updated_at") + Value(timedelta(days=p["days"])), output_field=DateTimeField())
        return _by_time(
            orders, flow, "updated_at", now, customer="customer_id", key=_key("fulfilled:"), at="updated_at",
            order=F("pk"), due=due,
        )  # fmt: skip
    if kind == TriggerKind.STAGE_CHANGED:
        changes = StageChange.objects.filter(to_stage__in=p["stages"]).filter(_known_in_shop(flow))
        return _by_id(changes, flow, now, customer="customer_id", key=_key("stage:"), at="changed_at")
    if kind == TriggerKind.TIER_REACHED:
        changes = TierChange.objects.filter(group_id=flow.shop.group_id, to_tier__isnull=False)
        if p["tier_id"]:
            changes = changes.filter(to_tier_id=p["tier_id"])
        else:  # up, not down
            changes = changes.filter(Q(from_tier__isnull=True) | Q(to_tier__rank__gt=F("from_tier__rank")))
        return _by_id(changes, flow, now, customer="customer_id", key=_key("tier:"), at="created_at")
    if kind == TriggerKind.LOW_CSAT:
        answers = CsatResponse.objects.filter(ticket__shop_id=flow.shop_id, rating__lte=p["max_rating"])
        return _by_id(answers, flow, now, customer="customer_id", key=_key("csat:"), at="created_at")
    if kind == TriggerKind.NPS_DETRACTOR:
        answers = NpsResponse.objects.filter(shop_id=flow.shop_id, score__lte=p["max_score"])
        return _by_id(answers, flow, now, customer="customer_id", key=_key("nps:"), at="created_at")
    if kind == TriggerKind.DATE:
        return _dates(flow, p, now)
    raise TriggerError("No such trigger.", field="trigger")


def _dates(flow: Flow, p: dict, now: datetime) -> Batch:
    """Customers whose date (birthday: its day of the year) is ``offset_days`` from today:
    once a day, the first pass of the day."""
    day = today(now)
    midnight = start_of(day)
    if flow.watermark_at is not None and flow.watermark_at >= midnight:
        return Batch(None, flow.watermark_id, flow.watermark_at, flow.watermark_next_id)
    target = day - timedelta(days=p["offset_days"])  # e.g. 7 days before: the date is a week off
    field = p["field"]
    customers = Customer.objects.filter(_known_in_shop(flow, "pk"))
    if field == "birthday":
        customers = customers.annotate(_m=ExtractMonth("birthday"), _d=ExtractDay("birthday")).filter(
            _m=target.month, _d=target.day
        )
        key = Value(f"birthday:{target.year}")
    else:
        customers = customers.filter(
            **{f"{field}__gte": start_of(target), f"{field}__lt": start_of(target + timedelta(days=1))}
        )
        key = Value(f"{field}:{target.isoformat()}")
    rows = customers.order_by().values(
        r_customer=F("pk"),
        r_key=key,
        r_at=Value(now, output_field=DateTimeField()),
        r_order=Value(None, output_field=IntegerField()),
        r_due=Value(now, output_field=DateTimeField()),
    )
    return Batch(rows, flow.watermark_id, midnight, flow.watermark_next_id)


def watermark_now(flow: Flow, now: datetime) -> tuple[int, datetime | None]:
    """Where a flow switched on at ``now`` starts reading: after every row there is now."""
    sources = {
        TriggerKind.SEGMENT_ENTERED: SegmentMembership,
        TriggerKind.EVENT: Event,
        TriggerKind.POINTS_EXPIRING: Event,
        TriggerKind.FIRST_ORDER: Order,
        TriggerKind.STAGE_CHANGED: StageChange,
        TriggerKind.TIER_REACHED: TierChange,
        TriggerKind.LOW_CSAT: CsatResponse,
        TriggerKind.NPS_DETRACTOR: NpsResponse,
    }
    model = sources.get(flow.trigger)
    top = (model.objects.aggregate(m=Max("pk"))["m"] or 0) if model else 0
    if model is not None or flow.trigger == TriggerKind.DATE:
        return top, None  # ids: read after the top; dates: today's count, the first pass sends them
    return top, now + LAG  # time triggers read from now on (the overlap is subtracted)
