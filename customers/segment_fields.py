"""What segment rules can test about customers: attributes, computed metrics and behaviour.

Plain declarations read by ``campaigns.segments.registry`` (this app imports nothing from
campaigns). A ``build`` function gets the operator, a validated value, the window as a
``timedelta`` (or None) and the time the rule is evaluated, and returns a ``Q`` on
``Customer``. Behaviour is tested with uncorrelated ``pk IN (subquery)`` conditions, which
PostgreSQL runs as one hashed semi-join per condition, never a query per customer.
"""

import operator as op
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from customers.metrics import clv, rfm
from customers.models import ClvModel, Customer, Event, Order, OrderLine, ShopTag, Stage

_COMPARE = {"eq": op.eq, "ne": op.ne, "lt": op.lt, "lte": op.le, "gt": op.gt, "gte": op.ge}
_LOOKUP = {"eq": "exact", "lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte"}


def _total_condition(totals, operator: str, value, scoped: bool) -> tuple[Q, bool]:
    """Customers whose windowed total (``totals``: customer_id with ``total``, only for
    customers with any orders in the window) compares to ``value``, and whether that only
    matches customers of the scope the totals were read for. A customer with no order in the
    window has a total of 0, so when 0 itself passes, the condition is taken as "not among
    those whose total fails" (which also matches customers outside the scope)."""

    def passes(values) -> Q:
        if operator == "between":
            return Q(total__gte=values[0], total__lte=values[1])
        if operator == "ne":
            return ~Q(total=values)
        return Q(**{f"total__{_LOOKUP[operator]}": values})

    if operator == "between":
        zero_passes = value[0] <= 0 <= value[1]
    else:
        zero_passes = _COMPARE[operator](0, value)
    condition = passes(value)
    if zero_passes:
        return ~Q(pk__in=totals.exclude(condition).values("customer_id")), False
    return Q(pk__in=totals.filter(condition).values("customer_id")), scoped


def _orders_in(window: timedelta | None, now, scope: Q | None, shops=None):
    """The window's counted orders (all time without a window); only those of the customers
    in ``scope`` if given, so the total is summed for them alone (a hash semi-join, not an
    aggregate over every order), and only those of ``shops`` (a shop group) if given."""
    orders = Order.objects.counted().filter(placed_at__lt=now).order_by()
    if window is not None:
        orders = orders.filter(placed_at__gte=now - window)
    if scope is not None:
        orders = orders.filter(customer_id__in=Customer.objects.filter(scope).order_by().values("pk"))
    if shops is not None:
        orders = orders.filter(shop_id__in=shops)
    return orders


def spent_in_window(operator, value, window, now, scope=None, shops=None) -> tuple[Q, bool]:
    if operator in ("is_set", "is_not_set"):  # a total is never missing
        return Q(pk__isnull=operator == "is_not_set"), False
    orders = _orders_in(window, now, scope, shops)
    totals = orders.values("customer_id").annotate(total=Sum(F("total_base") - F("refunded_base")))
    amount = [Decimal(str(v)) for v in value] if operator == "between" else Decimal(str(value))
    return _total_condition(totals, operator, amount, scoped=scope is not None)


def orders_in_window(operator, value, window, now, scope=None, shops=None) -> tuple[Q, bool]:
    if operator in ("is_set", "is_not_set"):
        return Q(pk__isnull=operator == "is_not_set"), False
    totals = _orders_in(window, now, scope, shops).values("customer_id").annotate(total=Count("id"))
    return _total_condition(totals, operator, value, scoped=scope is not None)


def aov_of_shops(operator, value, window, now, scope=None, shops=None) -> tuple[Q, bool]:
    """Average order value over a shop group's orders (a key's rules; ``aov`` elsewhere)."""
    if operator in ("is_set", "is_not_set"):
        return Q(pk__isnull=operator == "is_not_set"), False
    net = Sum(F("total_base") - F("refunded_base"))
    totals = _orders_in(None, now, scope, shops).values("customer_id").annotate(total=net / Count("id"))
    amount = [Decimal(str(v)) for v in value] if operator == "between" else Decimal(str(value))
    return _total_condition(totals, operator, amount, scoped=scope is not None)


def _all_time(build):
    """A figure of all of a shop group's orders, from the windowed ``build``."""

    def all_time(operator, value, window, now, **kwargs) -> tuple[Q, bool]:
        return build(operator, value, None, now, **kwargs)

    return all_time


def _bought(column: str):
    def build(operator, value, window, now, shops=None) -> Q:
        lines = OrderLine.objects.filter(
            order__placed_at__gte=now - window,
            order__placed_at__lt=now,
            **{f"{column}__in": value},
        ).exclude(order__status__in=Order.NOT_COUNTED)
        if shops is not None:
            lines = lines.filter(order__shop_id__in=shops)
        bought = Q(pk__in=lines.order_by().values("order__customer_id"))
        return bought if operator == "in" else ~bought

    return build


def event_in_window(operator, value, window, now, shops=None) -> Q:
    events = Event.objects.filter(type=value, occurred_at__gte=now - window, occurred_at__lte=now).order_by()
    if shops is not None:
        events = events.filter(shop_id__in=shops)
    happened = Q(pk__in=events.values("customer_id"))
    return happened if operator == "eq" else ~happened


def has_tags(operator, value, window, now, shops=None) -> Q:
    """Any of the tags: the staff's merged set, or through a key (``shops``) the tags its
    group's shops sent."""
    if shops is None:
        rows = Customer.tags.through.objects.filter(tag__name__in=value)
    else:
        rows = ShopTag.objects.filter(tag__name__in=value, shop_id__in=shops)
    tagged = Q(pk__in=rows.order_by().values("customer_id"))
    return tagged if operator == "in" else ~tagged


def _last_day_compared(path: str, operator: str, value, today: date) -> Q:
    """``days since the last order`` compared to N, as the last purchase day in ``path``
    compared to today − N, turned around; a customer who never bought has no such number."""

    def days_ago(n) -> date:  # any number of days, kept within the calendar
        return today - timedelta(days=min(max(n, (today - date.max).days), (today - date.min).days))

    turned = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte", "eq": "exact"}
    if operator == "is_set":
        return Q(**{f"{path}__isnull": False})
    if operator == "is_not_set":
        return Q(**{f"{path}__isnull": True})
    if operator == "between":
        low, high = value
        return Q(**{f"{path}__lte": days_ago(low), f"{path}__gte": days_ago(high)})
    if operator == "ne":
        return Q(**{f"{path}__isnull": False}) & ~Q(**{path: days_ago(value)})
    return Q(**{f"{path}__{turned[operator]}": days_ago(value)})


def days_since_last_order(operator, value, window, now) -> Q:
    """Read from the last purchase day the recompute stores."""
    return _last_day_compared("metrics__last_purchase_on", operator, value, timezone.localdate(now))


def days_since_last_order_then(operator, value, window, now) -> Q:
    """``days_since_last_order`` as of a past ``now``, from the orders placed before it (as
    they stand today: an order refunded since counts as never counted)."""
    last = (
        Order.objects.counted()
        .filter(placed_at__lt=now)
        .values("customer_id")
        .annotate(last_purchase_on=TruncDate(Max("placed_at")))
        .order_by()
    )
    if operator == "is_not_set":
        return ~Q(pk__in=last.values("customer_id"))
    compared = _last_day_compared("last_purchase_on", operator, value, timezone.localdate(now))
    return Q(pk__in=last.filter(compared).values("customer_id"))


def _then(build):
    """A windowed ``build`` over all of the orders placed before ``now``, as a plain ``Q``:
    how a figure stored as it is today (orders, net revenue, AOV) reads as of a past date."""

    def then(operator, value, window, now) -> Q:
        return build(operator, value, None, now)[0]

    return then


def birthday_this_month(operator, value, window, now) -> Q:
    this_month = Q(birthday__month=timezone.localdate(now).month)
    return this_month if value else ~this_month | Q(birthday__isnull=True)


def clv_top_percent(operator, value, window, now) -> Q:
    """Customers among the top N % by predicted CLV ("≤ 10": the top decile), against the
    percentiles of every buyer's CLV stored with the current model: a constant threshold,
    so the condition is a plain comparison however many customers there are."""
    model = ClvModel.current()
    if model is None or not model.clv_percentiles:
        return Q(pk__isnull=True)  # no model, no ranking: nobody (an empty IN would not compile to SQL)
    at = partial(clv.threshold_for_top, model.clv_percentiles)
    path = "metrics__clv_predicted"
    if operator == "between":
        return Q(**{f"{path}__gte": at(value[1]), f"{path}__lte": at(value[0])})
    turned = {"lte": "gte", "lt": "gt", "gte": "lte", "gt": "lt"}[operator]
    return Q(**{f"{path}__{turned}": at(value)})


def _stages():
    return Stage.choices


def _rfm_segments():
    return list(rfm.SEGMENT_LABELS.items())


SEGMENT_FIELDS = [
    # Customer attributes
    {
        "name": "country",
        "label": "country",
        "type": "text",
        "path": "country",
        "slice": "profile",
        "help": "ISO code, e.g. DE",
    },
    {"name": "tags", "label": "tags", "type": "tags", "build": has_tags, "slice": "shops"},
    {
        "name": "marketing_consent",
        "label": "marketing consent",
        "type": "bool",
        "path": "marketing_consent",
        "slice": "profile",
    },
    {
        "name": "birthday_month",
        "label": "birthday month",
        "type": "month",
        "path": "birthday__month",
        "slice": "profile",
        "past": True,
    },
    {
        "name": "birthday_this_month",
        "label": "birthday this month",
        "type": "bool",
        "build": birthday_this_month,
        "slice": "profile",
        "past": True,
    },
    {
        "name": "first_seen",
        "label": "first seen",
        "type": "date",
        "path": "first_seen_at",
        "datetime": True,
        "slice": "profile",
        "past": True,
    },
    {"name": "source", "label": "acquisition source", "type": "text", "path": "source", "slice": "profile"},
    {"name": "utm_source", "label": "UTM source", "type": "text", "path": "utm_source", "slice": "profile"},
    # Computed metrics
    {
        "name": "stage",
        "label": "lifecycle stage",
        "group": "Metrics",
        "type": "choice",
        "path": "metrics__stage",
        "choices": _stages,
    },
    {
        "name": "rfm_segment",
        "label": "RFM segment",
        "group": "Metrics",
        "type": "choice",
        "path": "metrics__rfm_segment",
        "choices": _rfm_segments,
    },
    {"name": "rfm_r", "label": "RFM recency score", "group": "Metrics", "type": "number", "path": "metrics__rfm_r"},
    {"name": "rfm_f", "label": "RFM frequency score", "group": "Metrics", "type": "number", "path": "metrics__rfm_f"},
    {"name": "rfm_m", "label": "RFM monetary score", "group": "Metrics", "type": "number", "path": "metrics__rfm_m"},
    {
        "name": "clv_historical",
        "money": True,
        "label": "historical CLV",
        "group": "Metrics",
        "type": "number",
        "path": "net_revenue",
        "slice": "shops",
        "shop_build": _all_time(spent_in_window),
        "past": _then(spent_in_window),
    },
    {
        "name": "clv_predicted",
        "money": True,
        "label": "predicted 12-month CLV",
        "group": "Metrics",
        "type": "number",
        "path": "metrics__clv_predicted",
    },
    {
        "name": "clv_top_percent",
        "label": "predicted CLV rank (top %)",
        "group": "Metrics",
        "type": "percent",
        "build": clv_top_percent,
        "help": "10 or less: the top decile",
    },
    {"name": "p_alive", "label": "P(alive)", "group": "Metrics", "type": "number", "path": "metrics__p_alive"},
    {
        "name": "orders_count",
        "label": "orders",
        "group": "Metrics",
        "type": "number",
        "path": "orders_count",
        "slice": "shops",
        "shop_build": _all_time(orders_in_window),
        "past": _then(orders_in_window),
    },
    {
        "name": "net_revenue",
        "money": True,
        "label": "net revenue",
        "group": "Metrics",
        "type": "number",
        "path": "net_revenue",
        "slice": "shops",
        "shop_build": _all_time(spent_in_window),
        "past": _then(spent_in_window),
    },
    {
        "name": "aov",
        "money": True,
        "label": "average order value",
        "group": "Metrics",
        "type": "number",
        "path": "avg_order_value",
        "slice": "shops",
        "shop_build": aov_of_shops,
        "past": _then(aov_of_shops),
    },
    {
        "name": "days_since_last_order",
        "label": "days since the last order",
        "group": "Metrics",
        "type": "number",
        "build": days_since_last_order,
        "past": days_since_last_order_then,
    },
    # Behaviour over a time window
    {
        "name": "spent",
        "money": True,
        "label": "spent",
        "group": "Behaviour",
        "type": "window_number",
        "window": "days",
        "build": spent_in_window,
        "scoped": True,
        "slice": "shops",
        "past": True,
    },
    {
        "name": "orders_in_window",
        "label": "orders placed",
        "group": "Behaviour",
        "type": "window_number",
        "window": "days",
        "build": orders_in_window,
        "scoped": True,
        "slice": "shops",
        "past": True,
    },
    {
        "name": "bought_sku",
        "label": "bought SKU",
        "group": "Behaviour",
        "type": "window_items",
        "window": "days",
        "build": _bought("sku"),
        "slice": "shops",
        "past": True,
    },
    {
        "name": "bought_category",
        "label": "bought from category",
        "group": "Behaviour",
        "type": "window_items",
        "window": "days",
        "build": _bought("product__category"),
        "slice": "shops",
        "past": True,
    },
    {
        "name": "event",
        "label": "event",
        "group": "Behaviour",
        "type": "event",
        "window": "days_or_hours",
        "build": event_in_window,
        "slice": "shops",
        "help": "an event type a shop sends, e.g. cart_abandoned",
        "past": True,
    },
]
