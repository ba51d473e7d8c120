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
one it earned into (or, after groups were merged, the one that took its points over).

Two ways of doing the same, by database:

- on PostgreSQL the earns are one ``INSERT … SELECT`` from the orders, with the accounts
  moved in the same statement (``_earn_in_sql``), and only the streams that need a give-back
  or are due to mature come back to Python. Reading every order and building each entry in
  Python cost two thirds of the award's time (100,000 orders took 17 s against a 10 s target);
- on SQLite everything is read and computed here (``_award_in_python``).

Both round the same way (the net amount half up to cents, then the rule's rounding), and a
test runs both on the same orders and compares the ledgers.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from core.chunks import among, chunk_run_ids, chunked
from core.db.server_binding import server_binding_cursor
from customers.models import Order
from loyalty.ledger import (
    Entry,
    accounts_ensure_for_orders,
    accounts_lock,
    entries_insert_select,
    entries_post,
)
from loyalty.models import Account, EarningRule, EntryKind, PointsEntry, RuleKind
from loyalty.programme import Multipliers, programme_get, rule_in_force, rule_points

ZERO = Decimal(0)
CENT = Decimal("0.01")
# The scheduled maturation looks back this far for pending points whose date has come, so
# a missed run is caught up by the next one.
MATURE_LOOKBACK = timedelta(days=30)
NET = ExpressionWrapper(
    F("total_base") - (F("shipping_total") + F("tax_total")) * F("exchange_rate") - F("refunded_base"),
    output_field=DecimalField(max_digits=20, decimal_places=8),
)
# ``NET`` and ``Order.EARNING`` in SQL over ``customers_order`` (columns unqualified: no
# other table these queries join has them), and the net amount as ``net_of`` keeps it.
NET_AMOUNT_SQL = "total_base - (shipping_total + tax_total) * exchange_rate - refunded_base"
EARNING_SQL = "status IN ({})".format(", ".join(f"'{status}'" for status in Order.EARNING))
NET_SQL = f"GREATEST(0, round({NET_AMOUNT_SQL}, 2))"


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


def net_of(net) -> Decimal:
    """The net amount as the ledger keeps it: to the cent, halves up (as PostgreSQL's
    ``round``), never below zero."""
    return max(ZERO, Decimal(net).quantize(CENT, rounding=ROUND_HALF_UP))


def _orders(customer_ids: list[int]) -> dict[int, list[OrderRow]]:
    by_customer: dict[int, list[OrderRow]] = defaultdict(list)
    rows = (
        Order.objects.filter(among(customer_ids))
        .annotate(net=NET)
        .order_by("placed_at", "id")
        .values_list("id", "customer_id", "shop__group_id", "placed_at", "status", "net")
    )
    for oid, cid, gid, placed_at, status, net in rows:
        by_customer[cid].append(OrderRow(oid, cid, gid, placed_at, status, net_of(net)))
    return by_customer


def _streams(customer_ids: list[int]) -> dict[int, dict[int, Stream]]:
    """The ledger's streams of these customers' orders, by order then rule.

    Only the customers are asked for (their other entries are dropped here): a condition on
    the order or rule in SQL lets the planner pick the (order, rule) index, and with the
    statistics not yet knowing new customers, scan every order entry."""
    rows = (
        PointsEntry.objects.filter(among(customer_ids, column='"loyalty_pointsentry"."customer_id"'))
        .values("order_id", "rule_id")
        .annotate(
            customer=Min("customer_id"),
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


def orders_award(customer_ids: list[int], *, now: datetime | None = None, in_sql: bool | None = None) -> int:
    """Bring these customers' order points in line with their orders; returns the entries written.
    ``in_sql`` picks the way (see the module's docstring); by default, SQL on PostgreSQL."""
    programme = programme_get()
    if not programme.is_active or not customer_ids:
        return 0
    now = now or timezone.now()
    rules = {r.id: r for r in EarningRule.objects.filter(kind__in=[RuleKind.SPEND, RuleKind.FIRST_ORDER])}
    if not rules:  # no order rules, so no order points to award or give back (rules are protected)
        return 0
    in_sql = connection.vendor == "postgresql" if in_sql is None else in_sql
    award = _award_in_sql if in_sql else _award_in_python
    written = 0

    def run(ids: list[int]) -> int:
        accounts_ensure_for_orders(ids)
        accounts_lock(ids)
        return award(ids, programme, rules, now)

    for chunk in chunked(sorted(set(customer_ids))):
        # A customer whose orders cannot be awarded (a date or an amount out of range) is
        # logged and left out; the rest of the chunk is awarded.
        written += chunk_run_ids("loyalty award", chunk, run)
    return written


def _award_in_python(chunk: list[int], programme, rules: dict[int, EarningRule], now: datetime) -> int:
    multipliers = Multipliers.load()
    delay = timedelta(days=programme.pending_days)
    tiers = {
        (cid, gid): tier
        for cid, gid, tier in Account.objects.filter(among(chunk)).values_list("customer_id", "group_id", "tier_id")
    }
    orders = _orders(chunk)
    streams = _streams(chunk)
    entries: list[Entry] = []
    for customer_orders in orders.values():
        # The first paid order in each group (each account has its own first-order bonus).
        first_paid: dict[int, OrderRow] = {}
        for order in customer_orders:
            if order.earning:
                first_paid.setdefault(order.group_id, order)
        for order in customer_orders:
            if order.placed_at < programme.starts_at:
                continue
            entries.extend(_reconcile(order, rules, streams))
            if order.earning:
                is_first = first_paid.get(order.group_id) is order
                tier = tiers.get((order.customer_id, order.group_id))
                entries.extend(_earn(order, is_first, rules, streams, multipliers.get, tier, delay))
    written = len(entries_post(entries))
    if _maybe_due(streams, entries, now):
        written += _mature_locked(chunk, now)
    return written


def _award_in_sql(chunk: list[int], programme, rules: dict[int, EarningRule], now: datetime) -> int:
    orders, streams = _streams_to_settle(chunk, now)
    entries = [
        entry
        for order in orders
        if order.placed_at >= programme.starts_at
        for entry in _reconcile(order, rules, streams)
    ]
    written = len(entries_post(entries))
    earned, due = _earn_in_sql(chunk, programme, now)
    written += earned
    if due or _maybe_due(streams, entries, now):
        written += _mature_locked(chunk, now)
    return written


# Every paid order's earns, per rule in force when it was placed (``entries_insert_select``
# skips those already in the ledger), into the account of the order's shop's group.
# ``first_paid`` is each customer's first paid order in each group (one before the programme
# started earns no bonus). A rule's multiplier is its own for the account's tier, else the
# tier's, else 1. Parameters: the customer ids, the pending delay, the programme's start.
EARNS_SQL = f"""
WITH paid AS (
    SELECT o.id, o.customer_id, s.group_id, o.placed_at, {NET_SQL} AS net
    FROM customers_order o
    JOIN customers_shop s ON s.id = o.shop_id
    WHERE o.customer_id = ANY(%s::bigint[]) AND o.{EARNING_SQL}
), first_paid AS (
    SELECT DISTINCT ON (customer_id, group_id) id FROM paid WHERE net > 0
    ORDER BY customer_id, group_id, placed_at, id
), earns AS (
    SELECT p.id AS order_id, p.customer_id, p.group_id, p.net, r.id AS rule_id, r.kind, p.placed_at + %s AS matures_at,
        CASE WHEN r.kind = 'spend' THEN
            CASE r.rounding
                WHEN 'down' THEN floor(p.net * r.points_per_unit * m.value)
                WHEN 'up' THEN ceil(p.net * r.points_per_unit * m.value)
                ELSE round(p.net * r.points_per_unit * m.value)
            END
        ELSE floor(r.points * m.value) END AS points
    FROM paid p
    JOIN loyalty_earningrule r ON r.kind IN ('spend', 'first_order') AND r.is_active
        AND (r.valid_from IS NULL OR r.valid_from <= p.placed_at)
        AND (r.valid_until IS NULL OR p.placed_at < r.valid_until)
    JOIN loyalty_account a ON a.customer_id = p.customer_id AND a.group_id = p.group_id
    LEFT JOIN loyalty_ruletiermultiplier rt ON rt.rule_id = r.id AND rt.tier_id = a.tier_id
    LEFT JOIN loyalty_tier t ON t.id = a.tier_id
    CROSS JOIN LATERAL (SELECT COALESCE(rt.multiplier, t.multiplier, 1) AS value) m
    WHERE p.net > 0 AND p.placed_at >= %s
        AND (r.kind = 'spend' OR p.id IN (SELECT id FROM first_paid))
)
SELECT customer_id, group_id, 'earn' AS kind, 0 AS available, points::bigint AS pending,
    CASE WHEN kind = 'first_order'
        THEN 'first_order:customer:' || customer_id || ':group:' || group_id || ':rule:' || rule_id
    ELSE 'order:' || order_id || ':rule:' || rule_id || ':earn' END AS key,
    'order:' || order_id AS source, rule_id, order_id, net AS basis, matures_at, '' AS reason
FROM earns WHERE points > 0
"""


def _earn_in_sql(chunk: list[int], programme, now: datetime) -> tuple[int, int]:
    """Write these (locked) customers' new earns; returns (entries written, of which due now)."""
    delay = timedelta(days=programme.pending_days)
    return entries_insert_select(EARNS_SQL, [chunk, delay, programme.starts_at], now=now)


# The streams of a chunk's orders that may owe something: a give-back (the order was
# cancelled, or refunded below what its points were earned on), or a maturation whose date
# has come. Only these, and their orders, come back to Python.
SETTLE_SQL = f"""
SELECT s.order_id, s.rule_id, s.customer_id, sh.group_id, s.total, s.earned, s.basis, s.matured, s.rows, s.matures_at,
    o.placed_at, o.status, n.net
FROM (
    SELECT order_id, rule_id, min(customer_id) AS customer_id, sum(available + pending)::bigint AS total,
        coalesce(sum(available + pending) FILTER (WHERE kind = 'earn'), 0)::bigint AS earned, max(basis) AS basis,
        count(*) FILTER (WHERE kind = 'mature') > 0 AS matured, count(*) AS rows,
        max(matures_at) FILTER (WHERE kind = 'earn') AS matures_at
    FROM loyalty_pointsentry
    WHERE customer_id = ANY(%(ids)s::bigint[]) AND order_id IS NOT NULL AND rule_id IS NOT NULL
    GROUP BY order_id, rule_id
) s
JOIN customers_order o ON o.id = s.order_id
JOIN customers_shop sh ON sh.id = o.shop_id
CROSS JOIN LATERAL (SELECT {NET_SQL} AS net) n
JOIN loyalty_earningrule r ON r.id = s.rule_id
WHERE (NOT s.matured AND s.matures_at <= %(now)s)
    OR (s.total > 0 AND (
        NOT o.{EARNING_SQL} OR n.net <= 0
        OR (r.kind = 'spend' AND s.basis > 0 AND s.total * s.basis > s.earned * n.net)
    ))
"""


def _streams_to_settle(chunk: list[int], now: datetime) -> tuple[list[OrderRow], dict[int, dict[int, Stream]]]:
    streams: dict[int, dict[int, Stream]] = defaultdict(dict)
    orders: dict[int, OrderRow] = {}
    with server_binding_cursor() as cursor:
        cursor.execute(SETTLE_SQL, {"ids": chunk, "now": now})
        for oid, rid, cid, gid, total, earned, basis, matured, rows, matures_at, placed_at, status, net in cursor:
            streams[oid][rid] = Stream(cid, gid, total, earned, basis, matured, rows, matures_at)
            orders[oid] = OrderRow(oid, cid, gid, placed_at, status, net)
    return list(orders.values()), streams


def _maybe_due(streams, entries: list[Entry], now: datetime) -> bool:
    """Whether any of these order points may be due to mature (if not, skip the re-read):
    the usual case for new orders, still inside their return window."""
    return any(e.matures_at is not None and e.matures_at <= now for e in entries) or any(
        not s.matured and s.matures_at is not None and s.matures_at <= now
        for by_rule in streams.values()
        for s in by_rule.values()
    )


def _earn(order, is_first, rules, streams, multiplier, tier_id, delay) -> list[Entry]:
    entries = []
    for rule in rules.values():
        if rule.id in streams.get(order.id, {}) or not rule_in_force(rule, order.placed_at):
            continue
        if rule.kind == RuleKind.FIRST_ORDER and not is_first:
            continue
        points = rule_points(rule, amount=order.net, multiplier=multiplier(rule.id, tier_id))
        if points <= 0:
            continue
        # A first-order bonus is keyed on the account: once, whichever order turns out first.
        key = (
            f"first_order:customer:{order.customer_id}:group:{order.group_id}:rule:{rule.id}"
            if rule.kind == RuleKind.FIRST_ORDER
            else None
        )
        entries.append(
            Entry(
                customer_id=order.customer_id,
                group_id=order.group_id,
                kind=EntryKind.EARN,
                key=key or stream_key(order.id, rule.id, "earn"),
                source=f"order:{order.id}",
                pending=points,
                rule_id=rule.id,
                order_id=order.id,
                basis=order.net,
                matures_at=order.placed_at + delay,
            )
        )
    return entries


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
        accounts_lock(ids)  # they earned, so their accounts are there
        return _mature_locked(ids, now)

    for chunk in chunked(sorted(customers)):
        written += chunk_run_ids("loyalty maturation", chunk, run)
    return written
