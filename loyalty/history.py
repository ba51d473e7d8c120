"""Crediting past orders: the orders placed before the programme started, earning their points
as if it had run since a date a manager picks.

The programme starts "now" on first use (``programme_get``), so history imported from a shop
never earns. Crediting it is a deliberate act: a manager names a date, reads what it would
credit (orders, customers, points and the liability they add), and confirms. Confirming
moves the programme's start back to that date and marks the customers concerned in the
outbox of follow-up work, in one transaction with the record of who did it
(``PastOrdersCredit``); the drain then awards their points through the same code as any
order (``earning.orders_award``), so the points are keyed per order and rule like every
other: a second credit, a re-run drain, or a later order of the same customer credits
nothing twice.

The preview is the earn rule itself (``earning.order_earns`` over the window, for every
customer), summed in one statement, less what the ledger already holds; nothing is written.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from core.days import start_of
from core.errors import DomainError
from core.figures import money_text, unit_money_text
from customers.models import Order, Shop
from customers.services.currency import base_currency
from customers.services.pending_updates import pending_updates_mark
from loyalty.earning import order_earns
from loyalty.expiry import add_months
from loyalty.ledger import SELECTED
from loyalty.models import EarningRule, ExpiryMode, PastOrdersCredit, PointsEntry, Programme, RuleKind
from loyalty.programme import Multipliers, programme_get


@dataclass(frozen=True)
class CreditPreview:
    """What crediting the orders placed from ``since`` until the programme's start would do."""

    since: datetime
    until: datetime  # the programme's start now
    orders: int
    customers: int
    points: int
    point_value: Decimal
    currency: str
    # Under expiry by inactivity: the customers among them with no order for the programme's
    # months, whose points (the credited ones too) expire at the next nightly pass.
    expiring_customers: int = 0
    expiring_points: int = 0
    expiry_months: int = 0

    @property
    def value(self) -> Decimal:
        """The liability the points add, in the base currency."""
        return (self.points * self.point_value).quantize(Decimal("0.01"))

    @property
    def value_text(self) -> str:
        return money_text(self.value, self.currency)

    @property
    def point_value_text(self) -> str:
        return unit_money_text(self.point_value, self.currency)


def _window(since: date, programme: Programme) -> tuple[datetime, datetime]:
    since_at = start_of(since)
    if since > timezone.localdate():
        raise DomainError("Give a day in the past: the orders placed since then are credited.", field="since")
    if since_at >= programme.starts_at:
        raise DomainError(
            f"The programme already counts orders placed since {timezone.localdate(programme.starts_at):%Y-%m-%d}: "
            "give a day before it.",
            field="since",
        )
    return since_at, programme.starts_at


def past_orders_credit_preview(*, since: date, now: datetime | None = None) -> CreditPreview:
    """What crediting the orders placed from ``since`` (a day, from its start in the CRM's
    time zone) up to the programme's start would credit; ``DomainError`` on ``since`` if the
    programme already counts them. One statement; nothing written."""
    programme = programme_get()
    since_at, until = _window(since, programme)
    now = now or timezone.now()
    rules = {r.id: r for r in EarningRule.objects.filter(kind__in=[RuleKind.SPEND, RuleKind.FIRST_ORDER])}
    earns = order_earns(None, programme, rules, Multipliers.load(), placed=(since_at, until)) if rules else None
    figures = (0, 0, 0, 0, 0)
    if earns is not None:
        inactive = programme.expiry_mode == ExpiryMode.INACTIVITY
        # Expired: no order in the account's group since this instant (``expiry.ByInactivity``).
        cutoff = start_of(add_months(timezone.localdate(now), -programme.expiry_months) + timedelta(days=1))
        figures = _summed(earns, cutoff if inactive else None)
    orders, customers, points, expiring_customers, expiring_points = figures
    return CreditPreview(
        since=since_at,
        until=until,
        orders=orders,
        customers=customers,
        points=points,
        point_value=programme.point_value,
        currency=base_currency(),
        expiring_customers=expiring_customers,
        expiring_points=expiring_points,
        expiry_months=programme.expiry_months if programme.expiry_mode == ExpiryMode.INACTIVITY else 0,
    )


def _summed(earns, cutoff: datetime | None) -> tuple[int, int, int, int, int]:
    """The earns not in the ledger yet, summed: orders, customers, points; and, given a
    ``cutoff``, of the accounts with no order since then, the customers and points."""
    sql, params = earns.query.sql_with_params()
    table, orders, shops = PointsEntry._meta.db_table, Order._meta.db_table, Shop._meta.db_table
    last_order = (
        f"(SELECT MAX(o.placed_at) FROM {orders} o JOIN {shops} s ON s.id = o.shop_id "
        "WHERE o.customer_id = new.customer_id AND s.group_id = new.group_id)"
        if cutoff
        else "NULL"  # no expiry by inactivity: not asked
    )
    statement = f"""
        WITH earn({", ".join(SELECTED)}) AS ({sql}),
        new AS (SELECT * FROM earn WHERE NOT EXISTS (SELECT 1 FROM {table} p WHERE p.key = earn.key)),
        account AS (
            SELECT customer_id, group_id, SUM(pending) AS points, {last_order} AS last_order
            FROM new GROUP BY customer_id, group_id
        )
        SELECT
            (SELECT COUNT(DISTINCT order_id) FROM new),
            (SELECT COUNT(DISTINCT customer_id) FROM new),
            (SELECT COALESCE(SUM(points), 0) FROM account),
            (SELECT COUNT(DISTINCT customer_id) FROM account WHERE last_order < %s),
            (SELECT COALESCE(SUM(points), 0) FROM account WHERE last_order < %s)
    """
    cutoff_param = connection.ops.adapt_datetimefield_value(cutoff) if cutoff else None
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, cutoff_param, cutoff_param])
        return tuple(int(value or 0) for value in cursor.fetchone())


def past_orders_credit(*, since: date, staff_id: int, now: datetime | None = None) -> PastOrdersCredit:
    """Credit the orders placed from ``since`` up to the programme's start: move the start back
    to ``since`` and mark the customers whose orders earn, for the drain of the follow-up work
    to award their points (``earning.orders_award``). Returns the record of it, with the
    figures worked out under the programme's lock. ``DomainError`` on ``since`` if the
    programme already counts those orders (a credit made twice): nothing is written then."""
    with transaction.atomic():
        programme = Programme.objects.select_for_update().get(pk=programme_get().pk)
        preview = past_orders_credit_preview(since=since, now=now)
        customers = (
            Order.objects.earning()
            .filter(placed_at__gte=preview.since, placed_at__lt=preview.until)
            .order_by()
            .values_list("customer_id", flat=True)
            .distinct()
        )
        credit = PastOrdersCredit.objects.create(
            since=preview.since,
            previous_start=preview.until,
            orders=preview.orders,
            customers=preview.customers,
            points=preview.points,
            value=preview.value,
            currency=preview.currency,
            staff_id=staff_id,
        )
        programme.starts_at = preview.since
        programme.save(update_fields=["starts_at"])  # a save, so the audit history has it
        pending_updates_mark(list(customers))
    return credit
