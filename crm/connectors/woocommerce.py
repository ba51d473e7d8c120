"""WooCommerce's webhook payloads (REST API v3 shapes) onto the CRM's ingestion, by topic.

Money is decimal strings in the order's ``currency``; line ``subtotal`` is before
discounts and without tax; times are read from the ``*_gmt`` fields (UTC without an
offset). WooCommerce has no refund topic: an order's ``refunds`` array (``id``,
``reason``, a negative ``total``) is recorded with each order delivery.
"""

from collections.abc import Callable
from decimal import ROUND_HALF_UP

from crm.connectors.errors import DeliveryError, delivery_dispatch
from crm.connectors.ingest import customer_apply, order_apply, refund_apply, residue_folded
from crm.connectors.models import WebhookDelivery
from crm.connectors.values import country_of, email_or_blank, moment, money, required_id, text
from customers.models import ZERO, Order
from customers.services.addresses import address_key
from customers.services.currency import minor_unit
from customers.services.customers import CustomerData
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
    data = order_data(order)
    modified = moment(order.get("date_modified_gmt"), "date_modified_gmt", naive_is_utc=True)
    result = order_apply(delivery=delivery, data=data, updated_at=modified)
    if result is None:
        return f"order {data.external_id}: a newer version was applied already; nothing changed"
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
