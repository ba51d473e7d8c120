"""Recompute customers' metrics, RFM, CLV predictions and lifecycle stage, set-based.

Two ways in, per chunk of customers and in one transaction (``customers.services.recompute``):

- **from orders** (``lifecycle_recompute_chunk``): after an order or refund, for a full
  rebuild, and to repair customers whose orders changed without their update. Reads the
  chunk's customers (locked), their counted orders and their recent signals; rebuilds the
  purchase summary (purchase days, first and last day, gaps, repeat spend) and the
  aggregates on ``Customer``; writes the whole metrics row.
- **from the stored summary** (``lifecycle_rescore_chunk``): the nightly pass. Orders have
  not changed, only the date and perhaps the model, so it reads one narrow row per customer
  (the summary kept by the path above) instead of every order, and writes back only the
  figures that move with time: RFM, P(alive), expected purchases, CLV, stage.

Both compute every figure with numpy (``customers.metrics``, through ``_score``). No query
per customer anywhere.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection
from django.utils import timezone

from core.chunks import BadCustomers, id_list_condition
from core.days import end_of
from core.db.bulk_writer import insert_rows
from core.db.column_reader import EPOCH as UNIX_EPOCH
from core.db.column_reader import Field, read_columns
from core.db.column_writer import Column, update_columns, upsert_columns
from customers.metrics import bgnbd, clv, gamma_gamma, rfm
from customers.metrics import stages as rules
from customers.metrics.summary import TIME_UNITS, summarise
from customers.models import (
    ClvModel,
    Customer,
    CustomerMetrics,
    CustomerSignal,
    LifecycleSettings,
    StageChange,
)
from customers.services.order_days import EPOCH, OrderRows, day_number, fetch_order_days

STAGES = tuple(rules.STAGE_LABELS)


@dataclass(frozen=True)
class Context:
    """What every chunk of one recompute shares: the time, the settings and the model."""

    now: datetime
    today: int  # day number in the CRM's time zone
    settings: LifecycleSettings
    thresholds: rules.Thresholds
    model: ClvModel | None
    rfm_bounds: dict

    @classmethod
    def load(cls, now: datetime | None = None) -> "Context":
        now = now or timezone.now()
        model = ClvModel.current()
        latest = ClvModel.objects.filter(shop=None).exclude(rfm_breakpoints={}).first()
        lifecycle_settings = LifecycleSettings.load()
        return cls(
            now=now,
            today=day_number(timezone.localdate(now)),
            settings=lifecycle_settings,
            thresholds=lifecycle_settings.thresholds(),
            model=model,
            rfm_bounds=latest.rfm_breakpoints if latest else {},
        )

    @property
    def now_us(self) -> float:
        return self.now.timestamp() * 1e6


@dataclass(frozen=True)
class Purchases:
    """Per customer of a chunk, what every figure is computed from. Floats, NaN where a
    figure does not exist (prospects have no purchase day)."""

    purchase_days: np.ndarray  # int64, 0 for prospects
    first_day: np.ndarray  # day numbers
    last_day: np.ndarray
    gap_median: np.ndarray
    gap_mean: np.ndarray
    repeat_mean: np.ndarray  # mean spend per repeat purchase day; NaN below two purchase days
    total: np.ndarray  # net spend, 0 for prospects
    orders: np.ndarray  # counted orders, 0 for prospects


@dataclass(frozen=True)
class Before:
    """What was stored for a chunk's customers before this recompute."""

    stage: np.ndarray  # str, "" when never computed
    since_us: np.ndarray  # float µs, NaN when never computed
    purchase_days: np.ndarray  # int64


@dataclass(frozen=True)
class Scored:
    columns: list[Column]  # the figures that move with time (and the key)
    stage: np.ndarray
    rule: np.ndarray
    changed: np.ndarray
    facts: dict


# ---------------------------------------------------------------------------- from orders


def lifecycle_recompute_chunk(ctx: Context, *, where: str, params: list) -> int:
    """Recompute the customers matching ``where`` (a condition on column ``{col}``) from
    their orders; returns how many. Call inside a transaction."""
    previous = _previous_stages(where, params)
    ids = previous["ids"]
    if ids.size == 0:
        return 0
    # Orders up to the end of today: one dated in the future counts from its day on.
    today = EPOCH + timedelta(days=ctx.today)
    orders = fetch_order_days(where.format(col="o.customer_id"), params, end_of(today))
    _update_aggregates(ctx, ids, orders, previous)

    summary = summarise(orders.customer_ids, orders.days, orders.amounts)
    n = ids.size
    pos = np.searchsorted(ids, summary.customer_ids)

    def spread(values, fill=np.nan):
        out = np.full(n, fill, dtype=np.float64)
        out[pos] = values
        return out

    purchase_days = np.zeros(n, np.int64)
    purchase_days[pos] = summary.purchase_days
    purchases = Purchases(
        purchase_days=purchase_days,
        first_day=spread(summary.first_day),
        last_day=spread(summary.last_day),
        gap_median=spread(summary.gap_median),
        gap_mean=spread(summary.gap_mean),
        repeat_mean=np.where(purchase_days > 1, spread(summary.monetary), np.nan),
        total=spread(summary.total, 0.0),
        orders=spread(summary.orders, 0.0),
    )
    before = Before(stage=previous["stage"], since_us=previous["since_us"], purchase_days=previous["purchase_days"])
    promoter, detractor = _signals(ctx, where, params, ids)
    scored = _score(ctx, ids, purchases, before, promoter, detractor)
    stored_summary = [
        Column("purchase_days", "int4", purchases.purchase_days),
        Column("first_purchase_on", "date", purchases.first_day),
        Column("last_purchase_on", "date", purchases.last_day),
        Column("recency_days", "int4", purchases.last_day - purchases.first_day),
        Column("gap_median_days", "float8", purchases.gap_median),
        Column("gap_mean_days", "float8", purchases.gap_mean),
        Column("repeat_spend_mean", "float8", purchases.repeat_mean),
    ]
    # Anything not finite (a model at the edge of its range) is stored as NULL, never as NaN.
    upsert_columns(CustomerMetrics, [*scored.columns, *stored_summary])
    _record_changes(ctx, ids, scored, before.stage)
    return n


def _previous_stages(where: str, params: list) -> dict:
    """The chunk's customers, locked in id order, with their stored aggregates and stage.

    The locks (metrics rows, then customers, both in id order) make two recomputes of one
    customer, or a recompute and an ingestion, queue instead of both recording the same
    stage change; the nightly pass, which takes no lock, skips rows rewritten since it read
    them. A deadlock with an ingestion (which locks by email) is retried.
    """
    customer, metrics = Customer._meta.db_table, CustomerMetrics._meta.db_table
    lock = ""
    if connection.features.has_select_for_update_of:
        lock = " FOR UPDATE OF c"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {metrics} m WHERE {where.format(col='m.customer_id')} "
                "ORDER BY m.customer_id FOR UPDATE",
                params,
            )
    fields = [
        Field("id", "c.id"),
        Field("stage", "m.stage", "choice", choices=STAGES),
        Field("since", "m.stage_since", "micros", missing=NO_ORDER),
        Field("purchase_days", "m.purchase_days"),
        Field("orders_count", "c.orders_count"),
        Field("net_cents", "ROUND(c.net_revenue * 100)"),
        Field("first_us", "c.first_order_at", "micros", missing=NO_ORDER),
        Field("last_us", "c.last_order_at", "micros", missing=NO_ORDER),
    ]
    rows = read_columns(
        fields,
        f"FROM {customer} c LEFT JOIN {metrics} m ON m.customer_id = c.id "
        f"WHERE {where.format(col='c.id')} ORDER BY c.id{lock}",
        params,
    )
    since = np.where(rows["since"] == NO_ORDER, np.nan, rows["since"].astype(np.float64))
    return {**rows, "ids": rows["id"], "stage": _stage_names(rows["stage"]), "since_us": since}


NO_ORDER = -(2**62)  # stands for a missing time in comparisons
MONEY_LIMIT_CENTS = 10**14  # numeric(14,2) holds less than 10^12
FIRST_US = int((datetime(1, 1, 2, tzinfo=UTC) - UNIX_EPOCH).total_seconds()) * 1_000_000
LAST_US = int((datetime(9999, 12, 30, tzinfo=UTC) - UNIX_EPOCH).total_seconds()) * 1_000_000


def _stage_names(codes: np.ndarray) -> np.ndarray:
    return np.array(("", *STAGES), dtype=object)[codes]


def _update_aggregates(ctx: Context, ids: np.ndarray, orders: OrderRows, previous: dict) -> None:
    """Orders count, net revenue, AOV and first/last order per customer, from the rows just
    read; written only for customers whose figures changed."""
    n = ids.size
    pos = np.searchsorted(ids, orders.customer_ids)
    count = np.bincount(pos, minlength=n)
    cents = np.rint(np.bincount(pos, weights=orders.cents, minlength=n)).astype(np.int64)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, pos, orders.placed_us)
    np.maximum.at(last, pos, orders.placed_us)
    first, last = np.where(count > 0, first, NO_ORDER), np.where(count > 0, last, NO_ORDER)
    # Rows no column or datetime can hold (planted past the API's checks) name their customers
    # before anything is written, so the chunk runner leaves them out and the rest is stored.
    unfit = (cents >= MONEY_LIMIT_CENTS) | ((count > 0) & ((first < FIRST_US) | (last > LAST_US)))
    if unfit.any():
        raise BadCustomers(ids[unfit].tolist(), "net revenue beyond numeric(14,2) or an order time beyond years 1-9999")
    changed = (
        (count != previous["orders_count"])
        | (cents != previous["net_cents"])
        | (first != previous["first_us"])
        | (last != previous["last_us"])
    )
    if not changed.any():
        return

    def moment(us: int):
        return None if us == NO_ORDER else UNIX_EPOCH + timedelta(microseconds=us)

    rows = []
    for i in np.flatnonzero(changed).tolist():
        c, total = int(count[i]), int(cents[i])
        aov = (2 * total + c) // (2 * c) if c else 0  # rounded half up, as ROUND(…, 2) did
        rows.append(
            (
                c,
                Decimal(total) / 100,
                Decimal(aov) / 100,
                moment(int(first[i])),
                moment(int(last[i])),
                ctx.now,
                int(ids[i]),
            )
        )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Customer._meta.db_table} SET {', '.join(f'{f} = %s' for f in Customer.AGGREGATE_FIELDS)} "
            "WHERE id = %s",
            rows,
        )


# ----------------------------------------------------------------- from the stored summary


def lifecycle_rescore_chunk(ctx: Context, *, first_id: int, last_id: int) -> int:
    """The nightly pass over customers first_id ≤ id ≤ last_id, from their stored purchase
    summaries; returns how many customers. Customers never computed are computed from their
    orders. Call inside a transaction."""
    customer, metrics = Customer._meta.db_table, CustomerMetrics._meta.db_table
    fields = [
        Field("id", "c.id"),
        Field("computed", "m.customer_id"),  # 0: no metrics row yet
        Field("seen_us", "m.computed_at", "micros"),
        Field("purchase_days", "m.purchase_days"),
        Field("first_day", "m.first_purchase_on", "day", missing=NO_DAY),
        Field("last_day", "m.last_purchase_on", "day", missing=NO_DAY),
        Field("gap_median", "m.gap_median_days", "float"),
        Field("gap_mean", "m.gap_mean_days", "float"),
        Field("repeat_mean", "m.repeat_spend_mean", "float"),
        Field("net_cents", "ROUND(c.net_revenue * 100)"),
        Field("orders", "c.orders_count"),
        Field("stage", "m.stage", "choice", choices=STAGES),
        Field("since_us", "m.stage_since", "micros"),
        Field("promoter", "CASE WHEN m.promoter THEN 1 ELSE 0 END"),
        Field("detractor", "CASE WHEN m.detractor THEN 1 ELSE 0 END"),
    ]
    stored = read_columns(
        fields,
        # The range on both sides lets PostgreSQL merge two index range scans.
        f"FROM {customer} c LEFT JOIN {metrics} m ON m.customer_id = c.id AND m.customer_id BETWEEN %s AND %s "
        "WHERE c.id BETWEEN %s AND %s ORDER BY c.id",
        [first_id, last_id, first_id, last_id],
    )
    new = stored["computed"] == 0
    if new.any():
        where, params = id_list_condition(stored["id"][new].tolist())
        lifecycle_recompute_chunk(ctx, where=where, params=params)
    keep = ~new
    s = {name: values[keep] for name, values in stored.items()}
    ids = s["id"]
    if ids.size == 0:
        return int(new.sum())

    def day(values):
        return np.where(values == NO_DAY, np.nan, values.astype(np.float64))

    purchases = Purchases(
        purchase_days=s["purchase_days"],
        first_day=day(s["first_day"]),
        last_day=day(s["last_day"]),
        gap_median=s["gap_median"],
        gap_mean=s["gap_mean"],
        repeat_mean=s["repeat_mean"],
        total=s["net_cents"] / 100.0,
        orders=s["orders"].astype(np.float64),
    )
    before = Before(
        stage=_stage_names(s["stage"]), since_us=s["since_us"].astype(np.float64), purchase_days=s["purchase_days"]
    )
    promoter, detractor = _signals(ctx, "{col} BETWEEN %s AND %s", [first_id, last_id], ids)
    scored = _score(ctx, ids, purchases, before, promoter, detractor)
    # Prospects whose stage and signals stand still have nothing new to store.
    write = (
        (purchases.purchase_days > 0)
        | scored.changed
        | (promoter != s["promoter"].astype(bool))
        | (detractor != s["detractor"].astype(bool))
    )
    columns = [Column(c.name, c.kind, c.values[write]) for c in scored.columns]
    written = update_columns(CustomerMetrics, columns, guard=Column("computed_at", "timestamptz", s["seen_us"][write]))
    # A row recomputed from orders since it was read was skipped: its stage change is that
    # recompute's to record.
    recorded = np.zeros(ids.size, dtype=bool)
    recorded[np.searchsorted(ids, written)] = True
    _record_changes(ctx, ids, scored, before.stage, only=recorded)
    return int(new.sum()) + ids.size


NO_DAY = -(2**31)


# ---------------------------------------------------------------------------------- shared


def _signals(ctx: Context, where: str, params: list, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    table = CustomerSignal._meta.db_table
    cutoff = ctx.now - timedelta(days=ctx.settings.signal_days)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.customer_id, s.kind FROM {table} s "
            f"WHERE {where.format(col='s.customer_id')} AND s.occurred_at >= %s GROUP BY s.customer_id, s.kind",
            [*params, cutoff],
        )
        rows = cursor.fetchall()
    promoter, detractor = np.zeros(ids.size, bool), np.zeros(ids.size, bool)
    for customer_id, kind in rows:
        target = promoter if kind == CustomerSignal.Kind.PROMOTER else detractor
        target[np.searchsorted(ids, customer_id)] = True
    return promoter, detractor


def _score(ctx: Context, ids, purchases: Purchases, before: Before, promoter, detractor) -> Scored:
    """Every figure that depends on the date or the model, and the stage, from the purchases."""
    p = purchases
    n = ids.size
    days_since_last = ctx.today - p.last_day
    tenure = ctx.today - p.first_day
    buyer = p.purchase_days > 0
    r_score, f_score, m_score = rfm.scores(days_since_last, p.purchase_days, p.total, ctx.rfm_bounds)
    scored = buyer & bool(ctx.rfm_bounds)
    segment = np.where(scored, rfm.segments(r_score, f_score, m_score), "")

    predictions = _predictions(ctx, buyer, p.purchase_days, p.last_day - p.first_day, tenure, p.repeat_mean)
    p_alive = predictions["p_alive"]

    aov = np.divide(p.total, p.orders, out=np.zeros(n), where=p.orders > 0)
    years = np.maximum(np.nan_to_num(tenure, nan=0.0), 365.0) / 365.0
    clv_simple = np.where(buyer, clv.simple_clv(aov, p.orders / years, ctx.settings.simple_lifespan_years), np.nan)

    days_in_stage = np.floor((ctx.now_us - before.since_us) / 86_400e6)
    stage, rule = rules.assign(
        rules.Facts(
            purchase_days=p.purchase_days,
            days_since_last=days_since_last,
            gap_median=p.gap_median,
            p_alive=p_alive,
            promoter=promoter,
            detractor=detractor,
            previous_stage=before.stage,
            days_in_previous_stage=days_in_stage,
            previous_purchase_days=before.purchase_days,
        ),
        ctx.thresholds,
    )
    changed = stage != before.stage
    columns = [
        Column("customer_id", "int8", ids),
        Column("computed_at", "timestamptz", np.full(n, ctx.now_us)),
        Column("model_id", "int8", np.full(n, ctx.model.pk if ctx.model else np.nan)),
        Column("tenure_days", "int4", tenure),
        Column("days_since_last", "int4", days_since_last),
        Column("rfm_r", "int2", np.where(scored, r_score, np.nan)),
        Column("rfm_f", "int2", np.where(scored, f_score, np.nan)),
        Column("rfm_m", "int2", np.where(scored, m_score, np.nan)),
        Column("rfm_segment", "text", segment),
        Column("p_alive", "float8", p_alive),
        Column("expected_purchases_30", "float8", predictions["expected_30"]),
        Column("expected_purchases_90", "float8", predictions["expected_90"]),
        Column("expected_purchases_365", "float8", predictions["expected_365"]),
        Column("expected_spend", "float8", predictions["expected_spend"]),
        Column("clv_predicted", "float8", predictions["clv"]),
        Column("clv_simple", "float8", np.round(clv_simple, 2)),
        Column("promoter", "bool", promoter),
        Column("detractor", "bool", detractor),
        Column("stage", "text", stage),
        Column("stage_rule", "text", rule),
        Column("stage_since", "timestamptz", np.where(changed, ctx.now_us, before.since_us)),
    ]
    facts = {
        "purchase_days": p.purchase_days,
        "days_since_last": days_since_last,
        "gap_median": p.gap_median,
        "p_alive": p_alive,
    }
    return Scored(columns=columns, stage=stage, rule=rule, changed=changed, facts=facts)


def _predictions(ctx: Context, buyer, purchase_days, recency_days, tenure_days, repeat_mean) -> dict:
    n = buyer.size
    out = {k: np.full(n, np.nan) for k in ("p_alive", "expected_30", "expected_90", "expected_365")}
    out["expected_spend"] = np.full(n, np.nan)
    out["clv"] = np.full(n, np.nan)
    model = ctx.model
    if model is None or not buyer.any():
        return out
    unit = TIME_UNITS[model.time_unit]
    x = (purchase_days[buyer] - 1).astype(np.float64)
    t_x, T = recency_days[buyer] / unit, tenure_days[buyer] / unit
    params = bgnbd.BgNbd(model.r, model.alpha, model.a, model.b)
    spend = gamma_gamma.expected_spend(gamma_gamma.GammaGamma(model.p, model.q, model.v), x, repeat_mean[buyer])
    predicted = clv.predict(
        params,
        spend,
        x,
        t_x,
        T,
        horizons=np.array(HORIZON_DAYS) / unit,
        days_per_unit=unit,
        monthly_discount_rate=ctx.settings.monthly_discount_rate,
        margin=ctx.settings.margin,
    )
    out["p_alive"][buyer] = predicted.p_alive
    for days, expected in zip(HORIZON_DAYS, predicted.expected_purchases, strict=True):
        out[f"expected_{days}"][buyer] = expected
    out["expected_spend"][buyer] = spend
    out["clv"][buyer] = predicted.clv
    return out


HORIZON_DAYS = (30, 90, 365)


def _record_changes(ctx: Context, ids, scored: Scored, before_stage, only=None) -> None:
    changed = scored.changed if only is None else scored.changed & only
    if not changed.any():
        return
    facts = scored.facts
    rows = []
    for i in np.flatnonzero(changed).tolist():
        text = rules.reason(
            str(scored.rule[i]),
            purchase_days=int(facts["purchase_days"][i]),
            days_since_last=float(facts["days_since_last"][i]),
            gap_median=float(facts["gap_median"][i]),
            p_alive=float(facts["p_alive"][i]),
            t=ctx.thresholds,
        )
        rows.append((int(ids[i]), str(before_stage[i]), str(scored.stage[i]), ctx.now, text))
    insert_rows(StageChange, ["customer_id", "from_stage", "to_stage", "changed_at", "reason"], rows)
