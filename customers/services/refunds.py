"""Refunds against an order: never more than what is left to refund."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Sum

from core.create_once import create_once
from core.errors import DomainError, NotFound
from customers.models import ZERO, Order, Refund, Shop
from customers.services.currency import minor_unit, to_base
from customers.services.pending_updates import pending_updates_mark


@dataclass(frozen=True)
class RefundData:
    amount: Decimal
    refunded_at: datetime
    reason: str = ""
    external_id: str = ""


def refund_create(*, shop: Shop, order_external_id: str, data: RefundData) -> tuple[Refund, bool]:
    """Record a refund; True if new, False for a replay of the same ``external_id``.

    The order row is locked, so two concurrent refunds cannot together exceed the total.
    A refund that brings the refunded amount to the total marks the order refunded.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(shop=shop, external_id=order_external_id).first()
        if order is None:
            raise NotFound(f"No order {order_external_id} in this shop.", field="external_id")
        replays = order.refunds.filter(external_id=data.external_id) if data.external_id else None
        return create_once(replays, lambda: _refund(order, data))


def _refund(order: Order, data: RefundData) -> Refund:
    if data.amount != data.amount.quantize(minor_unit(order.currency)):
        raise DomainError(f"{order.currency} amounts have too many decimal places.", field="amount")
    if order.status == Order.Status.CANCELLED:
        raise DomainError("A cancelled order cannot be refunded.", field="external_id")
    if data.refunded_at < order.placed_at:
        raise DomainError(
            f"A refund cannot come before its order was placed ({order.placed_at.isoformat()}).",
            field="refunded_at",
        )
    refunded = order.refunds.aggregate(s=Sum("amount"))["s"] or ZERO
    left = order.total - refunded
    if data.amount > left:
        raise DomainError(
            f"Refund of {data.amount} exceeds what is left to refund on this order ({left}).", field="amount"
        )
    refund = Refund.objects.create(
        order=order,
        external_id=data.external_id,
        amount=data.amount,
        amount_base=to_base(data.amount, order.exchange_rate),
        reason=data.reason,
        refunded_at=data.refunded_at,
    )
    order.refunded_base = F("refunded_base") + refund.amount_base
    fields = ["refunded_base", "updated_at"]
    if data.amount == left:
        order.status = Order.Status.REFUNDED
        fields.append("status")
    order.save(update_fields=fields)
    order.refresh_from_db(fields=["refunded_base"])
    pending_updates_mark([order.customer_id])
    return refund


REFUNDED_BASE_SQL = f"""
    UPDATE {Order._meta.db_table} SET refunded_base = r.amount
    FROM (SELECT order_id, SUM(amount_base) AS amount FROM {Refund._meta.db_table} GROUP BY order_id) AS r
    WHERE {Order._meta.db_table}.id = r.order_id
"""


def orders_refunded_backfill() -> None:
    """Set every order's refunded_base from its refunds (after refunds written in bulk)."""
    with connection.cursor() as cursor:
        cursor.execute(REFUNDED_BASE_SQL)
