"""The award as it was written before it became one queryset: per order, in Python, every
order and stream read. Kept as the property test's oracle (``test_earning_paths``): it says
the rule the plain way (first paid order per group, rule in force, ``rule_points``, the
keys), independent of the queryset, so the test can compare the two on either database.

The give-backs and maturations are the award's own (``_reconcile``, ``_mature_locked``):
what the oracle checks there is that the award reads every stream that owes something."""

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from core.chunks import among
from customers.models import Order
from loyalty.earning import (
    NET,
    OrderRow,
    _mature_locked,
    _maybe_due,
    _reconcile,
    _streams,
    stream_key,
)
from loyalty.ledger import Entry, accounts_ensure_for_orders, accounts_lock, entries_post
from loyalty.models import Account, EarningRule, EntryKind, RuleKind
from loyalty.programme import Multipliers, programme_get, rule_in_force, rule_points

ZERO = Decimal(0)
CENT = Decimal("0.01")


def net_of(net) -> Decimal:
    """The net amount as the ledger keeps it: to the cent, halves up, never below zero."""
    return max(ZERO, Decimal(net).quantize(CENT, rounding=ROUND_HALF_UP))


def orders_award_oracle(customer_ids: list[int], *, now: datetime) -> int:
    programme = programme_get()
    rules = {r.id: r for r in EarningRule.objects.filter(kind__in=[RuleKind.SPEND, RuleKind.FIRST_ORDER])}
    accounts_ensure_for_orders(customer_ids)
    accounts_lock(customer_ids)
    multipliers = Multipliers.load()
    delay = timedelta(days=programme.pending_days)
    tiers = {
        (cid, gid): tier
        for cid, gid, tier in Account.objects.filter(among(customer_ids)).values_list(
            "customer_id", "group_id", "tier_id"
        )
    }
    orders = _orders(customer_ids)
    streams = _streams(customer_ids)
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
    written = len(entries_post(entries, at=now))
    if _maybe_due(streams, entries, now):
        written += _mature_locked(customer_ids, now)
    return written


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
