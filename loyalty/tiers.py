"""Tier evaluation, set-based over a range of customer ids (the nightly pass runs one range
per task).

For each account (a customer's points in one shop group): the qualifying figure over the
programme's term (net spend on that group's shops' orders, or points earned into that
account), one aggregate query per range; then, in numpy:

- a customer who reaches a higher tier's threshold to enter moves up at once;
- a customer below their tier's threshold to keep gets ``tier_grace_until`` (now + the
  grace days) and keeps the tier; back above it, the grace is lifted; still below when the
  grace runs out, they move down to the highest lower tier whose keep threshold they meet;
- every move is a ``TierChange`` with its reason, in words.

Only rows that change are written, so a quiet night writes little.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from core.db.column_reader import Field, micros, read_columns
from core.db.column_writer import Column, insert_columns, update_columns
from loyalty.earning import EARNING_SQL, NET_AMOUNT_SQL
from loyalty.ledger import accounts_ensure
from loyalty.models import Account, Programme, Tier, TierBasis, TierChange, TierTerm
from loyalty.programme import programme_get

NONE = -1  # "no tier", as a tier index


def term_start(term: str, now: datetime) -> datetime | None:
    if term == TierTerm.ROLLING_12_MONTHS:
        return now - timedelta(days=365)
    if term == TierTerm.CALENDAR_YEAR:
        return now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


def term_words(programme: Programme, now: datetime) -> str:
    return {
        TierTerm.ROLLING_12_MONTHS: "in the last 12 months",
        TierTerm.CALENDAR_YEAR: f"in {now.year}",
        TierTerm.LIFETIME: "in all",
    }[programme.tier_term]


def figure_words(programme: Programme, value: float, now: datetime) -> str:
    if programme.tier_basis == TierBasis.POINTS:
        return f"earned {value:,.0f} points {term_words(programme, now)}"
    return f"spent {value:,.2f} {term_words(programme, now)}"


def qualifying_sql(programme: Programme, since: datetime | None) -> tuple[str, list]:
    """Per (customer, group) of a range (two leading %s: first and last id), the qualifying
    figure; selects ``customer_id`` and ``group_id``."""
    window = " AND {col} >= %s" if since else ""
    params = [since] if since else []
    if programme.tier_basis == TierBasis.POINTS:
        return (
            "FROM loyalty_pointsentry WHERE customer_id BETWEEN %s AND %s "
            "AND kind IN ('earn', 'cancel', 'reverse')"
            + window.format(col="created_at")
            + " GROUP BY customer_id, group_id",
            params,
        )
    # The order's shop's group: the account its points went to.
    return (
        "FROM customers_order JOIN (SELECT id AS shop_key, group_id FROM customers_shop) s ON s.shop_key = shop_id "
        f"WHERE customer_id BETWEEN %s AND %s AND {EARNING_SQL}"
        + window.format(col="placed_at")
        + " GROUP BY customer_id, group_id",
        params,
    )


def qualifying_figure_sql(programme: Programme) -> str:
    if programme.tier_basis == TierBasis.POINTS:
        return "SUM(available + pending)"
    return f"SUM({NET_AMOUNT_SQL})"


@dataclass(frozen=True)
class TierTable:
    tiers: list[Tier]
    enter: np.ndarray
    keep: np.ndarray

    @classmethod
    def load(cls) -> "TierTable":
        tiers = list(Tier.objects.order_by("rank"))
        return cls(
            tiers,
            np.array([float(t.enter_threshold) for t in tiers]),
            np.array([float(t.keep_threshold) for t in tiers]),
        )

    def index_of(self, tier_ids: np.ndarray) -> np.ndarray:
        """Tier ids (0 for none) as indexes into ``tiers`` (NONE for none)."""
        lookup = {t.id: i for i, t in enumerate(self.tiers)}
        return np.array([lookup.get(int(t), NONE) for t in tier_ids], dtype=np.int64)


def _highest(mask: np.ndarray) -> np.ndarray:
    """Per row, the highest column index that is True, or NONE."""
    if mask.shape[1] == 0:
        return np.full(mask.shape[0], NONE)
    last_true = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    return np.where(mask.any(axis=1), last_true, NONE)


def tiers_evaluate_range(first_id: int, last_id: int, *, now: datetime | None = None) -> int:
    """Evaluate the tiers of customers ``first_id``…``last_id``; returns the tier changes made."""
    programme = programme_get()
    table = TierTable.load()
    if not programme.is_active or not table.tiers:
        return 0
    now = now or timezone.now()
    from_where, params = qualifying_sql(programme, term_start(programme.tier_term, now))
    figures = read_columns(
        [
            Field("customer_id", "customer_id"),
            Field("group_id", "group_id"),
            Field("figure", qualifying_figure_sql(programme), "float"),
        ],
        from_where,
        [first_id, last_id, *params],
    )
    with transaction.atomic():
        earning = figures["figure"] > 0
        accounts_ensure(
            zip(figures["customer_id"][earning].tolist(), figures["group_id"][earning].tolist(), strict=True)
        )
        accounts = read_columns(
            [
                Field("id", "id"),
                Field("customer_id", "customer_id"),
                Field("group_id", "group_id"),
                Field("tier_id", "tier_id"),
                Field("since", "tier_since", "micros", missing=-1),
                Field("grace", "tier_grace_until", "micros", missing=-1),
                Field("qualifying", "tier_qualifying", "float"),
            ],
            "FROM loyalty_account WHERE customer_id BETWEEN %s AND %s ORDER BY customer_id, group_id",
            [first_id, last_id],
        )
        return _evaluate(programme, table, accounts, figures, now)


def _pair_keys(customer_ids: np.ndarray, group_ids: np.ndarray, width: int) -> np.ndarray:
    """(customer, group) as one sortable integer: customer × width + group."""
    return customer_ids.astype(np.int64) * width + group_ids.astype(np.int64)


def _evaluate(programme, table: TierTable, accounts: dict, figures: dict, now: datetime) -> int:
    ids = accounts["customer_id"]
    if not ids.size:
        return 0
    # Each figure to its account's row (an account with a figure of 0 or less may be missing).
    width = int(max(accounts["group_id"].max(initial=0), figures["group_id"].max(initial=0))) + 1
    keys = _pair_keys(ids, accounts["group_id"], width)  # sorted: read by (customer, group)
    wanted = _pair_keys(figures["customer_id"], figures["group_id"], width)
    position = np.minimum(np.searchsorted(keys, wanted), ids.size - 1)
    found = keys[position] == wanted
    q = np.zeros(ids.size)
    q[position[found]] = np.maximum(np.round(figures["figure"][found], 2), 0)
    current = table.index_of(accounts["tier_id"])
    grace = accounts["grace"]
    now_us = micros(now)
    grace_end_us = micros(now + timedelta(days=programme.tier_grace_days))

    enter_ok = q[:, None] >= table.enter[None, :]
    keep_ok_all = q[:, None] >= table.keep[None, :]
    entitled = _highest(enter_ok)
    has_tier = current != NONE
    keeps = has_tier & keep_ok_all[np.arange(ids.size), np.maximum(current, 0)]

    new = current.copy()
    new_grace = grace.copy()
    up = entitled > current
    new[up] = entitled[up]
    new_grace[up] = -1
    below = has_tier & ~keeps & ~up
    starts_grace = below & (grace < 0)
    new_grace[starts_grace] = grace_end_us
    lower = np.arange(len(table.tiers))[None, :] < current[:, None]
    down = below & (grace >= 0) & (grace <= now_us)
    down_to = _highest(keep_ok_all & lower)
    new[down] = down_to[down]
    new_grace[down] = -1
    recovered = has_tier & keeps & (grace >= 0)
    new_grace[recovered] = -1

    moved = new != current
    changed = moved | (new_grace != grace) | (np.abs(q - accounts["qualifying"]) >= 0.005)
    if not changed.any():
        return 0
    since = np.where(moved, now_us, accounts["since"]).astype(np.float64)
    since[since < 0] = np.nan
    tier_ids = np.array([t.id for t in table.tiers] + [0], dtype=np.int64)[new].astype(np.float64)
    tier_ids[new == NONE] = np.nan
    grace_out = new_grace.astype(np.float64)
    grace_out[new_grace < 0] = np.nan
    rows = changed
    update_columns(
        Account,
        [
            Column("id", "int8", accounts["id"][rows]),
            Column("tier_id", "int8", tier_ids[rows]),
            Column("tier_since", "timestamptz", since[rows]),
            Column("tier_grace_until", "timestamptz", grace_out[rows]),
            Column("tier_qualifying", "float8", q[rows]),
        ],
        guard=Column("customer_id", "int8", ids[rows]),
    )
    moves = np.flatnonzero(moved)
    tier_or_nan = np.array([float(t.id) for t in table.tiers] + [np.nan])  # NONE (-1) picks the NaN
    reasons = [_reason(programme, table, float(q[i]), int(current[i]), int(new[i]), now) for i in moves]
    insert_columns(
        TierChange,
        [
            Column("customer_id", "int8", ids[moves]),
            Column("group_id", "int8", accounts["group_id"][moves]),
            Column("from_tier_id", "int8", tier_or_nan[current[moves]]),
            Column("to_tier_id", "int8", tier_or_nan[new[moves]]),
            Column("reason", "text", np.array(reasons, dtype=str)),
            Column("created_at", "timestamptz", np.full(moves.size, float(now_us))),
        ],
    )
    return int(moves.size)


def _reason(programme, table: TierTable, figure: float, old: int, new: int, now: datetime) -> str:
    said = figure_words(programme, figure, now)
    if new > old:
        tier = table.tiers[new]
        return f"{said}; {tier.name} starts at {float(tier.enter_threshold):,.0f}"
    left = table.tiers[old]
    landing = (
        f"; {table.tiers[new].name} is kept from {float(table.tiers[new].keep_threshold):,.0f}" if new != NONE else ""
    )
    return (
        f"{said}, below the {float(left.keep_threshold):,.0f} that keeps {left.name}, "
        f"after {programme.tier_grace_days} days' grace{landing}"
    )
