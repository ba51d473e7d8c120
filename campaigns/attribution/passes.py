"""The attribution pass: touchpoints from the message log, orders and customers, then every
model's credits, set-based (``campaigns.attribution.credit`` does the maths on arrays).

``attribution_run()`` is incremental: it reads only what changed since the last pass (its
watermark, ``AttributionState``): message events and orders after the last ids seen, orders
and refunds changed since the last pass's start, and orders placed in the window after a new
touch. Their credits are deleted and made again, so a refund arriving re-credits its order,
and an incremental pass leaves the same credits a full pass would. A change of the windows
or the half-life makes the next pass a full one (``full=True`` forces it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns.attribution import credit as cr
from campaigns.models import AttributionCredit, AttributionSettings, AttributionState, Touchpoint
from core.db.column_reader import Field, read_columns
from core.db.column_writer import Column, insert_columns
from customers.models import Customer, Order, Refund
from customers.models.commerce import NOT_COUNTED
from messaging.models import Message, MessageEvent, MessageKind, MessageStatus

KINDS = ("click", "open", "utm", "first_seen")
US = 1_000_000


@dataclass
class PassResult:
    touches_added: int = 0
    orders: int = 0
    credits: int = 0
    full: bool = False


def _settings_key(s: AttributionSettings) -> str:
    return f"{s.click_window_hours}/{s.open_window_hours}/{s.half_life_hours}"


def _source_key_sql(column: str) -> str:
    """The message key's first two parts ("email:12:…" → "email:12"), or the whole key."""
    if connection.vendor == "postgresql":
        return f"COALESCE(substring({column} from '^[^:]*:[^:]*'), {column})"
    rest = f"substr({column}, instr({column}, ':') + 1)"
    return (
        f"CASE WHEN instr({column}, ':') = 0 OR instr({rest}, ':') = 0 THEN {column} "
        f"ELSE substr({column}, 1, instr({column}, ':') + instr({rest}, ':') - 1) END"
    )


def touchpoints_collect(*, after_event: int, after_order: int, customers_since: datetime | None) -> int:
    """Insert the touchpoints made since the watermark, in three INSERT … SELECT; each origin
    once (a re-run adds nothing). Returns how many were added."""
    qn = connection.ops.quote_name
    tp = qn(Touchpoint._meta.db_table)
    ev, msg = qn(MessageEvent._meta.db_table), qn(Message._meta.db_table)
    orders, customers = qn(Order._meta.db_table), qn(Customer._meta.db_table)
    cols = "(customer_id, at, kind, channel, message_id, source_key, origin)"
    conflict = "ON CONFLICT (origin) DO NOTHING"
    before = Touchpoint.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {tp} {cols}
            SELECT m.customer_id, e.at, CASE WHEN e.status = %s THEN 'click' ELSE 'open' END, 'email', m.id,
                   {_source_key_sql("m." + qn("key"))}, 'event:' || CAST(e.id AS TEXT)
            FROM {ev} e JOIN {msg} m ON m.id = e.message_id
            WHERE e.id > %s AND e.status IN (%s, %s) AND m.kind = %s AND m.customer_id IS NOT NULL
            {conflict}""",
            [MessageStatus.CLICKED, after_event, MessageStatus.CLICKED, MessageStatus.OPENED, MessageKind.MARKETING],
        )
        # An order's own UTM. The CRM's links carry utm_source=crm and the email's key as
        # utm_campaign, so such an order's touch names the same source as the email's clicks.
        cursor.execute(
            f"""INSERT INTO {tp} {cols}
            SELECT o.customer_id, o.placed_at, 'utm', o.utm_source, NULL,
                   CASE WHEN o.utm_source = 'crm' AND o.utm_campaign <> '' THEN o.utm_campaign
                        ELSE 'utm:' || o.utm_source || '/' || o.utm_medium || '/' || o.utm_campaign END,
                   'order:' || CAST(o.id AS TEXT)
            FROM {orders} o WHERE o.id > %s AND o.utm_source <> ''
            {conflict}""",
            [after_order],
        )
        since = "AND c.updated_at >= %s" if customers_since else ""
        cursor.execute(
            f"""INSERT INTO {tp} {cols}
            SELECT c.id, c.first_seen_at, 'first_seen',
                   CASE WHEN c.utm_source <> '' THEN c.utm_source ELSE c.source END, NULL,
                   'first_seen:' || CASE WHEN c.utm_source <> '' THEN c.utm_source ELSE c.source END,
                   'customer:' || CAST(c.id AS TEXT)
            FROM {customers} c
            WHERE c.first_seen_at IS NOT NULL AND (c.source <> '' OR c.utm_source <> '') {since}
            {conflict}""",
            [customers_since] if customers_since else [],
        )
    return Touchpoint.objects.count() - before


def _windows(s: AttributionSettings) -> np.ndarray:
    """Each kind's window in µs, in ``credit``'s kind order (click, open, utm, first seen)."""
    click, open_ = s.click_window_hours * 3600 * US, s.open_window_hours * 3600 * US
    return np.array([click, open_, click, click], dtype=np.int64)


def _credit(order_filter: str, params: list, s: AttributionSettings) -> int:
    """Make every model's credits for the orders ``order_filter`` selects (a WHERE on
    orders ``o``); their old credits must be gone. Returns the credits written."""
    qn = connection.ops.quote_name
    orders, tp = qn(Order._meta.db_table), qn(Touchpoint._meta.db_table)
    o = read_columns(
        [
            Field("id", "o.id"),
            Field("customer", "o.customer_id"),
            Field("at", "o.placed_at", "micros"),
            Field("net", "ROUND((o.total_base - o.refunded_base) * 100)"),
        ],
        f"FROM {orders} o WHERE {order_filter} AND o.status NOT IN ('{NOT_COUNTED[0]}', '{NOT_COUNTED[1]}')",
        params,
    )
    if not len(o["id"]):
        return 0
    t = read_columns(
        [
            Field("id", "t.id"),
            Field("customer", "t.customer_id"),
            Field("at", "t.at", "micros"),
            Field("kind", "t.kind", "choice", choices=KINDS),
        ],
        f"FROM {tp} t WHERE t.customer_id IN (SELECT o.customer_id FROM {orders} o WHERE {order_filter})",
        params,
    )
    kind = t["kind"] - 1
    windows = _windows(s)
    p, _ = cr.pairs(o["customer"], o["at"], t["customer"], t["at"], kind, windows, per_second=US)
    if not len(p.order):
        return 0
    age = (o["at"][p.order] - t["at"][p.touch]).astype(np.float64)
    tids = t["id"][p.touch]
    # The touches' labels, read once for the touches credited.
    labels = dict(Touchpoint.objects.filter(id__in=np.unique(tids).tolist()).values_list("id", "source_key").iterator())
    channels = dict(Touchpoint.objects.filter(id__in=np.unique(tids).tolist()).values_list("id", "channel").iterator())
    source = np.array([labels[i] for i in tids.tolist()], dtype=object)
    channel = np.array([channels[i] for i in tids.tolist()], dtype=object)
    written = 0
    for model in cr.MODELS:
        share = cr.shares(p, model, kind, age, s.half_life_hours * 3600 * US)
        amount = cr.cents(p, share, o["net"])
        keep = share > 0
        insert_columns(
            AttributionCredit,
            [
                Column("order_id", "int8", o["id"][p.order][keep]),
                Column("touchpoint_id", "int8", tids[keep]),
                Column("model", "text", np.full(int(keep.sum()), model, dtype=object)),
                Column("source_key", "text", source[keep]),
                Column("channel", "text", channel[keep]),
                Column("placed_at", "timestamptz", o["at"][p.order][keep]),
                Column("amount", "float8", amount[keep] / 100),
            ],
        )
        written += int(keep.sum())
    return written


def attribution_run(*, full: bool = False, now: datetime | None = None) -> PassResult:
    """One pass (see the module docstring)."""
    now = now or timezone.now()
    s = AttributionSettings.current()
    with transaction.atomic():
        # One pass at a time: the second waits on the state row, then finds little to do.
        AttributionState.objects.get_or_create(pk=1)
        state = AttributionState.objects.select_for_update().get(pk=1)
        full = full or state.finished_at is None or state.settings_key != _settings_key(s)
        result = PassResult(full=full)
        # The marks are taken first: what arrives during the pass is the next pass's.
        last_event = MessageEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        last_order = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
        result.touches_added = touchpoints_collect(
            after_event=0 if full else state.last_event_id,
            after_order=0 if full else state.last_order_id,
            customers_since=None if full else state.changed_since,
        )
        if full:
            AttributionCredit.objects.all().delete()
            result.credits = _credit("1 = 1", [], s)
        else:
            affected = _affected_orders(state, s)
            ids = list(affected.values_list("id", flat=True))
            AttributionCredit.objects.filter(order_id__in=affected.values("id")).delete()
            result.orders = len(ids)
            if ids:
                qn = connection.ops.quote_name
                tmp = qn("attribution_orders")
                with connection.cursor() as cursor:
                    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {tmp} (id bigint PRIMARY KEY)")
                    cursor.execute(f"DELETE FROM {tmp}")
                    cursor.executemany(f"INSERT INTO {tmp} (id) VALUES (%s)", [(i,) for i in ids])
                result.credits = _credit(f"o.id IN (SELECT id FROM {tmp})", [], s)
        last_touch = Touchpoint.objects.order_by("-id").values_list("id", flat=True).first() or 0
        AttributionState.objects.update_or_create(
            pk=1,
            defaults={
                "last_event_id": last_event,
                "last_order_id": last_order,
                "last_touch_id": last_touch,
                "changed_since": now,
                "settings_key": _settings_key(s),
                "finished_at": timezone.now(),
            },
        )
    return result


def _affected_orders(state: AttributionState, s: AttributionSettings):
    """Orders whose credits may have changed since the last pass: new or changed orders,
    orders refunded since, and orders placed within a window after a new touch."""
    longest = timedelta(hours=max(s.click_window_hours, s.open_window_hours))
    since = state.changed_since
    new_touch = Touchpoint.objects.filter(
        id__gt=state.last_touch_id,
        customer_id=OuterRef("customer_id"),
        at__lte=OuterRef("placed_at"),
        at__gte=OuterRef("placed_at") - longest,
    )
    q = Q(id__gt=state.last_order_id) | Exists(new_touch)
    if since is not None:
        q |= Q(updated_at__gte=since) | Exists(Refund.objects.filter(order_id=OuterRef("pk"), created_at__gte=since))
    return Order.objects.filter(q)
