"""The request fields' descriptions in the OpenAPI schema, where the payload struct gives none.

A field's ``msgspec.Meta(description=...)`` in ``crm/api/*/payloads.py`` comes first; this
fills in the rest, by schema component and field, so that every field of every request body
says what it is (``tests/test_api_examples.py`` fails on one that does not).
"""

CUSTOMER_REF = (
    "The customer: found by this shop's external_id, then by email; created if new. Non-empty values update "
    "this shop's profile of them."
)
MONEY = 'A decimal string such as "59.90"'

REQUEST_FIELDS: dict[str, dict[str, str]] = {
    "CustomerIn": {
        "external_id": "The shop's id for the customer. An external_id or an email is required.",
        "email": "The customer's email: the key that finds one person across shops.",
        "first_name": "First name.",
        "last_name": "Last name.",
        "phone": "Phone number, as the shop has it.",
        "birthday": "Date of birth (YYYY-MM-DD), from 1900-01-01 to today; birthday points use it.",
        "marketing_consent": "Whether the customer agreed to marketing email at the shop; null or left out: not said.",
        "source": "Where the customer came from, in the shop's words (e.g. newsletter).",
        "utm_source": "utm_source of the visit that brought the customer.",
        "utm_medium": "utm_medium of that visit.",
        "utm_campaign": "utm_campaign of that visit.",
        "tags": "Labels for the customer (up to 50, each up to 64 characters): this shop's set replaces the last.",
    },
    "OrderIn": {
        "external_id": "The shop's order id: an order is created once per shop and external_id, and updated after.",
        "customer": CUSTOMER_REF,
        "status": "placed, paid, fulfilled, cancelled or refunded (cancelled and refunded orders count for nothing).",
        "subtotal": f"{MONEY}: the lines' sum, before or after the discount; left out: the lines' sum.",
        "discount_code": "The discount code used, if any.",
        "source": "The sales channel, in the shop's words (e.g. web, pos).",
        "utm_source": "utm_source of the visit that led to the order (attribution).",
        "utm_medium": "utm_medium of that visit.",
        "utm_campaign": "utm_campaign of that visit.",
        "shipping_address": "Where the order ships: only a fingerprint is kept, to spot a referral to oneself.",
        "lines": "The order's lines (up to 500); a changed order's lines replace the last ones.",
    },
    "LineIn": {
        "quantity": "How many, 1 to 1,000,000.",
        "sku": "The product's sku: links the line to the shop's catalogue (an unknown sku is added to it).",
        "name": "The product's name; a line needs a name or a sku.",
        "category": "The product's category.",
    },
    "AddressIn": {
        "line1": "Street and number.",
        "line2": "Second address line.",
        "city": "City.",
        "postal_code": "Postal code.",
    },
    "BulkOrdersDoc": {
        "orders": "1 to 1,000 orders, as POST /orders takes one; each is applied whole or refused on its own.",
    },
    "RefundIn": {
        "refunded_at": "When the refund was made; left out: now.",
        "reason": "Why, in the shop's words.",
        "external_id": "The shop's id for the refund: sending it again returns the first refund (200).",
    },
    "EventIn": {
        "customer": CUSTOMER_REF,
        "occurred_at": "When it happened; left out: now.",
        "payload": "Anything the event carries (free-form JSON: 32 levels, 1,000 keys an object); segment rules "
        "and flows can read it.",
        "external_id": "The shop's id for the event: sending it again returns the first event (200).",
    },
    "ProductsIn": {"products": "1 to 1,000 products, each sku once."},
    "ProductIn": {
        "sku": "The product's sku in the shop: a new sku adds a product, a known one changes it.",
        "name": "The product's name (a new product's is its sku until one is sent).",
        "category": "The product's category (recommendations use it).",
        "price": f"{MONEY}: the product's price, in currency.",
        "is_active": "false: no longer sold; recommendations leave it out.",
        "in_stock": "false: out of stock; recommendations leave it out.",
        "replenish_days": "For a consumable: due again this many days after a purchase (1 to 3,650); null: not one.",
    },
    "SubscriptionIn": {
        "email": "The address to subscribe or unsubscribe.",
        "source": "Where the person gave or withdrew consent: checkout, footer_form, import, admin or api.",
    },
    "SegmentPreviewIn": {
        "rule": "A segment rule: groups (match all or any, optionally negate) of conditions (field, operator, value, "
        "and within_days or within_hours for behaviour); see docs/api.md, Segment rules.",
    },
    "TicketIn": {
        "customer": CUSTOMER_REF,
        "subject": "The ticket's subject, as plain text.",
        "channel": "Where the customer wrote: email, chat, phone, social, web_form or api.",
        "priority": "low, normal, high or urgent: picks the SLA policy.",
        "order_external_id": "One of this customer's orders in the shop, if the ticket is about one.",
        "external_id": "The shop's id for the ticket (a form submission): the same one again is a replay (200).",
    },
    "ReviewIn": {
        "customer": CUSTOMER_REF,
        "sku": "One of the shop's products.",
        "rating": "Stars, 1 to 5 (1 or 2 opens a follow-up ticket).",
        "title": "The review's title, as plain text.",
        "body": "The review, as plain text.",
        "external_id": "The shop's id for the review: the same one again returns the first review (200).",
    },
    "NpsIn": {
        "customer": CUSTOMER_REF,
        "comment": "What the customer wrote with the score.",
        "external_id": "The shop's id for the answer: the same one again returns the first answer (200).",
    },
    "ConsumeIn": {"order_external_id": "The order the code was used on, if any."},
    "AdjustIn": {"reason": "Why, for the ledger (shown to staff and in the customer's history)."},
}


def add_field_descriptions(result, generator, request, public):
    """drf-spectacular post-processing hook: describe the request fields the structs leave bare.
    Runs after ``crm.api.schema.add_payload_components``, which adds the structs' schemas."""
    schemas = result.get("components", {}).get("schemas", {})
    for component, fields in REQUEST_FIELDS.items():
        properties = schemas.get(component, {}).get("properties", {})
        for name, description in fields.items():
            if name in properties and not properties[name].get("description"):
                properties[name]["description"] = description
    return result
