"""Reads for the dashboard, the reports and the customer page: attributed revenue per model
(split between campaigns and flows, and per channel with its spend and ROAS), CAC and CLV:CAC
for a period; a customer's credited conversions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from campaigns.models import AttributionCredit, AttributionModel, Campaign, FlowStep, MarketingSpend
from customers.models import Customer

ZERO = Decimal("0.00")
# Sources the CRM's own email earned: campaign and flow emails' keys, and orders carrying
# the CRM's UTM (utm_source=crm).
EMAIL = Q(channel="email") | Q(channel="crm")


@dataclass(frozen=True)
class EmailSource:
    """What a credit's ``email:<id>`` source key stands for: a campaign, or a flow's step."""

    kind: str  # "campaign" or "flow"
    id: int  # the campaign's or the flow's
    name: str
    step: int | None = None  # the flow step's number on the flow page (1, 2, 3 …)


def email_sources(keys) -> dict[str, EmailSource]:
    """The campaign or flow behind each ``email:<id>`` key (two queries; keys naming neither,
    such as an order's UTM with someone else's campaign, are left out)."""
    ids = {}
    for key in keys:
        kind, _, rest = key.partition(":")
        if kind == "email" and rest.isdigit():
            ids[int(rest)] = key
    if not ids:
        return {}
    found = {
        ids[email_id]: EmailSource("campaign", pk, name)
        for pk, name, email_id in Campaign.objects.filter(email_id__in=ids).values_list("pk", "name", "email_id")
    }
    # The steps of the flows that sent any of them, numbered as the flow page draws them.
    flows = FlowStep.objects.filter(email_id__in=ids).values("flow_id")
    steps = FlowStep.objects.filter(flow_id__in=flows).order_by("flow_id", "position", "id")
    number: dict[int, int] = defaultdict(int)
    for flow, name, email_id in steps.values_list("flow_id", "flow__name", "email_id"):
        number[flow] += 1
        if email_id in ids:
            found[ids[email_id]] = EmailSource("flow", flow, name, number[flow])
    return found


@dataclass(frozen=True)
class EarnerFigures:
    """A campaign's or a flow's attributed revenue in the period."""

    source: EmailSource
    revenue: Decimal


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    attributed: Decimal
    spend: Decimal | None  # None for one shop: spend is entered for all shops together

    @property
    def roas(self) -> float | None:
        return float(self.attributed / self.spend) if self.spend else None


@dataclass(frozen=True)
class MarketingFigures:
    model: str
    attributed: Decimal  # every touch's credit
    email: Decimal  # the CRM's campaigns and flows
    spend: Decimal | None  # None for one shop: spend is entered for all shops together
    new_customers: int
    avg_clv: float | None
    campaigns: Decimal = ZERO  # of ``email``, what campaigns earned
    flows: Decimal = ZERO  # … and flows
    channels: tuple[ChannelFigures, ...] = ()  # by attributed revenue, then spend
    earners: tuple[EarnerFigures, ...] = ()  # the campaigns and flows that earned most

    @property
    def cac(self) -> Decimal | None:
        if self.spend is None or not self.new_customers:
            return None
        return (self.spend / self.new_customers).quantize(Decimal("0.01"))

    @property
    def roas(self) -> float | None:
        return float(self.attributed / self.spend) if self.spend else None

    @property
    def clv_cac(self) -> float | None:
        cac = self.cac
        return self.avg_clv / float(cac) if cac and self.avg_clv is not None else None


def marketing_figures(
    *, first: date, last: date, model: str, shop_id: int | None = None, earners: int = 5
) -> MarketingFigures:
    """Figures of the days ``first`` … ``last`` (inclusive). Spend is monthly: the months the
    period touches count whole. New customers are those whose first counted order is in the
    period. With ``shop_id``: the credits of that shop's orders and the customers it first
    saw (as the dashboard's other sections count them); spend, entered for all shops
    together, and so CAC and ROAS, are left out (None).
    The CRM's own email counts as the channel "email" (its links' UTM source is "crm").
    Six queries: credits per channel and per email source, spend per channel, new
    customers, and the two that name the campaigns and flows."""
    if model not in AttributionModel.values:
        raise ValueError(f"Unknown attribution model {model!r}.")
    tz = timezone.get_current_timezone()
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    credits = AttributionCredit.objects.filter(placed_at__gte=start, placed_at__lt=end)
    new_customers = Customer.objects.filter(first_order_at__gte=start, first_order_at__lt=end)
    if shop_id is not None:
        credits = credits.filter(order__shop_id=shop_id)
        new_customers = new_customers.filter(first_seen_shop_id=shop_id)
    by_channel: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for channel, amount in credits.values_list("channel").annotate(amount=Sum(model)).order_by():
        # As spend's channels are written (lower case); the CRM's own links say utm_source=crm.
        name = channel.lower()
        by_channel["email" if name == "crm" else name] += Decimal(amount or ZERO)
    by_source = {
        key: Decimal(amount or ZERO)
        for key, amount in credits.filter(EMAIL).values_list("source_key").annotate(amount=Sum(model)).order_by()
    }
    spend_by_channel = {}
    if shop_id is None:
        spend_by_channel = {
            channel: Decimal(amount or ZERO)
            for channel, amount in MarketingSpend.objects.filter(month__gte=first.replace(day=1), month__lte=last)
            .values_list("channel")
            .annotate(amount=Sum("amount_base"))
            .order_by()
        }
    new = new_customers.aggregate(n=Count("id"), clv=Avg("metrics__clv_predicted"))
    sources = email_sources(by_source)
    earned = sorted(
        (EarnerFigures(sources[k], v.quantize(ZERO)) for k, v in by_source.items() if k in sources and v > 0),
        key=lambda e: (-e.revenue, e.source.name),
    )
    channels = sorted(
        (
            ChannelFigures(
                c,
                by_channel.get(c, ZERO).quantize(ZERO),
                spend_by_channel.get(c, ZERO) if shop_id is None else None,
            )
            for c in by_channel.keys() | spend_by_channel.keys()
        ),
        key=lambda c: (-c.attributed, -(c.spend or ZERO), c.channel),
    )
    return MarketingFigures(
        model=model,
        attributed=sum(by_channel.values(), ZERO).quantize(ZERO),
        email=sum(by_source.values(), ZERO).quantize(ZERO),
        spend=sum(spend_by_channel.values(), ZERO) if shop_id is None else None,
        new_customers=new["n"],
        avg_clv=new["clv"],
        campaigns=sum((e.revenue for e in earned if e.source.kind == "campaign"), ZERO),
        flows=sum((e.revenue for e in earned if e.source.kind == "flow"), ZERO),
        channels=tuple(channels),
        earners=tuple(earned[:earners]),
    )


# Each model as a narrow column heading, with its full name (``AttributionModel``'s order).
MODEL_COLUMNS = (
    ("Last click", "Last click"),
    ("First click", "First click"),
    ("Linear", "Linear"),
    ("Decay", "Time decay"),
    ("40/20/40", "Position-based (40/20/40)"),
)


@dataclass(frozen=True)
class CustomerCredit:
    """One touch's credit for one of the customer's orders, under every model."""

    order_id: int
    order_number: str  # the shop's
    placed_at: datetime
    currency: str  # the base currency the amounts are in
    source_key: str
    source: EmailSource | None  # the campaign or flow, for the CRM's own email
    touch_kind: str
    touch_at: datetime
    amounts: tuple[Decimal, ...]  # per model, in ``AttributionModel``'s order

    @property
    def label(self) -> str:
        if self.source is None:
            return self.source_key
        if self.source.kind == "campaign":
            return f"Campaign “{self.source.name}”"
        return f"Flow “{self.source.name}”, step {self.source.step}"


def customer_credits(customer_id: int, *, limit: int = 20) -> list[CustomerCredit]:
    """The credits of the customer's newest credited orders (``limit`` credits at most),
    newest order first, its touches in time order: one query, plus two naming the campaigns
    and flows when there are any. Zero-credit rows (a fully refunded order) are left out."""
    rows = (
        AttributionCredit.objects.filter(order__customer_id=customer_id, linear__gt=0)
        .order_by("-placed_at", "order_id", "touchpoint__at", "touchpoint_id")
        .values_list(
            "order_id",
            "order__external_id",
            "placed_at",
            "source_key",
            "touchpoint__kind",
            "touchpoint__at",
            *AttributionModel.values,
        )[:limit]
    )
    rows = list(rows)
    sources = email_sources({r[3] for r in rows})
    currency = settings.BASE_CURRENCY
    return [
        CustomerCredit(
            order_id=r[0],
            order_number=r[1],
            placed_at=r[2],
            currency=currency,
            source_key=r[3],
            source=sources.get(r[3]),
            touch_kind=r[4],
            touch_at=r[5],
            amounts=tuple(r[6:]),
        )
        for r in rows
    ]


def email_attributed(email_id: int) -> tuple[tuple[str, Decimal], ...]:
    """The revenue credited to an email's touches (its opens and clicks, and orders carrying
    its UTM), all time, under each model: (label, amount) pairs. One query, by the credits'
    source index."""
    totals = AttributionCredit.objects.filter(source_key=f"email:{email_id}").aggregate(
        **{m: Sum(m) for m in AttributionModel.values}
    )
    return tuple((label, Decimal(totals[m] or ZERO).quantize(ZERO)) for m, label in AttributionModel.choices)
