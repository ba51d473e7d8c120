"""WooCommerce's webhook payloads (REST API v3 shapes) onto the CRM's ingestion, by topic.

Money is decimal strings in the order's ``currency``; line ``subtotal`` is before
discounts and without tax; times are read from the ``*_gmt`` fields (UTC without an
offset). WooCommerce has no refund topic: an order's ``refunds`` array (``id``,
``reason``, a negative ``total``) is recorded with each order delivery.

WooCommerce has no checkout topic either. Its block checkout keeps an open checkout as an
order in status ``checkout-draft``, and an order not paid waits in ``pending``: such an
order with a billing email becomes one ``cart_abandoned`` event (``handle_cart``), as a
Shopify checkout does, and no order (it is no revenue). When it turns into a real order
(paid, on hold, completed) it is applied as one, placed when it did so; if it is given up
instead (cancelled, failed, trashed: WooCommerce cancels unpaid orders after its hold-stock
minutes) nothing is recorded.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP

from django.utils import timezone

from crm import pipeline
from crm.connectors.errors import DeliveryError, delivery_dispatch
from crm.connectors.ingest import (
    CART_ABANDONED,
    MAX_EVENT_LINES,
    customer_apply,
    order_write,
    refund_apply,
    residue_folded,
)
from crm.connectors.models import WebhookDelivery
from crm.connectors.values import country_of, email_or_blank, moment, money, required_id, text
from crm.connectors.versions import version_take
from customers.models import ZERO, Event, Order
from customers.services.addresses import address_key
from customers.services.currency import minor_unit
from customers.services.customers import CustomerData
from customers.services.events import EventData
from customers.services.orders import LineData, OrderData
from customers.services.refunds import RefundData

STATUSES = {
    "pending": Order.Status.PLACED,
    "on-hold": Order.Status.PLACED,
    "checkout-draft": Order.Status.PLACED,
    "processing": Order.Status.PAID,
    "completed": Order.Status.FULFILLED,
    "cancelled": Order.Status.CANCELLED,
    "failed": Order.Status.CANCELLED,
    "trash": Order.Status.CANCELLED,
    "refunded": Order.Status.REFUNDED,
}
# An open checkout (the block checkout's draft) and an order not paid: a cart, not an order.
CART_STATUSES = frozenset({"checkout-draft", "pending"})
# What becomes of a cart nobody pays for.
GIVEN_UP_STATUSES = frozenset({"cancelled", "failed", "trash"})


def cart_key(order_id: str) -> str:
    """The external id of the ``cart_abandoned`` event of a WooCommerce order."""
    return f"woocommerce-order:{order_id}"


def _country(address: dict | None) -> str:
    return country_of({"country_code": (address or {}).get("country")})


def _customer(body: dict, *, customer_id, guest_ref: str = "") -> CustomerData:
    billing = body.get("billing") or {}
    external_id = text(customer_id, 255) if customer_id not in (None, 0, "0", "") else ""
    email = email_or_blank(body.get("email")) or email_or_blank(billing.get("email"))
    if not external_id and not email:
        external_id = guest_ref
    return CustomerData(
        external_id=external_id,
        email=email,
        first_name=text(body.get("first_name") or billing.get("first_name"), 150),
        last_name=text(body.get("last_name") or billing.get("last_name"), 150),
        phone=text(billing.get("phone"), 32),
        country=_country(billing) or _country(body.get("shipping")),
    )


def order_data(order: dict) -> OrderData:
    order_id = required_id(order.get("id"), "id")
    currency = text(order.get("currency"), 3).upper()
    if len(currency) != 3 or not currency.isalpha():
        raise DeliveryError(f"currency: {order.get('currency')!r} is not an ISO 4217 code.")
    unit = minor_unit(currency)
    lines = []
    for i, item in enumerate(order.get("line_items") or []):
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity < 0 or quantity > 1_000_000:
            raise DeliveryError(f"line_items[{i}].quantity: {quantity!r} is not a quantity.")
        if quantity == 0:
            continue
        subtotal = money(item.get("subtotal"), f"line_items[{i}].subtotal")
        sku = text(item.get("sku"), 100)
        lines.append(
            LineData(
                name=text(item.get("name"), 255) or sku or "item",
                quantity=quantity,
                unit_price=(subtotal / quantity).quantize(unit, rounding=ROUND_HALF_UP),
                sku=sku,
            )
        )
    subtotal = sum((line.unit_price * line.quantity for line in lines), ZERO)
    tax = money(order.get("total_tax"), "total_tax")
    discount, shipping = residue_folded(
        total=money(order.get("total"), "total"),
        subtotal=subtotal,
        discount=money(order.get("discount_total"), "discount_total"),
        shipping=money(order.get("shipping_total"), "shipping_total"),
        tax=tax,
    )
    shipping_to = order.get("shipping") or {}
    fingerprint = ""
    if shipping_to.get("address_1"):
        fingerprint = address_key(
            text(shipping_to.get("address_1"), 255),
            text(shipping_to.get("address_2"), 255),
            text(shipping_to.get("city"), 100),
            text(shipping_to.get("postcode"), 20),
            _country(shipping_to),
        )
    coupons = order.get("coupon_lines") or []
    return OrderData(
        external_id=order_id,
        placed_at=moment(order.get("date_created_gmt"), "date_created_gmt", required=True, naive_is_utc=True),
        currency=currency,
        total=money(order.get("total"), "total"),
        customer=_customer(order, customer_id=order.get("customer_id"), guest_ref=f"guest:{order_id}"),
        status=STATUSES.get(str(order.get("status")), Order.Status.PLACED),
        discount_total=discount,
        shipping_total=shipping,
        tax_total=tax,
        discount_code=text(coupons[0].get("code") if coupons and isinstance(coupons[0], dict) else "", 100),
        source=text(order.get("created_via"), 100),
        shipping_address_key=fingerprint,
        lines=tuple(lines),
    )


def handle_order(delivery: WebhookDelivery, order: dict) -> str:
    """An order, unless it is still a cart (``CART_STATUSES``) or a cart given up.

    The order's version is taken first (locked until the end of the transaction), so what
    the CRM holds of it is read after any other delivery of it was applied."""
    order_id = required_id(order.get("id"), "id")
    status = str(order.get("status"))
    modified = moment(order.get("date_modified_gmt"), "date_modified_gmt", naive_is_utc=True)
    if not version_take(shop_id=delivery.shop_id, resource="order", external_id=order_id, updated_at=modified):
        return f"order {order_id}: a newer version was applied already; nothing changed"
    shop_orders = Order.objects.filter(shop_id=delivery.shop_id, external_id=order_id)
    placed_at = shop_orders.values_list("placed_at", flat=True).first()
    if placed_at is None and status in CART_STATUSES:
        return handle_cart(delivery, order, order_id=order_id, modified=modified)
    was_cart = Event.objects.filter(shop_id=delivery.shop_id, external_id=cart_key(order_id)).exists()
    if placed_at is None and was_cart and status in GIVEN_UP_STATUSES:
        return f"order {order_id} {status}: a cart given up, never an order; nothing recorded"
    data = order_data(order)
    if was_cart:
        # Placed when it stopped being a cart: this version's time, later than the cart's
        # (versions are applied newest only), kept on later updates. Its creation time is
        # when the checkout began, before the cart_abandoned event, and an order placed
        # before the event would not end the "Abandoned cart" flow (it exits on an order
        # placed after its trigger).
        data = replace(data, placed_at=placed_at or modified or data.placed_at)
    result = order_write(delivery=delivery, data=data)
    new = 0
    for refund in order.get("refunds") or []:
        refund_id = required_id(refund.get("id"), "refunds.id")
        amount = money(str(refund.get("total") or "0").removeprefix("-"), "refunds.total")
        new += refund_apply(
            delivery=delivery,
            order_external_id=data.external_id,
            amount=lambda currency, amount=amount: amount,
            data=lambda value, refund=refund, refund_id=refund_id: RefundData(
                amount=value,
                refunded_at=modified or data.placed_at,  # the array has no date: the order's change
                reason=text(refund.get("reason"), 255),
                external_id=refund_id,
            ),
        )
    return f"order {data.external_id} {result.outcome}, {data.status}" + (f"; {new} refund(s) recorded" if new else "")


def handle_cart(delivery: WebhookDelivery, order: dict, *, order_id: str, modified: datetime | None) -> str:
    """An order that is still a cart, with a billing email: one ``cart_abandoned`` event
    (once per order, whatever its later drafts), as a Shopify checkout gives. The shipped
    "Abandoned cart" flow waits its delay from the event and stops if an order comes."""
    customer = _customer(order, customer_id=order.get("customer_id"))
    if not customer.email:
        return f"order {order_id} {order.get('status')}: a cart with no email yet; nothing to remind"
    items = [
        {
            "sku": text(item.get("sku"), 100),
            "title": text(item.get("name"), 255),
            "quantity": item.get("quantity"),
            "price": text(item.get("price"), 20),
        }
        for item in (order.get("line_items") or [])[:MAX_EVENT_LINES]
        if isinstance(item, dict)
    ]
    created_at = moment(order.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True)
    _, created = pipeline.event_receive(
        shop=delivery.shop,
        data=EventData(
            type=CART_ABANDONED,
            occurred_at=modified or created_at or timezone.now(),
            customer=customer,
            payload={
                "source": "woocommerce",
                "order_id": order_id,
                "status": text(order.get("status"), 20),
                "total_price": text(order.get("total"), 20),
                "currency": text(order.get("currency"), 3).upper(),
                "url": text(order.get("payment_url"), 1000),
                "line_items": items,
            },
            external_id=cart_key(order_id),
        ),
    )
    return f"order {order_id} {order.get('status')}: a cart, not an order; {CART_ABANDONED} event " + (
        "recorded" if created else "already recorded"
    )


def handle_customer(delivery: WebhookDelivery, customer: dict) -> str:
    customer_id = required_id(customer.get("id"), "id")
    modified = moment(customer.get("date_modified_gmt"), "date_modified_gmt", naive_is_utc=True)
    return customer_apply(delivery=delivery, data=_customer(customer, customer_id=customer_id), updated_at=modified)


def _deleted(delivery: WebhookDelivery, body: dict) -> str:
    return f"{delivery.topic}: kept as it was; deletions in WooCommerce are not applied"


TOPICS: dict[str, Callable[[WebhookDelivery, dict], str]] = {
    "order.created": handle_order,
    "order.updated": handle_order,
    "order.restored": handle_order,
    "order.deleted": _deleted,
    "customer.created": handle_customer,
    "customer.updated": handle_customer,
    "customer.deleted": _deleted,
}


def delivery_apply(delivery: WebhookDelivery) -> str:
    """Apply one stored WooCommerce delivery; returns what it did. Raises on failure."""
    return delivery_dispatch(delivery, TOPICS)
