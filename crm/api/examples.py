"""What /api/docs/ shows for each operation: a one-line summary, a request body that works as
it stands, examples of the important responses, and examples of the path parameters.

Swagger UI's "Try it out" starts from the request body's ``example``; without one it builds
a body from the types (``"currency": "AZF"``, ``"total": "string"``) that the API refuses.
So every body here is valid, and they work in this order on a fresh database with a shop's
key: ``tests/test_api_examples.py`` posts each one and expects a 2xx. The few values that
name something the server made (a reward, a referral code, a code, a ticket's id) say where
to read them; the path parameters' examples are those of the bodies before them (order
``1001``, ticket ``1``, customer ``1``: ids start at 1 in a new database).

Kept apart from the payload structs (``crm/api/*/payloads.py``) so that the examples and
the summaries can be read, and changed, in one place; ``add_examples`` (a drf-spectacular
post-processing hook) puts them into the schema.
"""

from dataclasses import dataclass, field
from typing import Any

# The customer of most examples, as an order, an event, a ticket, a review or an NPS answer names them.
ANN = {"external_id": "c-1", "email": "ann@example.com"}

ORDER = {
    "external_id": "1001",
    "placed_at": "2026-11-30T14:05:00+01:00",
    "currency": "USD",
    "status": "fulfilled",
    "total": "64.85",
    "subtotal": "59.90",
    "shipping_total": "4.95",
    "customer": {
        **ANN,
        "first_name": "Ann",
        "last_name": "Lee",
        "country": "DE",
        "time_zone": "Europe/Berlin",
        "marketing_consent": True,
    },
    "lines": [{"sku": "TEA-1", "name": "Green tea 100 g", "category": "Tea", "quantity": 2, "unit_price": "29.95"}],
    "shipping_address": {"line1": "Hauptstr. 5", "city": "Berlin", "postal_code": "10115", "country": "DE"},
}

ORDER_OUT = {
    "id": 1,
    "external_id": "1001",
    "customer_id": 1,
    "placed_at": "2026-11-30T13:05:00Z",
    "status": "fulfilled",
    "currency": "USD",
    "subtotal": "59.90",
    "discount_total": "0.00",
    "shipping_total": "4.95",
    "tax_total": "0.00",
    "total": "64.85",
    "total_base": "64.85",
    "exchange_rate": "1.00000000",
    "discount_code": "",
    "source": "",
    "utm_source": "",
    "utm_medium": "",
    "utm_campaign": "",
    "lines": [{"sku": "TEA-1", "name": "Green tea 100 g", "quantity": 2, "unit_price": "29.95", "product_id": 1}],
    "created_at": "2026-12-04T10:00:00.120000Z",
    "updated_at": "2026-12-04T10:00:00.120000Z",
}

CUSTOMER = {
    "external_id": "c-2",
    "email": "ben@example.com",
    "first_name": "Ben",
    "last_name": "Okafor",
    "phone": "+49 30 1234567",
    "country": "DE",
    "birthday": "1990-04-12",
    "time_zone": "Europe/Berlin",
    "marketing_consent": False,
    "source": "newsletter",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "winter-sale",
    "tags": ["wholesale"],
}

PROFILE = {
    "id": 1,
    "external_ids": ["c-1"],
    "email": "ann@example.com",
    "first_name": "Ann",
    "last_name": "Lee",
    "phone": "",
    "country": "DE",
    "birthday": None,
    "time_zone": "Europe/Berlin",
    "tags": [],
    "marketing_consent": True,
    "marketing_consent_at": "2026-12-04T10:00:00.120000Z",
    "first_seen_at": "2026-11-30T13:05:00Z",
    "source": "",
    "utm_source": "",
    "utm_medium": "",
    "utm_campaign": "",
    "orders_count": 1,
    "currency": "USD",
    "net_revenue": "34.90",
    "avg_order_value": "34.90",
    "first_order_at": "2026-11-30T13:05:00Z",
    "last_order_at": "2026-11-30T13:05:00Z",
    "aggregates_updated_at": "2026-12-04T10:00:01Z",
    "clv_historical": "34.90",
    "lifecycle": {
        "stage": "new",
        "stage_reason": "last order 4 days ago; first purchase",
        "stage_since": "2026-12-04T10:00:01Z",
        "rfm_r": 5,
        "rfm_f": 1,
        "rfm_m": 2,
        "rfm_segment": "new",
        "p_alive": 1.0,
        "expected_purchases_30": 0.21,
        "expected_purchases_90": 0.55,
        "expected_purchases_365": 1.62,
        "clv_predicted": "98.20",
        "clv_simple": "64.85",
        "purchase_days": 1,
        "days_since_last": 4,
        "gap_median_days": None,
        "computed_at": "2026-12-04T10:00:01Z",
    },
    "created_at": "2026-12-04T10:00:00.120000Z",
    "updated_at": "2026-12-04T10:00:00.120000Z",
    "loyalty": {"balance": 0, "pending": 34, "tier": None},
}

INVALID_ORDER = {
    "detail": 'Invalid input: total: Expected a decimal string such as "59.90", got a number.',
    "errors": {"total": ['Expected a decimal string such as "59.90", got a number.']},
}


@dataclass(frozen=True)
class Operation:
    """What the docs show for one operation (by its operationId)."""

    summary: str
    request: Any = None  # the request body's example: valid as it stands
    responses: dict[int, Any] = field(default_factory=dict)  # examples by status code
    parameters: dict[str, Any] = field(default_factory=dict)  # examples by parameter name


CUSTOMER_ID = {"id": 1}

CODE = {
    "code": "RW-7K2M-9Q4X-B3DT",
    "status": "issued",
    "customer_id": 1,
    "points_spent": 100,
    "expires_at": "2027-01-03T10:10:00Z",
    "consumed_at": None,
    "order_external_id": "",
    "reward": {
        "id": 1,
        "name": "$5 off",
        "kind": "fixed_amount",
        "value": "5.00",
        "product_sku": "",
        "points_cost": 100,
        "valid_from": None,
        "valid_until": None,
        "code_valid_days": 30,
        "per_customer_limit": None,
    },
}

OPERATIONS: dict[str, Operation] = {
    # Orders and customers
    "orders_upsert": Operation(
        "Create or update an order",
        request=ORDER,
        responses={201: ORDER_OUT, 400: INVALID_ORDER},
    ),
    "orders_bulk": Operation(
        "Create or update up to 1,000 orders",
        request={
            "orders": [
                {
                    "external_id": "1002",
                    "placed_at": "2026-12-01T09:12:00Z",
                    "currency": "USD",
                    "status": "paid",
                    "total": "12.50",
                    "customer": ANN,
                    "lines": [{"sku": "MUG-1", "name": "Stoneware mug", "quantity": 1, "unit_price": "12.50"}],
                },
                {
                    "external_id": "1003",
                    "placed_at": "2026-12-01T11:40:00Z",
                    "currency": "USD",
                    "status": "paid",
                    "total": "29.95",
                    "customer": {"external_id": "c-3", "email": "cara@example.com", "first_name": "Cara"},
                    "lines": [{"sku": "TEA-1", "name": "Green tea 100 g", "quantity": 1, "unit_price": "29.95"}],
                },
            ]
        },
        responses={
            200: {
                "created": 2,
                "updated": 0,
                "unchanged": 0,
                "errors": 0,
                "results": [
                    {"index": 0, "external_id": "1002", "status": "created", "id": 2, "customer_id": 1, "errors": {}},
                    {"index": 1, "external_id": "1003", "status": "created", "id": 3, "customer_id": 3, "errors": {}},
                ],
            }
        },
    ),
    "orders_refund": Operation(
        "Refund part or all of an order",
        request={
            "amount": "29.95",
            "refunded_at": "2026-12-02T09:30:00Z",
            "reason": "One tin arrived damaged",
            "external_id": "r-1001-1",
        },
        responses={
            201: {
                "id": 1,
                "order_id": 1,
                "order_status": "fulfilled",
                "external_id": "r-1001-1",
                "amount": "29.95",
                "amount_base": "29.95",
                "reason": "One tin arrived damaged",
                "refunded_at": "2026-12-02T09:30:00Z",
            }
        },
        parameters={"external_id": "1001"},
    ),
    "orders_review_link": Operation(
        "A link where the customer reviews a fulfilled order",
        parameters={"external_id": "1001"},
    ),
    "customers_upsert": Operation(
        "Create or update a customer",
        request=CUSTOMER,
        responses={
            201: {
                **PROFILE,
                **{k: v for k, v in CUSTOMER.items() if k != "external_id"},
                "id": 2,
                "external_ids": ["c-2"],
                "marketing_consent_at": "2026-12-04T10:02:00Z",
                "first_seen_at": "2026-12-04T10:02:00Z",
                "orders_count": 0,
                **dict.fromkeys(("net_revenue", "avg_order_value", "clv_historical"), "0.00"),
                **dict.fromkeys(("first_order_at", "last_order_at", "aggregates_updated_at", "lifecycle")),
                "loyalty": {"balance": 0, "pending": 0, "tier": None},
                "created_at": "2026-12-04T10:02:00Z",
                "updated_at": "2026-12-04T10:02:00Z",
            }
        },
    ),
    "customers_list": Operation("List this shop's customers"),
    "customers_retrieve": Operation(
        "Read a customer's profile",
        responses={200: PROFILE, 404: {"detail": "No such customer in this shop.", "errors": {}}},
        parameters=CUSTOMER_ID,
    ),
    "events_create": Operation(
        "Record a customer event",
        request={
            "type": "cart_abandoned",
            "customer": ANN,
            "occurred_at": "2026-12-02T18:20:00Z",
            "payload": {"cart_value": "34.90", "items": [{"sku": "TEA-2", "quantity": 1}]},
            "external_id": "evt-5001",
        },
        responses={
            201: {
                "id": 1,
                "type": "cart_abandoned",
                "customer_id": 1,
                "occurred_at": "2026-12-02T18:20:00Z",
                "external_id": "evt-5001",
            }
        },
    ),
    "products_upsert": Operation(
        "Add or change products of the catalogue",
        request={
            "products": [
                {
                    "sku": "TEA-1",
                    "name": "Green tea 100 g",
                    "category": "Tea",
                    "price": "29.95",
                    "currency": "USD",
                    "url": "https://shop.example.com/products/tea-1",
                    "in_stock": True,
                    "replenish_days": 30,
                },
                {"sku": "MUG-1", "name": "Stoneware mug", "category": "Kitchen", "price": "12.50", "currency": "USD"},
            ]
        },
        responses={200: {"created": [], "updated": ["MUG-1", "TEA-1"]}},
    ),
    "products_reviews": Operation("List a product's published reviews", parameters={"sku": "TEA-1"}),
    "subscriptions_create": Operation(
        "Subscribe or unsubscribe an address",
        request={
            "email": "ann@example.com",
            "consent": True,
            "source": "footer_form",
            "shown_text": "Our news, twice a month",
        },
        responses={200: {"status": "subscribed"}},
    ),
    # Privacy
    "customers_export": Operation("Export this shop's data of a customer", parameters=CUSTOMER_ID),
    "customers_erasure_request": Operation("Ask for a customer's personal data to be erased", parameters=CUSTOMER_ID),
    # Segments and recommendations
    "customers_segments": Operation("The segments a customer is in", parameters=CUSTOMER_ID),
    "segments_list": Operation("List the segments"),
    "segments_members": Operation("List a segment's members", parameters=CUSTOMER_ID),
    "segments_preview": Operation(
        "Count and sample the customers a rule matches",
        request={
            "rule": {
                "match": "all",
                "children": [
                    {"field": "country", "operator": "eq", "value": "DE"},
                    {"field": "spent", "operator": "gte", "value": 50, "within_days": 90},
                ],
            }
        },
    ),
    "customers_recommendations": Operation("Products to offer a customer", parameters=CUSTOMER_ID),
    # Support
    "tickets_create": Operation(
        "Open a ticket (a contact form)",
        request={
            "customer": ANN,
            "subject": "Where is my parcel?",
            "message": "<p>Ordered a week ago, and no tracking number yet.</p>",
            "channel": "web_form",
            "priority": "normal",
            "order_external_id": "1001",
            "external_id": "form-7",
        },
        responses={
            201: {
                "id": 1,
                "external_id": "form-7",
                "subject": "Where is my parcel?",
                "status": "new",
                "priority": "normal",
                "channel": "web_form",
                "order_external_id": "1001",
                "created_at": "2026-12-04T10:05:00Z",
                "first_responded_at": None,
                "solved_at": None,
                "messages": [
                    {
                        "id": 1,
                        "ticket_id": 1,
                        "external_id": "",
                        "author_kind": "customer",
                        "body": "<p>Ordered a week ago, and no tracking number yet.</p>",
                        "created_at": "2026-12-04T10:05:00Z",
                    }
                ],
            }
        },
    ),
    "tickets_messages_list": Operation("List a ticket's public messages", parameters={"id": 1}),
    "tickets_messages_create": Operation(
        "Add the customer's follow-up to a ticket",
        request={"message": "It still has not arrived.", "external_id": "form-7-2"},
        responses={
            201: {
                "id": 2,
                "ticket_id": 1,
                "external_id": "form-7-2",
                "author_kind": "customer",
                "body": "It still has not arrived.",
                "created_at": "2026-12-04T10:06:00Z",
                "ticket_status": "new",
            }
        },
        parameters={"id": 1},
    ),
    "customers_tickets": Operation("List a customer's tickets", parameters=CUSTOMER_ID),
    "reviews_create": Operation(
        "Post a customer's product review",
        request={
            "customer": ANN,
            "sku": "TEA-1",
            "rating": 5,
            "title": "Lovely tea",
            "body": "Fresh, fragrant, and well packed.",
            "external_id": "rev-88",
        },
    ),
    "nps_create": Operation(
        "Record an NPS answer",
        request={"customer": ANN, "score": 9, "comment": "Quick delivery.", "external_id": "nps-2026-12-ann"},
    ),
    # Loyalty
    "customers_loyalty": Operation("A customer's points, tier and history", parameters=CUSTOMER_ID),
    "customers_loyalty_adjust": Operation(
        "Add or take points by hand (Manager keys)",
        request={"points": 500, "reason": "Goodwill for a late delivery"},
        responses={200: {"customer_id": 1, "balance": 500, "pending": 0}},
        parameters=CUSTOMER_ID,
    ),
    "customers_loyalty_redeem": Operation(
        "Spend points on a reward",
        request={"reward_id": 1},
        responses={201: CODE},
        parameters=CUSTOMER_ID,
    ),
    "customers_loyalty_referral": Operation(
        "Record the referral code a new customer came with",
        request={"referral_code": "AB3D5FGH"},
        parameters={"id": 2},
    ),
    "loyalty_rewards": Operation("List the rewards on offer"),
    "loyalty_codes_retrieve": Operation("Check a reward code at checkout", parameters={"code": "RW-7K2M-9Q4X-B3DT"}),
    "loyalty_codes_consume": Operation(
        "Use a reward code",
        request={"order_external_id": "1002"},
        responses={
            200: {**CODE, "status": "consumed", "consumed_at": "2026-12-04T10:12:00Z", "order_external_id": "1002"}
        },
        parameters={"code": "RW-7K2M-9Q4X-B3DT"},
    ),
}


def add_examples(result, generator, request, public):
    """drf-spectacular post-processing hook: each operation's summary and examples."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            doc = OPERATIONS.get(operation.get("operationId"))
            if doc is None:
                continue  # tests/test_api_examples.py fails on an operation with no summary
            operation["summary"] = doc.summary
            if doc.request is not None:
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    media["example"] = doc.request
            for status, example in doc.responses.items():
                for media in operation.get("responses", {}).get(str(status), {}).get("content", {}).values():
                    media["example"] = example
            for parameter in operation.get("parameters", []):
                if parameter.get("name") in doc.parameters:
                    parameter["example"] = doc.parameters[parameter["name"]]
    return result
