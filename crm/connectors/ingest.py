"""What every platform's mapping does with what it read: an order applied if it is newer
than the one applied (``versions``), a refund recorded once, through ``crm.pipeline``."""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from core.errors import DomainError, NotFound
from crm import pipeline
from crm.connectors.errors import DeliveryError, DeliveryNotReady
from crm.connectors.models import WebhookDelivery
from crm.connectors.versions import version_take
from customers.models import ZERO, ConsentSource, Order
from customers.services.customers import CustomerData
from customers.services.orders import OrderData, OrderResult, Outcome
from customers.services.refunds import RefundData

CART_ABANDONED = "cart_abandoned"  # the shipped "Abandoned cart" flow's trigger (campaigns/flows/shipped.py)
MAX_EVENT_LINES = 50  # of a cart's lines, kept on its event


def order_apply(*, delivery: WebhookDelivery, data: OrderData, updated_at: datetime | None) -> OrderResult | None:
    """Upsert the order unless a newer version of it was applied (then None)."""
    if not version_take(
        shop_id=delivery.shop_id, resource="order", external_id=data.external_id, updated_at=updated_at
    ):
        return None
    return order_write(delivery=delivery, data=data)


def order_write(*, delivery: WebhookDelivery, data: OrderData) -> OrderResult:
    """Upsert the order (its version taken already, ``versions.version_take``)."""
    (result,) = pipeline.orders_receive(shop=delivery.shop, orders=[data], consent_source=ConsentSource.CHECKOUT)
    if result.outcome == Outcome.ERROR:
        raise DeliveryError("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in result.errors.items()))
    return result


def customer_apply(*, delivery: WebhookDelivery, data: CustomerData, updated_at: datetime | None) -> str:
    """Upsert the customer unless a newer version was applied; says what happened."""
    if not version_take(
        shop_id=delivery.shop_id, resource="customer", external_id=data.external_id, updated_at=updated_at
    ):
        return f"customer {data.external_id}: a newer version was applied already; nothing changed"
    customer_id, created = pipeline.customer_receive(shop=delivery.shop, data=data)
    return f"customer {data.external_id} {'created' if created else 'updated'} (CRM id {customer_id})"


def residue_folded(*, total: Decimal, subtotal: Decimal, discount: Decimal, shipping: Decimal, tax: Decimal):
    """(discount, shipping) such that subtotal − discount + shipping + tax is the platform's
    total: what the total holds beyond the parts the CRM keeps (tips, duties, fees,
    rounding of per-unit prices) counts with shipping; a shortfall, with the discount."""
    rest = total - (subtotal - discount + shipping + tax)
    if rest > 0:
        return discount, shipping + rest
    return discount - rest, shipping


def refund_apply(
    *,
    delivery: WebhookDelivery,
    order_external_id: str,
    amount: Callable[[str], Decimal],
    data: Callable[[Decimal], RefundData],
) -> bool:
    """Record one refund of the order once (by its id); True if it is new. ``amount`` gives
    what was refunded in the order's currency. A cancelled order's refunds are not recorded
    (its revenue is not counted at all); one with no money back (a restock) neither."""
    order = (
        Order.objects.filter(shop_id=delivery.shop_id, external_id=order_external_id).only("currency", "status").first()
    )
    if order is None:
        raise DeliveryNotReady(f"Order {order_external_id} has not arrived yet; the refund is tried again later.")
    if order.status == Order.Status.CANCELLED:
        return False
    value = amount(order.currency)
    if value == ZERO:
        return False
    refund = data(value)
    try:
        _, created = pipeline.refund_receive(shop=delivery.shop, order_external_id=order_external_id, data=refund)
    except (NotFound, DomainError) as exc:
        raise DeliveryError(f"refund {refund.external_id}: {exc}") from None
    return created
