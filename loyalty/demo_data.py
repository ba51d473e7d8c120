"""The loyalty programme's part of the demo: the programme (started a year before the end
of the history, so the last year's orders earn), three tiers, earning rules and rewards,
and the points for every seeded order, awarded by the same code as live orders, then dated
as if the programme had run all year (``ledger_dated_as_earned``)."""

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, OuterRef, Subquery, Value
from django.db.models.functions import Least

from core.chunks import NIGHTLY_CHUNK_SIZE, chunked, id_ranges
from core.db.column_reader import Field, read_columns
from customers.models import Customer, Order
from loyalty.earning import orders_award, points_mature
from loyalty.models import EarningRule, PointsEntry, Programme, Reward, RuleKind, Tier
from loyalty.tiers import tiers_evaluate_range

TIERS = (
    # name, rank, enter, keep, multiplier, benefits, priority support
    ("Silver", 1, "150.00", "120.00", "1.10", "10 % more points", False),
    ("Gold", 2, "400.00", "320.00", "1.25", "25 % more points; free shipping", False),
    ("Platinum", 3, "1000.00", "800.00", "1.50", "50 % more points; priority support", True),
)
RULES = (
    ("Points per dollar", RuleKind.SPEND, Decimal(1), 0),
    ("Welcome bonus", RuleKind.FIRST_ORDER, Decimal(0), 50),
    ("Review bonus", RuleKind.REVIEW, Decimal(0), 25),
    ("Birthday bonus", RuleKind.BIRTHDAY, Decimal(0), 100),
)
REWARDS = (
    ("Free shipping", "free_shipping", "0.00", 300),
    ("$5 off", "fixed_amount", "5.00", 500),
    ("10 % off", "percentage", "10.00", 900),
    ("$20 off", "fixed_amount", "20.00", 1800),
)


def seed_loyalty(*, now: datetime) -> dict[str, int]:
    """Set up the programme and award the seeded orders' points; returns what was written."""
    Programme.objects.update_or_create(
        pk=1, defaults={"name": "Demo Rewards", "starts_at": now - timedelta(days=365), "pending_days": 14}
    )
    for name, rank, enter, keep, multiplier, benefits, priority in TIERS:
        Tier.objects.get_or_create(
            name=name,
            defaults={
                "rank": rank,
                "enter_threshold": Decimal(enter),
                "keep_threshold": Decimal(keep),
                "multiplier": Decimal(multiplier),
                "benefits": benefits,
                "priority_support": priority,
            },
        )
    for name, kind, per_unit, points in RULES:
        EarningRule.objects.get_or_create(
            name=name, kind=kind, defaults={"points_per_unit": per_unit, "points": points}
        )
    for name, kind, value, cost in REWARDS:
        Reward.objects.get_or_create(name=name, defaults={"kind": kind, "value": Decimal(value), "points_cost": cost})
    # Read as a numpy column and made unique here (see ``support.demo_data._buyers``).
    orders = read_columns(
        [Field("customer_id", "customer_id")], f"FROM {Order._meta.db_table} WHERE customer_id IS NOT NULL", []
    )
    buyers = np.unique(orders["customer_id"]).tolist()
    entries = sum(orders_award(chunk, now=now) for chunk in chunked(buyers))
    matured = points_mature(now=now)
    ledger_dated_as_earned(now=now)
    moved = sum(tiers_evaluate_range(lo, hi, now=now) for lo, hi in id_ranges(Customer, NIGHTLY_CHUNK_SIZE))
    return {"entries": entries, "matured": matured, "tier_moves": moved}


def ledger_dated_as_earned(*, now: datetime) -> int:
    """Date each order's earn on the day the order was placed, and its maturation on the day it
    fell due (never after ``now``); returns the entries dated.

    The demo awards a year of orders in one pass, so every entry would carry the day it was
    seeded, and the dashboard's points chart would be one spike on that day. A shop whose
    programme ran all year has its entries spread over the year. Demo data only: the ledger is
    otherwise append-only, and on PostgreSQL its trigger is set aside for these two statements
    within their transaction (as migration ``loyalty.0005`` does)."""
    pending = timedelta(days=Programme.objects.get(pk=1).pending_days)
    placed = Order.objects.filter(pk=OuterRef("order_id")).values("placed_at")
    due = Order.objects.filter(pk=OuterRef("order_id")).values(
        due=ExpressionWrapper(F("placed_at") + Value(pending), output_field=DateTimeField())
    )
    entries = PointsEntry.objects.filter(order__isnull=False)
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            # Foreign keys checked now: a table with pending (deferred) checks cannot be altered.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE loyalty_pointsentry DISABLE TRIGGER loyalty_pointsentry_append_only")
        dated = entries.filter(kind=PointsEntry.Kind.EARN).update(created_at=Subquery(placed))
        dated += entries.filter(kind=PointsEntry.Kind.MATURE).update(
            created_at=Least(Subquery(due), Value(now, output_field=DateTimeField()))
        )
        if postgres:
            cursor.execute("ALTER TABLE loyalty_pointsentry ENABLE TRIGGER loyalty_pointsentry_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return dated
