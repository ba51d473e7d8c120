"""Shopify webhook bodies in Shopify's documented shape, signed as Shopify signs them."""

import base64
import hashlib
import hmac
import json
import uuid
from decimal import Decimal

SECRET = "shpss_0123456789abcdef"


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(client, connection, topic, payload, *, webhook_id=None, secret=SECRET, domain=None, signature=None):
    body = json.dumps(payload).encode()
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": domain or connection.domain,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()) if webhook_id is None else webhook_id,
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Triggered-At": "2026-03-01T10:00:00.000Z",
    }
    headers = {name: value for name, value in headers.items() if value != ""}
    if signature is not False:
        headers["X-Shopify-Hmac-Sha256"] = sign(body, secret) if signature is None else signature
    return client.post(
        f"/connectors/shopify/{connection.token}/", data=body, content_type="application/json", headers=headers
    )


def customer(cid=7001, email="ann@example.com", state="subscribed", **extra):
    body = {
        "id": cid,
        "email": email,
        "first_name": "Ann",
        "last_name": "Lee",
        "phone": None,
        "tags": "vip, wholesale",
        "created_at": "2026-01-01T09:00:00-05:00",
        "updated_at": "2026-01-01T09:00:00-05:00",
        "email_marketing_consent": {"state": state, "opt_in_level": "single_opt_in", "consent_updated_at": None},
        "default_address": {"country_code": "US", "address1": "1 Main St", "city": "Boston"},
    }
    body.update(extra)
    return body


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def order(
    oid=5001,
    *,
    currency="USD",
    lines=(("MUG-1", "Mug", "49.50", 2), ("TEA-1", "Tea", "100.00", 1)),
    discount="19.90",
    shipping="9.90",
    tax="15.84",
    taxes_included=False,
    financial_status="paid",
    fulfillment_status=None,
    cancelled_at=None,
    created_at="2026-02-01T10:00:00-05:00",
    updated_at="2026-02-01T10:00:05-05:00",
    cust="default",
    email="ann@example.com",
    refunds=(),
):
    items = [
        {
            "id": oid * 10 + i,
            "title": title,
            "sku": sku,
            "price": price,
            "quantity": qty,
            "variant_id": 900 + i,
            "taxable": True,
            "discount_allocations": [{"amount": discount, "discount_application_index": 0}] if i == 0 else [],
        }
        for i, (sku, title, price, qty) in enumerate(lines)
    ]
    line_sum = sum(Decimal(price) * qty for _, _, price, qty in lines)
    subtotal = line_sum - Decimal(discount)
    total = subtotal + Decimal(shipping) + (Decimal(0) if taxes_included else Decimal(tax))
    return {
        "id": oid,
        "name": f"#{oid}",
        "email": email,
        "created_at": created_at,
        "processed_at": created_at,
        "updated_at": updated_at,
        "cancelled_at": cancelled_at,
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        "taxes_included": taxes_included,
        "buyer_accepts_marketing": False,
        "total_line_items_price": money(line_sum),
        "subtotal_price": money(subtotal),
        "total_discounts": discount,
        "total_tax": tax,
        "total_price": money(total),
        "current_total_price": money(total),
        "discount_codes": [{"code": "WELCOME10", "amount": discount, "type": "fixed_amount"}]
        if Decimal(discount)
        else [],
        "shipping_lines": [
            {"id": 1, "title": "Standard", "price": shipping, "code": "STD", "discount_allocations": []}
        ],
        "line_items": items,
        "customer": customer() if cust == "default" else cust,
        "shipping_address": {
            "address1": "1 Main St",
            "address2": None,
            "city": "Boston",
            "zip": "02101",
            "country_code": "US",
        },
        "billing_address": None,
        "landing_site": "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
        "source_name": "web",
        "refunds": list(refunds),
    }


def refund(
    rid=8001,
    oid=5001,
    *,
    amount="49.50",
    currency="USD",
    line_item_id=50010,
    quantity=1,
    created_at="2026-02-05T12:00:00-05:00",
):
    return {
        "id": rid,
        "order_id": oid,
        "created_at": created_at,
        "processed_at": created_at,
        "note": "Broken in transit",
        "restock": True,
        "refund_line_items": [
            {
                "id": rid * 10,
                "line_item_id": line_item_id,
                "quantity": quantity,
                "restock_type": "return",
                "subtotal": amount,
                "total_tax": "0.00",
                "subtotal_set": {"shop_money": {"amount": amount, "currency_code": currency}},
                "total_tax_set": {"shop_money": {"amount": "0.00", "currency_code": currency}},
            }
        ],
        "transactions": [
            {
                "id": rid * 100,
                "order_id": oid,
                "kind": "refund",
                "status": "success",
                "amount": amount,
                "currency": currency,
                "gateway": "shopify_payments",
            },
        ],
        "order_adjustments": [],
    }
