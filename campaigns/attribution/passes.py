"""The attribution pass: touchpoints from the message log, orders and customers, then every
model's credits, set-based (``campaigns.attribution.credit`` does the maths on arrays).

``attribution_run()`` is incremental: it reads only what changed since the last pass (its
watermark, ``AttributionState``): message events and orders after the last ids seen, orders
and refunds changed since the last pass's start, and orders placed in the window after a new
touch. Their credits are deleted and made again, so a refund arriving re-credits its order,
and an incremental pass leaves the same credits a full pass would. A change of the windows
or the half-life makes the next pass a full one (``full=True`` forces it).

Touches do not depend on the settings, so every pass, full or not, collects only the touches
made since the watermark; the first pass (no touches yet) collects them all as a bulk load.
Each pass records how long each of its phases took (``PassResult.seconds``).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, UniqueConstraint
from django.utils import timezone

from campaigns.attribution import credit as cr
from campaigns.models import AttributionCredit, AttributionSettings, AttributionState, TouchOrigin, Touchpoint
from core.db.column_reader import Field, read_columns
from core.db.column_writer import Column, insert_columns
from customers.models import Customer, Order, Refund, Shop
from customers.models.commerce import NOT_COUNTED
from messaging.models import Message, MessageEvent, MessageKind, MessageStatus

KINDS = ("click", "open", "utm", "first_seen")
US = 1_000_000


@dataclass
class PassResult:
    touches_added: int = 0
    orders: int = 0
    credits: int = 0  # (order, touch) pairs credited
    full: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # each phase's duration

    @contextmanager
    def timed(self, phase: str):
        started = time.perf_counter()
        yield
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started


def _settings_key(s: AttributionSettings) -> str:
    return f"{s.click_window_hours}/{s.open_window_hours}/{s.half_life_hours}"


def _source_key_sql(column: str) -> str:
    """The message key's first two parts ("email:12:…" → "email:12"), or the whole key."""
    if connection.vendor == "postgresql":
        # split_part, not a regular expression: it is several times cheaper over millions of keys.
        return (
            f"CASE WHEN strpos({column}, ':') = 0 THEN {column} "
            f"ELSE split_part({column}, ':', 1) || ':' || split_part({column}, ':', 2) END"
        )
    rest = f"substr({column}, instr({column}, ':') + 1)"
    return (
        f"CASE WHEN instr({column}, ':') = 0 OR instr({rest}, ':') = 0 THEN {column} "
        f"ELSE substr({column}, 1, instr({column}, ':') + instr({rest}, ':') - 1) END"
    )


def touchpoints_collect(*, after_event: int, after_order: int, customers_since: datetime | None) -> int:
    """Insert the touchpoints made since the watermark, in three INSERT … SELECT; each origin
    once (a re-run adds nothing). With no touchpoints yet, everything is collected as a bulk
    load (``_bulk_loaded``), whatever the watermark says. Returns how many were added."""
    if not Touchpoint.objects.exists():
        with _bulk_loaded(Touchpoint):
            return _touches_insert(after_event=0, after_order=0, customers_since=None, conflict="")
    return _touches_insert(
        after_event=after_event,
        after_order=after_order,
        customers_since=customers_since,
        conflict="ON CONFLICT (origin_id, origin_type) DO NOTHING",
    )


def _touches_insert(*, after_event: int, after_order: int, customers_since: datetime | None, conflict: str) -> int:
    qn = connection.ops.quote_name
    tp = qn(Touchpoint._meta.db_table)
    ev, msg = qn(MessageEvent._meta.db_table), qn(Message._meta.db_table)
    orders, customers = qn(Order._meta.db_table), qn(Customer._meta.db_table)
    shops = qn(Shop._meta.db_table)
    cols = "(customer_id, at, kind, channel, message_id, source_key, origin_type, origin_id)"
    added = 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {tp} {cols}
            SELECT m.customer_id, e.at, CASE WHEN e.status = %s THEN 'click' ELSE 'open' END, 'email', m.id,
                   {_source_key_sql("m." + qn("key"))}, {TouchOrigin.EVENT}, e.id
            FROM {ev} e JOIN {msg} m ON m.id = e.message_id
            WHERE e.id > %s AND e.status IN (%s, %s) AND m.kind = %s AND m.customer_id IS NOT NULL
            {conflict}""",
            [MessageStatus.CLICKED, after_event, MessageStatus.CLICKED, MessageStatus.OPENED, MessageKind.MARKETING],
        )
        added += cursor.rowcount
        # An order's own UTM. The CRM's links carry utm_source=crm and the email's key as
        # utm_campaign, so such an order's touch names the same source as the email's clicks.
        cursor.execute(
            f"""INSERT INTO {tp} {cols}
            SELECT o.customer_id, o.placed_at, 'utm', o.utm_source, NULL,
                   CASE WHEN o.utm_source = 'crm' AND o.utm_campaign <> '' THEN o.utm_campaign
                        ELSE 'utm:' || o.utm_source || '/' || o.utm_medium || '/' || o.utm_campaign END,
                   {TouchOrigin.ORDER}, o.id
            FROM {orders} o WHERE o.id > %s AND o.utm_source <> ''
            {conflict}""",
            [after_order],
        )
        added += cursor.rowcount
        # The source a customer was first seen from: their UTM source, or the source the shop
        # named; not the shop itself, which a customer sent with no source is given (no
        # marketing channel brought them).
        since = "AND c.updated_at >= %s" if customers_since else ""
        cursor.execute(
            f"""INSERT INTO {tp} {cols}
            SELECT c.id, c.first_seen_at, 'first_seen',
                   CASE WHEN c.utm_source <> '' THEN c.utm_source ELSE c.source END, NULL,
                   'first_seen:' || CASE WHEN c.utm_source <> '' THEN c.utm_source ELSE c.source END,
                   {TouchOrigin.CUSTOMER}, c.id
            FROM {customers} c
            WHERE c.first_seen_at IS NOT NULL {since}
              AND (c.utm_source <> ''
                   OR (c.source <> '' AND NOT EXISTS (SELECT 1 FROM {shops} s WHERE s.slug = c.source)))
            {conflict}""",
            [customers_since] if customers_since else [],
        )
        added += cursor.rowcount
    return added


def _windows(s: AttributionSettings) -> np.ndarray:
    """Each kind's window in µs, in ``credit``'s kind order (click, open, utm, first seen)."""
    click, open_ = s.click_window_hours * 3600 * US, s.open_window_hours * 3600 * US
    return np.array([click, open_, click, click], dtype=np.int64)


def _id_table(cursor, name: str, ids) -> str:
    """A temporary table ``name`` holding these distinct ids (analysed on PostgreSQL, so
    the planner reads the touches of a few thousand customers by their index); returns its
    quoted name."""
    table = connection.ops.quote_name(name)
    distinct = np.unique(np.asarray(ids, dtype=np.int64)).tolist()
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} (id bigint PRIMARY KEY)")
    cursor.execute(f"DELETE FROM {table}")
    if connection.vendor == "postgresql":
        cursor.execute(f"INSERT INTO {table} (id) SELECT unnest(%s::bigint[])", [distinct])
        cursor.execute(f"ANALYZE {table}")
    else:
        cursor.executemany(f"INSERT INTO {table} (id) VALUES (%s)", [(i,) for i in distinct])
    return table


def _labels(cursor, touch_where: str, params: list) -> tuple[str, list[tuple[str, str]]]:
    """The distinct (source_key, channel) of the touches ``touch_where`` selects, numbered
    from 0 in a temporary table; returns the table's name and the labels in code order.

    The touches are then read with their label's code (a join on this small table), so the
    credits' labels are array lookups, not a look-up of millions of touch ids."""
    qn = connection.ops.quote_name
    tp, table = qn(Touchpoint._meta.db_table), qn("attribution_labels")
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} "
        "(code bigint PRIMARY KEY, source_key varchar(200) NOT NULL, channel varchar(100) NOT NULL)"
    )
    cursor.execute(f"DELETE FROM {table}")
    cursor.execute(
        f"""INSERT INTO {table} (code, source_key, channel)
        SELECT row_number() OVER (ORDER BY d.source_key, d.channel) - 1, d.source_key, d.channel
        FROM (SELECT DISTINCT t.source_key, t.channel FROM {tp} t WHERE {touch_where}) d""",
        params,
    )
    cursor.execute(f"SELECT source_key, channel FROM {table} ORDER BY code")
    return table, [(k, c) for k, c in cursor.fetchall()]


def _credit(
    order_filter: str, params: list, s: AttributionSettings, result: PassResult, *, every_touch: bool = False
) -> int:
    """Make every model's credits for the orders ``order_filter`` selects (a WHERE on
    orders ``o``); their old credits must be gone. ``every_touch`` reads all the touches
    (a full pass) instead of those of the orders' customers. Returns the (order, touch)
    pairs credited."""
    tp = connection.ops.quote_name(Touchpoint._meta.db_table)
    with result.timed("orders read"):
        o = _orders_read(order_filter, params)
    if not len(o["id"]):
        return 0
    with connection.cursor() as cursor, result.timed("touches read"):
        if every_touch:
            touch_where = "1 = 1"
        else:
            customers = _id_table(cursor, "attribution_customers", o["customer"])
            touch_where = f"t.customer_id IN (SELECT id FROM {customers})"
        label_table, labels = _labels(cursor, touch_where, [])
        t = read_columns(
            [
                Field("id", "t.id"),
                Field("customer", "t.customer_id"),
                Field("at", "t.at", "micros"),
                Field("kind", "t.kind", "choice", choices=KINDS),
                Field("label", "l.code"),
            ],
            f"FROM {tp} t JOIN {label_table} l ON l.source_key = t.source_key AND l.channel = t.channel "
            f"WHERE {touch_where}",
            [],
        )
    with result.timed("models computed"):
        kind = t["kind"] - 1
        p, _ = cr.pairs(o["customer"], o["at"], t["customer"], t["at"], kind, _windows(s), per_second=US)
        if not len(p.order):
            return 0
        age = (o["at"][p.order] - t["at"][p.touch]).astype(np.float64)
        label = t["label"][p.touch]
        half_life = s.half_life_hours * 3600 * US
        amounts = [cr.cents(p, cr.shares(p, model, kind, age, half_life), o["net"]) / 100 for model in cr.MODELS]
    with result.timed("credits written"):
        insert_columns(
            AttributionCredit,
            [
                Column("order_id", "int8", o["id"][p.order]),
                Column("touchpoint_id", "int8", t["id"][p.touch]),
                Column("source_key", "text", label, labels=tuple(k for k, _ in labels)),
                Column("channel", "text", label, labels=tuple(c for _, c in labels)),
                Column("placed_at", "timestamptz", o["at"][p.order]),
                *(Column(model, "float8", amount) for model, amount in zip(cr.MODELS, amounts, strict=True)),
            ],
        )
    return len(p.order)


def _orders_read(order_filter: str, params: list) -> dict[str, np.ndarray]:
    """The counted orders ``order_filter`` selects: id, customer, time (µs) and net cents."""
    orders = connection.ops.quote_name(Order._meta.db_table)
    return read_columns(
        [
            Field("id", "o.id"),
            Field("customer", "o.customer_id"),
            Field("at", "o.placed_at", "micros"),
            Field("net", "ROUND((o.total_base - o.refunded_base) * 100)"),
        ],
        f"FROM {orders} o WHERE {order_filter} AND o.status NOT IN ('{NOT_COUNTED[0]}', '{NOT_COUNTED[1]}')",
        params,
    )


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
        with result.timed("touchpoints"):
            result.touches_added = touchpoints_collect(
                after_event=state.last_event_id,
                after_order=state.last_order_id,
                customers_since=state.changed_since,
            )
        if full:
            with _bulk_loaded(AttributionCredit, emptied=True):
                result.credits = _credit("1 = 1", [], s, result, every_touch=True)
        else:
            with result.timed("orders found"):
                ids = _affected_orders(state, s)
            result.orders = len(ids)
            if ids:
                credits = connection.ops.quote_name(AttributionCredit._meta.db_table)
                with connection.cursor() as cursor, result.timed("credits deleted"):
                    tmp = _id_table(cursor, "attribution_orders", ids)
                    cursor.execute(f"DELETE FROM {credits} WHERE order_id IN (SELECT id FROM {tmp})")
                result.credits = _credit(f"o.id IN (SELECT id FROM {tmp})", [], s, result)
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


@contextmanager
def _bulk_loaded(model, *, emptied: bool = False):
    """Around a bulk write into ``model``'s table (``emptied``: every row goes first).

    On PostgreSQL the secondary indexes and the unique constraints are dropped, the rows
    written, and the indexes built once from the sorted rows: maintaining them row by row
    took most of the write. An emptied table is TRUNCATEd, not DELETEd row by row. The
    drops lock the table until the pass commits, so its readers (the dashboard) wait for a
    full pass, under a minute at 5 M orders; incremental passes lock nothing beyond the rows
    they rewrite. Everything is in the pass's transaction: a pass that fails leaves the
    old rows and indexes."""
    if connection.vendor != "postgresql":
        if emptied:
            model.objects.all().delete()
        yield
        return
    meta = model._meta
    if emptied:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(meta.db_table)}")
    unique = [c for c in meta.constraints if isinstance(c, UniqueConstraint)]
    with connection.schema_editor(atomic=False) as editor:
        for constraint in unique:
            editor.remove_constraint(model, constraint)
        for index in meta.indexes:
            editor.remove_index(model, index)
    yield
    with connection.schema_editor(atomic=False) as editor:
        for index in meta.indexes:
            editor.add_index(model, index)
        for constraint in unique:
            editor.add_constraint(model, constraint)


def _affected_orders(state: AttributionState, s: AttributionSettings) -> list[int]:
    """The ids of the orders whose credits may have changed since the last pass: new or
    changed orders, orders refunded since, and orders placed within a window after a new
    touch. Each is its own indexed query (the id, ``updated_at``, and, for the touches, the
    new touches' customers' orders by ``(customer, placed_at)``), not one ``OR`` over every
    order."""
    longest = timedelta(hours=max(s.click_window_hours, s.open_window_hours))
    since = state.changed_since
    new_touches = Touchpoint.objects.filter(id__gt=state.last_touch_id)
    near_new_touch = Order.objects.filter(customer_id__in=new_touches.values("customer_id")).filter(
        Exists(
            new_touches.filter(
                customer_id=OuterRef("customer_id"),
                at__lte=OuterRef("placed_at"),
                at__gte=OuterRef("placed_at") - longest,
            )
        )
    )
    found = set(Order.objects.filter(id__gt=state.last_order_id).values_list("id", flat=True))
    found.update(near_new_touch.values_list("id", flat=True))
    if since is not None:
        found.update(Order.objects.filter(updated_at__gte=since).values_list("id", flat=True))
        found.update(Refund.objects.filter(created_at__gte=since).values_list("order_id", flat=True))
    return sorted(found)
