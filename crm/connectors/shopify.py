"""Shopify's webhook payloads onto the CRM's ingestion (``crm.pipeline``), by topic.

The shapes are Shopify's documented REST webhook payloads: money as decimal strings in
the shop's currency (``currency``; ``presentment_currency`` is what the buyer saw),
``customer`` null for a guest checkout, ``refunds`` with ``refund_line_items`` and
``transactions``. docs/integrations.md lists what maps to what.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlsplit

import orjson
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from core.errors import DomainError, NotFound
from crm import pipeline
from crm.connectors.errors import DeliveryError
from crm.connectors.models import PRIVACY_DUE, PrivacyRequest, WebhookDelivery
from crm.connectors.versions import version_take
from customers.models import ZERO, ConsentSource, Order
from customers.services.addresses import address_key
from customers.services.currency import MAX_AMOUNT
from customers.services.customers import CustomerData
from customers.services.events import EventData
from customers.services.orders import LineData, OrderData, Outcome
from customers.services.refunds import RefundData

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TAGS = 50
CART_ABANDONED = "cart_abandoned"  # the shipped "Abandoned cart" flow's trigger (campaigns/flows/shipped.py)
MAX_EVENT_LINES = 50

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


def _text(value, length: int) -> str:
    """Text as a column holds it: no NUL (PostgreSQL refuses it), cut to the column's length."""
    if value is None:
        return ""
    return str(value).replace("\x00", "").strip()[:length]


def _money(value, field: str) -> Decimal:
    if value is None or value == "":
        return ZERO
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise DeliveryError(f"{field}: {value!r} is not an amount.") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise DeliveryError(f"{field}: {value} is out of range (0 to {MAX_AMOUNT}).")
    return amount


def _shop_money(item: dict, name: str) -> Decimal:
    """An amount in the shop's currency: ``<name>_set.shop_money`` where Shopify sends it."""
    money_set = item.get(f"{name}_set") or {}
    value = (money_set.get("shop_money") or {}).get("amount", item.get(name))
    return _money(str(value).removeprefix("-"), name) if value is not None else ZERO  # adjustments are negative


def _time(value, field: str, *, required: bool = False) -> datetime | None:
    if not value:
        if required:
            raise DeliveryError(f"{field}: missing.")
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise DeliveryError(f"{field}: {value!r} is not an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise DeliveryError(f"{field}: {value!r} has no time-zone offset.")
    if moment < EARLIEST or moment > timezone.now() + timedelta(days=1):
        raise DeliveryError(f"{field}: {value} is out of range (1970 to a day from now).")
    return moment.astimezone(UTC)


def _id(value, field: str) -> str:
    text = _text(value, 255)
    if not text:
        raise DeliveryError(f"{field}: missing.")
    return text


def _email(value) -> str:
    email = _text(value, 254)
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def _consent(customer: dict) -> bool | None:
    state = (customer.get("email_marketing_consent") or {}).get("state")
    if state is not None:
        return CONSENT_STATES.get(str(state).lower())
    legacy = customer.get("accepts_marketing")  # before API 2022-04
    return legacy if isinstance(legacy, bool) else None


def _country(*addresses: dict | None) -> str:
    for address in addresses:
        code = _text((address or {}).get("country_code"), 2).upper()
        if len(code) == 2 and code.isalpha():
            return code
    return ""


def _tags(value) -> tuple[str, ...]:
    names = value if isinstance(value, list) else str(value or "").split(",")
    return tuple(dict.fromkeys(t for t in (_text(n, 64) for n in names) if t))[:MAX_TAGS]


def _customer(customer: dict | None, *, email="", address: dict | None = None, guest_ref: str = "") -> CustomerData:
    """A Shopify customer object (or, for a guest checkout, the order's email) as CustomerData."""
    customer = customer or {}
    external_id = _text(customer.get("id"), 255)
    email = _email(customer.get("email")) or _email(email)
    if not external_id and not email:
        external_id = guest_ref  # a guest with no email: known by the order alone
    return CustomerData(
        external_id=external_id,
        email=email,
        first_name=_text(customer.get("first_name"), 150),
        last_name=_text(customer.get("last_name"), 150),
        phone=_text(customer.get("phone"), 32),
        country=_country(customer.get("default_address"), address),
        marketing_consent=_consent(customer) if customer else None,
        tags=_tags(customer.get("tags")),
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
    return {name: _text(query.get(name, [""])[0], 100) for name in ("utm_source", "utm_medium", "utm_campaign")}


def order_data(order: dict) -> OrderData:
    """An order payload as the CRM's order.

    The total is Shopify's ``total_price`` (refunds arrive as refunds, so net revenue is
    the total less them; ``current_total_price`` already has them taken off). The lines'
    sum is the subtotal; ``total_discounts`` the discount; the shipping lines' prices the
    shipping; ``total_tax`` the tax, unless prices include tax (``taxes_included``), when
    the tax is inside the lines and none is added. What is left of the total beyond these
    (tips, duties, other charges) counts with shipping; a shortfall, with the discount.
    """
    order_id = _id(order.get("id"), "id")
    currency = _text(order.get("currency"), 3).upper()
    if len(currency) != 3 or not currency.isalpha():
        raise DeliveryError(f"currency: {order.get('currency')!r} is not an ISO 4217 code.")
    lines = []
    for i, item in enumerate(order.get("line_items") or []):
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity < 0 or quantity > 1_000_000:
            raise DeliveryError(f"line_items[{i}].quantity: {quantity!r} is not a quantity.")
        if quantity == 0:
            continue
        sku = _text(item.get("sku"), 100)
        lines.append(
            LineData(
                name=_text(item.get("title") or item.get("name"), 255) or sku or "item",
                quantity=quantity,
                unit_price=_money(item.get("price"), f"line_items[{i}].price"),
                sku=sku,
            )
        )
    subtotal = sum((line.unit_price * line.quantity for line in lines), ZERO)
    discount = _money(order.get("total_discounts"), "total_discounts")
    shipping = sum(
        (_money(s.get("price"), f"shipping_lines[{i}].price") for i, s in enumerate(order.get("shipping_lines") or [])),
        ZERO,
    )
    tax = ZERO if order.get("taxes_included") else _money(order.get("total_tax"), "total_tax")
    total = _money(order.get("total_price"), "total_price")
    rest = total - (subtotal - discount + shipping + tax)
    if rest > 0:
        shipping += rest
    elif rest < 0:
        discount -= rest
    codes = order.get("discount_codes") or []
    address = order.get("shipping_address") or None
    address_fingerprint = ""
    if address and address.get("address1"):
        address_fingerprint = address_key(
            _text(address.get("address1"), 255),
            _text(address.get("address2"), 255),
            _text(address.get("city"), 100),
            _text(address.get("zip"), 20),
            _country(address),
        )
    customer = order.get("customer")
    return OrderData(
        external_id=order_id,
        placed_at=_time(order.get("processed_at") or order.get("created_at"), "created_at", required=True),
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
        discount_code=_text(codes[0].get("code") if codes and isinstance(codes[0], dict) else "", 100),
        source=_text(order.get("source_name"), 100),
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
    updated_at = _time(order.get("updated_at"), "updated_at")
    if not version_take(
        shop_id=delivery.shop_id, resource="order", external_id=data.external_id, updated_at=updated_at
    ):
        return f"order {data.external_id}: a newer version was applied already; nothing changed"
    (result,) = pipeline.orders_receive(shop=delivery.shop, orders=[data], consent_source=ConsentSource.CHECKOUT)
    if result.outcome == Outcome.ERROR:
        raise DeliveryError("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in result.errors.items()))
    refunds = [_refund(delivery, data.external_id, refund) for refund in order.get("refunds") or []]
    new = sum(1 for r in refunds if r)
    return f"order {data.external_id} {result.outcome}, {data.status}" + (f"; {new} refund(s) recorded" if new else "")


# ------------------------------------------------------------------------------ refunds


def refund_amount(refund: dict, currency: str) -> Decimal:
    """What a refund gave back, in the order's (shop's) currency: its successful refund
    transactions; if those are in the buyer's currency, the shop-money amounts of the lines
    and the shipping refunded."""
    done = [t for t in refund.get("transactions") or [] if t.get("kind") == "refund" and t.get("status") == "success"]
    same = [t for t in done if _text(t.get("currency") or currency, 3).upper() == currency]
    if same:
        return sum((_money(t.get("amount"), "transactions.amount") for t in same), ZERO)
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
    """Record one refund of the order; True if it is new. A cancelled order's refunds are
    not recorded (its revenue is not counted at all)."""
    order = Order.objects.filter(shop_id=delivery.shop_id, external_id=order_external_id).only("currency", "status")
    order = order.first()
    if order is None:
        raise DeliveryError(f"Order {order_external_id} has not arrived yet; the refund is tried again later.")
    if order.status == Order.Status.CANCELLED:
        return False
    amount = refund_amount(refund, order.currency)
    if amount == 0:
        return False  # a restock or a note: no money back
    data = RefundData(
        amount=amount,
        refunded_at=_time(refund.get("processed_at") or refund.get("created_at"), "created_at", required=True),
        reason=_text(refund.get("note"), 255),
        external_id=_id(refund.get("id"), "id"),
    )
    try:
        _, created = pipeline.refund_receive(shop=delivery.shop, order_external_id=order_external_id, data=data)
    except (NotFound, DomainError) as exc:
        raise DeliveryError(f"refund {data.external_id}: {exc}") from None
    return created


def handle_refund(delivery: WebhookDelivery, refund: dict) -> str:
    order_id = _id(refund.get("order_id"), "order_id")
    created = _refund(delivery, order_id, refund)
    return f"refund {refund.get('id')} of order {order_id} " + (
        "recorded" if created else "already recorded or no money"
    )


# ------------------------------------------------------------------------------ customers


def handle_customer(delivery: WebhookDelivery, customer: dict) -> str:
    external_id = _id(customer.get("id"), "id")
    updated_at = _time(customer.get("updated_at"), "updated_at")
    if not version_take(shop_id=delivery.shop_id, resource="customer", external_id=external_id, updated_at=updated_at):
        return f"customer {external_id}: a newer version was applied already; nothing changed"
    data = _customer(customer)
    customer_id, created = pipeline.customer_receive(shop=delivery.shop, data=data)
    return f"customer {external_id} {'created' if created else 'updated'} (CRM id {customer_id})"


# ------------------------------------------------------------------------------ checkouts


def handle_checkout(delivery: WebhookDelivery, checkout: dict) -> str:
    """An open checkout with someone to remind becomes one ``cart_abandoned`` event (once per
    checkout): the "Abandoned cart" flow waits its delay from it and stops if an order comes."""
    token = _id(checkout.get("token") or checkout.get("id"), "token")
    if checkout.get("completed_at"):
        return f"checkout {token} completed: no reminder"
    data = _customer(checkout.get("customer"), email=checkout.get("email"), address=checkout.get("shipping_address"))
    if not data.external_id and not data.email:
        return f"checkout {token}: no customer or email yet"
    items = [
        {
            "sku": _text(i.get("sku"), 100),
            "title": _text(i.get("title"), 255),
            "quantity": i.get("quantity"),
            "price": _text(i.get("price"), 20),
        }
        for i in (checkout.get("line_items") or [])[:MAX_EVENT_LINES]
        if isinstance(i, dict)
    ]
    event, created = pipeline.event_receive(
        shop=delivery.shop,
        data=EventData(
            type=CART_ABANDONED,
            occurred_at=_time(checkout.get("updated_at") or checkout.get("created_at"), "updated_at") or timezone.now(),
            customer=data,
            payload={
                "source": "shopify",
                "checkout_token": token,
                "total_price": _text(checkout.get("total_price"), 20),
                "currency": _text(checkout.get("currency") or checkout.get("presentment_currency"), 3),
                "url": _text(checkout.get("abandoned_checkout_url"), 1000),
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
    customer = body.get("customer") or {}
    orders = body.get("orders_to_redact") or body.get("orders_requested") or []
    request, _ = PrivacyRequest.objects.get_or_create(
        delivery=delivery,
        defaults={
            "shop_id": delivery.shop_id,
            "kind": kind,
            "customer_external_id": _text(customer.get("id"), 255),
            "email": _text(customer.get("email"), 254),
            "phone": _text(customer.get("phone"), 64),
            "order_external_ids": [_text(o, 255) for o in orders][:1000],
            "received_at": delivery.received_at,
            "due_at": delivery.received_at + PRIVACY_DUE,
        },
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
    handler = TOPICS.get(delivery.topic)
    if handler is None:
        return f"topic {delivery.topic} is not one the CRM takes: ignored"
    try:
        body = orjson.loads(bytes(delivery.body))
    except orjson.JSONDecodeError as exc:
        raise DeliveryError(f"The body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DeliveryError("The body is not a JSON object.")
    return handler(delivery, body)
