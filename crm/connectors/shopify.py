"""Shopify's webhook payloads onto the CRM's ingestion (``crm.pipeline``), by topic.

The shapes are Shopify's documented REST webhook payloads: money as decimal strings in
the shop's currency (``currency``; ``presentment_currency`` is what the buyer saw),
``customer`` null for a guest checkout, ``refunds`` with ``refund_line_items`` and
``transactions``. docs/integrations.md lists what maps to what.
"""

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

from crm import pipeline
from crm.connectors.errors import DeliveryError, delivery_dispatch
from crm.connectors.ingest import (
    CART_ABANDONED,
    MAX_EVENT_LINES,
    customer_apply,
    order_apply,
    refund_apply,
    residue_folded,
)
from crm.connectors.models import WebhookDelivery
from crm.connectors.values import country_of, email_or_blank, moment, money, required_id, tags_of, text
from crm.privacy.models import PrivacyRequest
from crm.privacy.requests import privacy_request_open
from customers.models import ZERO, Order
from customers.services.addresses import address_key
from customers.services.customers import CustomerData
from customers.services.events import EventData
from customers.services.orders import LineData, OrderData
from customers.services.refunds import RefundData

# Shopify's email_marketing_consent.state → the CRM's consent (None: the shop did not say).
CONSENT_STATES = {
    "subscribed": True,
    "unsubscribed": False,
    "not_subscribed": False,
    "redacted": False,
    "invalid": False,
    "pending": None,  # double opt-in not confirmed yet
}


# ------------------------------------------------------------------------------ values


def _shop_money(item: dict, name: str) -> Decimal:
    """An amount in the shop's currency: ``<name>_set.shop_money`` where Shopify sends it."""
    money_set = item.get(f"{name}_set") or {}
    value = (money_set.get("shop_money") or {}).get("amount", item.get(name))
    return money(str(value).removeprefix("-"), name) if value is not None else ZERO  # adjustments are negative


def _consent(customer: dict) -> bool | None:
    state = (customer.get("email_marketing_consent") or {}).get("state")
    if state is not None:
        return CONSENT_STATES.get(str(state).lower())
    legacy = customer.get("accepts_marketing")  # before API 2022-04
    return legacy if isinstance(legacy, bool) else None


def _customer(customer: dict | None, *, email="", address: dict | None = None, guest_ref: str = "") -> CustomerData:
    """A Shopify customer object (or, for a guest checkout, the order's email) as CustomerData."""
    customer = customer or {}
    external_id = text(customer.get("id"), 255)
    email = email_or_blank(customer.get("email")) or email_or_blank(email)
    if not external_id and not email:
        external_id = guest_ref  # a guest with no email: known by the order alone
    return CustomerData(
        external_id=external_id,
        email=email,
        first_name=text(customer.get("first_name"), 150),
        last_name=text(customer.get("last_name"), 150),
        phone=text(customer.get("phone"), 32),
        country=country_of(customer.get("default_address"), address),
        marketing_consent=_consent(customer) if customer else None,
        tags=tags_of(customer.get("tags")),
    )


# ------------------------------------------------------------------------------ orders


def order_status(order: dict) -> str:
    if order.get("cancelled_at"):
        return Order.Status.CANCELLED
    financial = order.get("financial_status")
    if financial == "voided":
        return Order.Status.CANCELLED
    if financial == "refunded":
        return Order.Status.REFUNDED
    if order.get("fulfillment_status") == "fulfilled":
        return Order.Status.FULFILLED
    if financial in ("paid", "partially_paid", "partially_refunded"):
        return Order.Status.PAID
    return Order.Status.PLACED


def _utm(landing_site) -> dict[str, str]:
    query = parse_qs(urlsplit(str(landing_site or "")).query)
    return {name: text(query.get(name, [""])[0], 100) for name in ("utm_source", "utm_medium", "utm_campaign")}


def order_data(order: dict) -> OrderData:
    """An order payload as the CRM's order.

    The total is Shopify's ``total_price`` (refunds arrive as refunds, so net revenue is
    the total less them; ``current_total_price`` already has them taken off). The lines'
    sum is the subtotal; ``total_discounts`` the discount; the shipping lines' prices the
    shipping; ``total_tax`` the tax, unless prices include tax (``taxes_included``), when
    the tax is inside the lines and none is added. What is left of the total beyond these
    (tips, duties, other charges) counts with shipping; a shortfall, with the discount.
    """
    order_id = required_id(order.get("id"), "id")
    currency = text(order.get("currency"), 3).upper()
    if len(currency) != 3 or not currency.isalpha():
        raise DeliveryError(f"currency: {order.get('currency')!r} is not an ISO 4217 code.")
    lines = []
    for i, item in enumerate(order.get("line_items") or []):
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity < 0 or quantity > 1_000_000:
            raise DeliveryError(f"line_items[{i}].quantity: {quantity!r} is not a quantity.")
        if quantity == 0:
            continue
        sku = text(item.get("sku"), 100)
        lines.append(
            LineData(
                name=text(item.get("title") or item.get("name"), 255) or sku or "item",
                quantity=quantity,
                unit_price=money(item.get("price"), f"line_items[{i}].price"),
                sku=sku,
            )
        )
    subtotal = sum((line.unit_price * line.quantity for line in lines), ZERO)
    discount = money(order.get("total_discounts"), "total_discounts")
    shipping = sum(
        (money(s.get("price"), f"shipping_lines[{i}].price") for i, s in enumerate(order.get("shipping_lines") or [])),
        ZERO,
    )
    tax = ZERO if order.get("taxes_included") else money(order.get("total_tax"), "total_tax")
    total = money(order.get("total_price"), "total_price")
    discount, shipping = residue_folded(total=total, subtotal=subtotal, discount=discount, shipping=shipping, tax=tax)
    codes = order.get("discount_codes") or []
    address = order.get("shipping_address") or None
    address_fingerprint = ""
    if address and address.get("address1"):
        address_fingerprint = address_key(
            text(address.get("address1"), 255),
            text(address.get("address2"), 255),
            text(address.get("city"), 100),
            text(address.get("zip"), 20),
            country_of(address),
        )
    customer = order.get("customer")
    return OrderData(
        external_id=order_id,
        placed_at=moment(order.get("processed_at") or order.get("created_at"), "created_at", required=True),
        currency=currency,
        total=total,
        customer=_customer(
            customer,
            email=order.get("email") or order.get("contact_email"),
            address=address or order.get("billing_address"),
            guest_ref=f"guest:{order_id}",
        ),
        status=order_status(order),
        discount_total=discount,
        shipping_total=shipping,
        tax_total=tax,
        discount_code=text(codes[0].get("code") if codes and isinstance(codes[0], dict) else "", 100),
        source=text(order.get("source_name"), 100),
        shipping_address_key=address_fingerprint,
        lines=tuple(lines),
        **_utm(order.get("landing_site")),
    )


def _order_consent(order: dict, data: OrderData) -> OrderData:
    """A guest's checkbox (``buyer_accepts_marketing``) says yes; its absence withdraws nothing."""
    if data.customer.marketing_consent is None and order.get("buyer_accepts_marketing") is True:
        return replace(data, customer=replace(data.customer, marketing_consent=True))
    return data


def handle_order(delivery: WebhookDelivery, order: dict) -> str:
    data = _order_consent(order, order_data(order))
    result = order_apply(delivery=delivery, data=data, updated_at=moment(order.get("updated_at"), "updated_at"))
    if result is None:
        return f"order {data.external_id}: a newer version was applied already; nothing changed"
    new = sum(_refund(delivery, data.external_id, refund) for refund in order.get("refunds") or [])
    return f"order {data.external_id} {result.outcome}, {data.status}" + (f"; {new} refund(s) recorded" if new else "")


# ------------------------------------------------------------------------------ refunds


def refund_amount(refund: dict, currency: str) -> Decimal:
    """What a refund gave back, in the order's (shop's) currency: its successful refund
    transactions; if those are in the buyer's currency, the shop-money amounts of the lines
    and the shipping refunded."""
    done = [t for t in refund.get("transactions") or [] if t.get("kind") == "refund" and t.get("status") == "success"]
    same = [t for t in done if text(t.get("currency") or currency, 3).upper() == currency]
    if same:
        return sum((money(t.get("amount"), "transactions.amount") for t in same), ZERO)
    if not done:
        return ZERO
    lines = sum(
        (
            _shop_money(item, "subtotal") + _shop_money(item, "total_tax")
            for item in refund.get("refund_line_items") or []
        ),
        ZERO,
    )
    shipping = sum(
        (
            _shop_money(adj, "amount") + _shop_money(adj, "tax_amount")
            for adj in refund.get("order_adjustments") or []
            if adj.get("kind") == "shipping_refund"
        ),
        ZERO,
    )
    return lines + shipping


def _refund(delivery: WebhookDelivery, order_external_id: str, refund: dict) -> bool:
    return refund_apply(
        delivery=delivery,
        order_external_id=order_external_id,
        amount=lambda currency: refund_amount(refund, currency),
        data=lambda amount: RefundData(
            amount=amount,
            refunded_at=moment(refund.get("processed_at") or refund.get("created_at"), "created_at", required=True),
            reason=text(refund.get("note"), 255),
            external_id=required_id(refund.get("id"), "id"),
        ),
    )


def handle_refund(delivery: WebhookDelivery, refund: dict) -> str:
    order_id = required_id(refund.get("order_id"), "order_id")
    created = _refund(delivery, order_id, refund)
    return f"refund {refund.get('id')} of order {order_id} " + (
        "recorded" if created else "already recorded or no money"
    )


# ------------------------------------------------------------------------------ customers


def handle_customer(delivery: WebhookDelivery, customer: dict) -> str:
    required_id(customer.get("id"), "id")
    updated_at = moment(customer.get("updated_at"), "updated_at")
    return customer_apply(delivery=delivery, data=_customer(customer), updated_at=updated_at)


# ------------------------------------------------------------------------------ checkouts


def handle_checkout(delivery: WebhookDelivery, checkout: dict) -> str:
    """An open checkout with someone to remind becomes one ``cart_abandoned`` event (once per
    checkout): the "Abandoned cart" flow waits its delay from it and stops if an order comes."""
    token = required_id(checkout.get("token") or checkout.get("id"), "token")
    if checkout.get("completed_at"):
        return f"checkout {token} completed: no reminder"
    data = _customer(checkout.get("customer"), email=checkout.get("email"), address=checkout.get("shipping_address"))
    if not data.external_id and not data.email:
        return f"checkout {token}: no customer or email yet"
    items = [
        {
            "sku": text(i.get("sku"), 100),
            "title": text(i.get("title"), 255),
            "quantity": i.get("quantity"),
            "price": text(i.get("price"), 20),
        }
        for i in (checkout.get("line_items") or [])[:MAX_EVENT_LINES]
        if isinstance(i, dict)
    ]
    event, created = pipeline.event_receive(
        shop=delivery.shop,
        data=EventData(
            type=CART_ABANDONED,
            occurred_at=moment(checkout.get("updated_at") or checkout.get("created_at"), "updated_at")
            or timezone.now(),
            customer=data,
            payload={
                "source": "shopify",
                "checkout_token": token,
                "total_price": text(checkout.get("total_price"), 20),
                "currency": text(checkout.get("currency") or checkout.get("presentment_currency"), 3),
                "url": text(checkout.get("abandoned_checkout_url"), 1000),
                "line_items": items,
            },
            external_id=f"shopify-checkout:{token}",
        ),
    )
    return f"checkout {token}: {CART_ABANDONED} event " + ("recorded" if created else "already recorded")


# ------------------------------------------------------------------------------ privacy


def handle_privacy(delivery: WebhookDelivery, body: dict) -> str:
    kind = {
        "customers/data_request": PrivacyRequest.Kind.DATA_REQUEST,
        "customers/redact": PrivacyRequest.Kind.CUSTOMER_REDACT,
        "shop/redact": PrivacyRequest.Kind.SHOP_REDACT,
    }[delivery.topic]
    # Shopify signs the body, not the topic header: a body captured from another topic and
    # sent again under a privacy topic must not open a request. A privacy body names the
    # store, and a shop's erasure names no customer.
    domain = body.get("shop_domain")
    if not isinstance(domain, str) or domain.lower() != delivery.connection.domain.lower():
        raise DeliveryError(f"shop_domain: {domain!r} is not this connection's store; not a {delivery.topic} body.")
    if kind == PrivacyRequest.Kind.SHOP_REDACT and "customer" in body:
        raise DeliveryError("customer: a shop/redact body names no customer; not a shop/redact body.")
    if kind != PrivacyRequest.Kind.SHOP_REDACT and body.get("customer") is None:
        raise DeliveryError(f"customer: missing; a {delivery.topic} body names the customer.")
    customer = body.get("customer") or {}
    orders = body.get("orders_to_redact") or body.get("orders_requested") or []
    if not isinstance(customer, dict):
        raise DeliveryError(f"customer: {type(customer).__name__} where an object was expected.")
    if not isinstance(orders, list):
        raise DeliveryError(f"orders_to_redact: {type(orders).__name__} where a list was expected.")
    # The same request sent again (a new webhook id, the same person): the open one stands.
    again = PrivacyRequest.objects.filter(
        shop=delivery.shop,
        kind=kind,
        status=PrivacyRequest.Status.OPEN,
        customer_external_id=text(customer.get("id"), 255),
        email=text(customer.get("email"), 254),
        source=PrivacyRequest.Source.PLATFORM,
    ).first()
    if again is not None and again.delivery_id != delivery.pk:
        return f"privacy request {again.pk} ({again.get_kind_display()}) is open already, due {again.due_at:%Y-%m-%d}"
    request = PrivacyRequest.objects.filter(delivery=delivery).first() or privacy_request_open(
        kind=kind,
        source=PrivacyRequest.Source.PLATFORM,
        shop=delivery.shop,
        customer_external_id=text(customer.get("id"), 255),
        email=text(customer.get("email"), 254),
        phone=text(customer.get("phone"), 64),
        order_external_ids=[text(o, 255) for o in orders][:1000],
        received_at=delivery.received_at,
        delivery=delivery,
    )
    return f"privacy request {request.pk} ({request.get_kind_display()}) due {request.due_at:%Y-%m-%d}"


# ------------------------------------------------------------------------------ dispatch

TOPICS: dict[str, Callable[[WebhookDelivery, dict], str]] = {
    "orders/create": handle_order,
    "orders/updated": handle_order,
    "orders/paid": handle_order,
    "orders/cancelled": handle_order,
    "orders/fulfilled": handle_order,
    "orders/partially_fulfilled": handle_order,
    "refunds/create": handle_refund,
    "customers/create": handle_customer,
    "customers/update": handle_customer,
    "checkouts/create": handle_checkout,
    "checkouts/update": handle_checkout,
    "customers/data_request": handle_privacy,
    "customers/redact": handle_privacy,
    "shop/redact": handle_privacy,
}


def delivery_apply(delivery: WebhookDelivery) -> str:
    """Apply one stored Shopify delivery; returns what it did. Raises on failure."""
    return delivery_dispatch(delivery, TOPICS)
