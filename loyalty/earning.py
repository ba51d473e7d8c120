"""Points from orders, set-based per chunk of customers.

``orders_award`` brings a chunk of customers' order points in line with their orders, in
one transaction and a fixed number of queries:

- a paid order not yet rewarded earns, per rule in force when it was placed: the spend
  rule on its net amount (base currency, after discounts, without shipping and tax, less
  refunds), and the first-order bonus if it is the customer's first paid order. Earned
  points are pending until ``placed_at + pending_days`` (the return window);
- an order whose net amount fell (a refund) or that was cancelled gives back its points in
  proportion: while still pending they are cancelled, after the window they are reversed;
- pending points whose date has come become available (``points_mature``).

An order earns into the customer's account in the group of the order's shop. An order's
points for one rule form a stream of entries keyed ``order:<id>:rule:<id>:…``; the first is
the earn, so replaying an order or re-running the task awards nothing twice. The stream's
later entries (maturation, give-backs) go to the account of the order's shop's group, the
one it earned into (or, after groups were merged, the one that took its points over), of
the customer who has the order now: after staff merged two customers, the survivor, whose
account took the points over (``loyalty.merged``).

The rule is said once, as querysets, and both databases run them:

- the earns are one queryset over the orders (``order_earns``): on PostgreSQL it is the SELECT of
  one ``INSERT … SELECT``, with the accounts moved in the same statement; SQLite reads its
  rows and posts them as entries (``ledger.entries_write``: only the I/O differs). Reading
  every order and building each entry in Python cost two thirds of the award's time on
  PostgreSQL (100,000 orders took 17 s against a 10 s target);
- only the streams that may owe a give-back or are due to mature come back to Python
  (``_streams_to_settle``), where ``_reconcile`` says what they owe.

Money and points are exact on both (``loyalty.expressions``: the net amount half up to
the cent, then the rule's rounding). A property test (``tests/test_earning_paths.py``)
compares the award with an independent per-order implementation in Python, on both.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Coalesce, Concat, RowNumber
from django.utils import timezone

from core.chunks import among, chunk_run_ids, chunked
from core.db.server_binding import values_read
from customers.models import Order
from loyalty.expressions import Cents, Points
from loyalty.ledger import Entry, accounts_ensure_for_orders, accounts_lock, entries_post, entries_write
from loyalty.merged import with_merged
from loyalty.models import EarningRule, EntryKind, PointsEntry, Rounding, RuleKind
from loyalty.programme import ONE, Multipliers, programme_get, rule_in_force_q

# The scheduled maturation looks back this far for pending points whose date has come, so
# a missed run is caught up by the next one.
MATURE_LOOKBACK = timedelta(days=30)


def net_amount(prefix: str = ""):
    """An order's net amount: in the base currency, after discounts, without shipping and tax,
    less refunds; ``prefix`` reaches the order from another model (``"order__"``)."""
    return (
        F(f"{prefix}total_base")
        - (F(f"{prefix}shipping_total") + F(f"{prefix}tax_total")) * F(f"{prefix}exchange_rate")
        - F(f"{prefix}refunded_base")
    )


NET = ExpressionWrapper(net_amount(), output_field=DecimalField(max_digits=20, decimal_places=8))
# ``NET`` and ``Order.EARNING`` in SQL over ``customers_order`` (columns unqualified), for
# the tiers' qualifying figure.
NET_AMOUNT_SQL = "total_base - (shipping_total + tax_total) * exchange_rate - refunded_base"
EARNING_SQL = "status IN ({})".format(", ".join(f"'{status}'" for status in Order.EARNING))
MONEY_PRODUCT = DecimalField(max_digits=30, decimal_places=2)


@dataclass(frozen=True)
class OrderRow:
    id: int
    customer_id: int
    group_id: int  # the order's shop's group: the account it earns into
    placed_at: datetime
    status: str
    net: Decimal

    @property
    def earning(self) -> bool:
        return self.status in Order.EARNING and self.net > 0


@dataclass
class Stream:
    """What the ledger holds for one (order, rule)."""

    customer_id: int
    group_id: int
    total: int
    earned: int
    basis: Decimal | None
    matured: bool
    rows: int
    matures_at: datetime | None


def stream_key(order_id: int, rule_id: int, suffix: str | int) -> str:
    return f"order:{order_id}:rule:{rule_id}:{suffix}"


def _streams(customer_ids: list[int]) -> dict[int, dict[int, Stream]]:
    """The ledger's streams of these customers' orders, by order then rule.

    Only the customers are asked for (their other entries are dropped here): a condition on
    the order or rule in SQL lets the planner pick the (order, rule) index, and with the
    statistics not yet knowing new customers, scan every order entry."""
    rows = (
        PointsEntry.objects.filter(among(customer_ids, column='"loyalty_pointsentry"."customer_id"'))
        .values("order_id", "rule_id")
        .annotate(
            # Who has the order now: after a merge, the survivor holds its points (``loyalty.merged``).
            customer=Min("order__customer_id"),
            group=Min("order__shop__group_id"),
            total=Sum(F("available") + F("pending")),
            earned=Sum(F("available") + F("pending"), filter=Q(kind=EntryKind.EARN)),
            basis=Max("basis"),
            matured=Count("id", filter=Q(kind=EntryKind.MATURE)),
            rows=Count("id"),
            matures_at=Max("matures_at", filter=Q(kind=EntryKind.EARN)),
        )
        .order_by()
    )
    streams: dict[int, dict[int, Stream]] = defaultdict(dict)
    for r in rows:
        if r["order_id"] is None or r["rule_id"] is None:
            continue
        streams[r["order_id"]][r["rule_id"]] = Stream(
            r["customer"],
            r["group"],
            r["total"],
            r["earned"] or 0,
            r["basis"],
            r["matured"] > 0,
            r["rows"],
            r["matures_at"],
        )
    return streams


def _stream_target(stream: Stream, rule: EarningRule | None, order: OrderRow) -> int:
    """What a stream should hold now: nothing for an order no longer paid; for spend, the
    points earned in proportion to what is left of the net amount; a bonus stays whole."""
    if not order.earning:
        return 0
    if rule is not None and rule.kind != RuleKind.SPEND:
        return stream.earned
    if not stream.basis or order.net >= stream.basis:
        return stream.earned
    return int((Decimal(stream.earned) * order.net / stream.basis).to_integral_value(rounding=ROUND_FLOOR))


def orders_award(customer_ids: list[int], *, now: datetime | None = None) -> int:
    """Bring these customers' order points in line with their orders; returns the entries written."""
    programme = programme_get()
    if not programme.is_active or not customer_ids:
        return 0
    now = now or timezone.now()
    rules = {r.id: r for r in EarningRule.objects.filter(kind__in=[RuleKind.SPEND, RuleKind.FIRST_ORDER])}
    if not rules:  # no order rules, so no order points to award or give back (rules are protected)
        return 0
    multipliers = Multipliers.load()
    written = 0

    def run(ids: list[int]) -> int:
        # A merged customer's order streams may be split between them and their merge
        # partner: read (and lock) both (``loyalty.merged``).
        ids = with_merged(ids)
        accounts_ensure_for_orders(ids)
        accounts_lock(ids)
        return _award(ids, programme, rules, multipliers, now)

    for chunk in chunked(sorted(set(customer_ids))):
        # A customer whose orders cannot be awarded (a date or an amount out of range) is
        # logged and left out; the rest of the chunk is awarded.
        written += chunk_run_ids("loyalty award", chunk, run)
    return written


def _award(chunk: list[int], programme, rules: dict[int, EarningRule], multipliers: Multipliers, now: datetime) -> int:
    """A chunk's award, its customers locked: give-backs, then new earns, then maturations due."""
    orders, streams = _streams_to_settle(chunk, rules, now)
    entries = [
        entry
        for order in orders
        if order.placed_at >= programme.starts_at
        for entry in _reconcile(order, rules, streams)
    ]
    written = len(entries_post(entries))
    earns = order_earns(chunk, programme, rules, multipliers)
    earned, due = entries_write(earns, now=now) if earns is not None else (0, 0)
    written += earned
    if due or _maybe_due(streams, entries, now):
        written += _mature_locked(chunk, now)
    return written


def order_net(prefix: str = "") -> Cents:
    """An order's net amount as the ledger keeps it: to the cent, halves up, never below zero."""
    return Cents(net_amount(prefix))


def order_earns(
    chunk: list[int] | None,
    programme,
    rules: dict[int, EarningRule],
    multipliers: Multipliers,
    *,
    placed: tuple[datetime, datetime] | None = None,
) -> QuerySet | None:
    """The earn rule: these customers' paid orders' earns, one row per order and rule in force
    when it was placed, its values in the ledger's ``SELECTED`` order; those already in the
    ledger are skipped by their key when posted. ``None`` if no order rule is active.

    With ``placed`` (from, until) and no ``chunk``: what the orders placed then would earn,
    every customer's, as the preview of crediting past orders reads it (``loyalty.history``):
    nothing is written, so an account need not exist yet (one that does not has no tier).

    An order earns if it is paid, placed since the programme started and its net amount is
    above zero; into the account of its shop's group, pending until ``placed_at +
    pending_days``. Per rule: spend gives the net amount × points per unit × the multiplier,
    rounded as the rule says; the first-order bonus gives its points × the multiplier,
    rounded down, to the account's first paid order only (one placed before the programme
    started counts, and then earns nothing), keyed on the account so it is given once. The
    multiplier is the rule's own for the account's tier, else the tier's, else 1
    (``Multipliers``). No entry of zero points."""

    def paid(customer_column: str | None) -> QuerySet:
        orders = Order.objects.filter(status__in=Order.EARNING)
        if chunk is not None:
            orders = orders.filter(among(chunk, column=customer_column))
        elif customer_column is not None:  # those with orders in the window (their first may be older)
            orders = orders.filter(customer_id__in=Order.objects.filter(placed_at__range=placed).values("customer_id"))
        return orders.annotate(net=order_net()).filter(net__gt=0).order_by()

    first_paid = (
        paid("customer_id")  # a subquery: its table has an alias of its own
        .annotate(
            place=Window(
                RowNumber(),
                partition_by=[F("customer_id"), F("shop__group_id")],
                order_by=[F("placed_at").asc(), F("id").asc()],
            )
        )
        .filter(place=1)
        .values("id")
    )
    if placed is None:
        # The account the order earns into: the customer's in the group of the order's shop.
        earning = paid('"customers_order"."customer_id"').filter(
            placed_at__gte=programme.starts_at, customer__loyalty_accounts__group_id=F("shop__group_id")
        )
        tier = "customer__loyalty_accounts__tier_id"
    else:
        # The window itself says whose orders; the account, where there is one, gives the tier.
        since, until = placed
        account = FilteredRelation(
            "customer__loyalty_accounts", condition=Q(customer__loyalty_accounts__group_id=F("shop__group_id"))
        )
        earning = paid(None).filter(placed_at__gte=since, placed_at__lt=until).annotate(account=account)
        tier = "account__tier_id"
    matures_at = ExpressionWrapper(
        F("placed_at") + Value(timedelta(days=programme.pending_days)), output_field=DateTimeField()
    )
    order_key = Concat(Value("order:"), Cast("id", CharField()), output_field=CharField())
    branches = []
    for rule in sorted(rules.values(), key=lambda r: r.id):
        if not rule.is_active:
            continue
        multiplier = Case(
            *(
                When(**{tier: tier_id}, then=Value(multipliers.get(rule.id, tier_id)))
                for tier_id in sorted(multipliers.by_tier)
            ),
            default=Value(ONE),
            output_field=DecimalField(max_digits=5, decimal_places=2),
        )
        rows = earning.filter(rule_in_force_q(rule, "placed_at"))
        if rule.kind == RuleKind.SPEND:
            points = Points(F("net"), Value(rule.points_per_unit), multiplier, rounding=rule.rounding)
            key = Concat(order_key, Value(f":rule:{rule.id}:earn"), output_field=CharField())
        else:
            points = Points(Value(rule.points), multiplier, rounding=Rounding.DOWN)
            rows = rows.filter(id__in=first_paid)
            key = Concat(
                Value("first_order:customer:"),
                Cast("customer_id", CharField()),
                Value(":group:"),
                Cast("shop__group_id", CharField()),
                Value(f":rule:{rule.id}"),
                output_field=CharField(),
            )
        rows = rows.annotate(points=points).filter(points__gt=0)
        branches.append(
            rows.values_list(
                "customer_id",
                "shop__group_id",
                Value(EntryKind.EARN),
                Value(0),
                "points",
                key,
                order_key,
                Value(rule.id),
                "id",
                "net",
                matures_at,
                Value(""),
            )
        )
    if not branches:
        return None
    return branches[0].union(*branches[1:], all=True).order_by() if len(branches) > 1 else branches[0]


def _streams_to_settle(
    chunk: list[int], rules: dict[int, EarningRule], now: datetime
) -> tuple[list[OrderRow], dict[int, dict[int, Stream]]]:
    """The streams of a chunk's orders that may owe something, and their orders: a give-back
    (the order was cancelled, or refunded below what its points were earned on; what exactly
    is ``_reconcile``'s), or a maturation whose date has come. Only these are read."""
    streams: dict[int, dict[int, Stream]] = defaultdict(dict)
    orders: dict[int, OrderRow] = {}
    for r in values_read(_settle_queryset(chunk, rules, now)):
        oid, gid, cid = r["order_id"], r["group"], r["customer"]
        if oid is None:
            continue
        streams[oid][r["rule_id"]] = Stream(
            cid, gid, r["total"], r["earned"], r["basis"], r["matured"] > 0, r["rows"], r["matures_at"]
        )
        orders[oid] = OrderRow(oid, cid, gid, r["placed_at"], r["status"], r["net"])
    return list(orders.values()), streams


def _settle_queryset(chunk: list[int], rules: dict[int, EarningRule], now: datetime) -> QuerySet:
    """The query of ``_streams_to_settle``: a row per stream, with its order's figures."""
    net = order_net("order__")
    points = F("available") + F("pending")
    spend_rules = [r.id for r in rules.values() if r.kind == RuleKind.SPEND]
    return (
        # Only the customers and the order rules are asked for (their kinds are known here):
        # a condition on the order or a join to the rule lets the planner pick the (order,
        # rule) index and read every order's entries. Every entry of these rules has an order.
        PointsEntry.objects.filter(among(chunk, column='"loyalty_pointsentry"."customer_id"'), rule_id__in=rules)
        .values("order_id", "rule_id")
        .annotate(
            # One order's: grouped by the stream alone, the rows sorted for it stay narrow.
            group=Min("order__shop__group_id"),
            placed_at=Min("order__placed_at"),
            status=Min("order__status"),
            net=Min(net),
            customer=Min("order__customer_id"),  # who has the order now (``loyalty.merged``)
            # Cast: a sum of integers is ``numeric`` on PostgreSQL, and ``values_read`` does not convert.
            total=Cast(Sum(points), BigIntegerField()),
            earned=Cast(Coalesce(Sum(points, filter=Q(kind=EntryKind.EARN)), 0), BigIntegerField()),
            basis=Max("basis"),
            matured=Count("id", filter=Q(kind=EntryKind.MATURE)),
            rows=Count("id"),
            matures_at=Max("matures_at", filter=Q(kind=EntryKind.EARN)),
        )
        # Refunded below its basis: holds more than ``earned × net / basis`` (said without a division).
        .annotate(owed=ExpressionWrapper(F("total") * F("basis") - F("earned") * F("net"), output_field=MONEY_PRODUCT))
        .filter(
            Q(matured=0, matures_at__lte=now)
            | Q(total__gt=0)
            & (~Q(status__in=Order.EARNING) | Q(net__lte=0) | Q(rule_id__in=spend_rules, basis__gt=0, owed__gt=0))
        )
        .order_by()
    )


def _maybe_due(streams, entries: list[Entry], now: datetime) -> bool:
    """Whether any of these order points may be due to mature (if not, skip the re-read):
    the usual case for new orders, still inside their return window."""
    return any(e.matures_at is not None and e.matures_at <= now for e in entries) or any(
        not s.matured and s.matures_at is not None and s.matures_at <= now
        for by_rule in streams.values()
        for s in by_rule.values()
    )


def _reconcile(order: OrderRow, rules, streams) -> list[Entry]:
    """Give back what the order's streams hold beyond their target (refunds, cancellation)."""
    entries = []
    for rule_id, stream in streams.get(order.id, {}).items():
        surplus = stream.total - _stream_target(stream, rules.get(rule_id), order)
        if surplus <= 0:
            continue
        kind = EntryKind.REVERSE if stream.matured else EntryKind.CANCEL
        entries.append(
            Entry(
                customer_id=order.customer_id,
                group_id=order.group_id,
                kind=kind,
                key=stream_key(order.id, rule_id, stream.rows),
                source=f"order:{order.id}",
                available=-surplus if stream.matured else 0,
                pending=0 if stream.matured else -surplus,
                rule_id=rule_id,
                order_id=order.id,
                reason="order refunded" if order.status in Order.EARNING else f"order {order.status}",
            )
        )
    return entries


def _mature_locked(customer_ids: list[int], now: datetime) -> int:
    """Pending points of these (locked) customers whose date has come become available."""
    entries = []
    for order_id, by_rule in _streams(customer_ids).items():
        for rule_id, stream in by_rule.items():
            if stream.matured or stream.matures_at is None or stream.matures_at > now:
                continue
            entries.append(
                Entry(
                    customer_id=stream.customer_id,
                    group_id=stream.group_id,
                    kind=EntryKind.MATURE,
                    key=stream_key(order_id, rule_id, "mature"),
                    source=f"order:{order_id}",
                    available=stream.total,
                    pending=-stream.total,
                    rule_id=rule_id,
                    order_id=order_id,
                )
            )
    return len(entries_post(entries))


def points_mature(*, now: datetime | None = None, lookback: timedelta = MATURE_LOOKBACK) -> int:
    """Scheduled: every customer's pending points whose date has come become available."""
    now = now or timezone.now()
    # A stream's maturation is found by its key (the unique index), whatever the statistics.
    mature_key = Concat(
        Value("order:"),
        Cast(OuterRef("order_id"), CharField()),
        Value(":rule:"),
        Cast(OuterRef("rule_id"), CharField()),
        Value(":mature"),
        output_field=CharField(),
    )
    customers = (
        PointsEntry.objects.filter(
            kind=EntryKind.EARN, order__isnull=False, matures_at__lte=now, matures_at__gt=now - lookback
        )
        .filter(~Exists(PointsEntry.objects.filter(key=mature_key)))
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )
    written = 0

    def run(ids: list[int]) -> int:
        ids = with_merged(ids)  # a merged customer's streams, whole (``loyalty.merged``)
        accounts_lock(ids)  # they earned, so their accounts are there
        return _mature_locked(ids, now)

    for chunk in chunked(sorted(customers)):
        written += chunk_run_ids("loyalty maturation", chunk, run)
    return written
