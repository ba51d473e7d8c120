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


# Response fields: by name where a name means the same wherever it is, by component where not.
RESPONSE_FIELDS_BY_NAME: dict[str, str] = {
    "id": "The CRM's id for it.",
    "external_id": "The shop's id for it, as sent; empty if none was.",
    "created_at": "When the CRM stored it (UTC).",
    "updated_at": "When the CRM last changed it (UTC).",
    "next": "The next page's URL (cursor pagination); null on the last page.",
    "previous": "The previous page's URL; null on the first page.",
    "results": "This page's items.",
    "detail": "What went wrong, in one sentence.",
    "errors": "Each field's problems, under its path (customer.email, lines[2].quantity).",
    "first_name": "First name.",
    "last_name": "Last name.",
    "email": "Email address.",
    "phone": "Phone number, as the shop's group sent it.",
    "country": "ISO 3166-1 alpha-2 country code, as the shop's group sent it; empty if none.",
    "birthday": "Date of birth; null if none was sent.",
    "source": "Where it came from, in the sender's words.",
    "utm_source": "utm_source of the visit it came with.",
    "utm_medium": "utm_medium of that visit.",
    "utm_campaign": "utm_campaign of that visit.",
    "marketing_consent_at": "When marketing consent was last given or withdrawn; null if never.",
    "first_seen_at": "When the shop's group first knew the customer.",
    "first_order_at": "The group's first order's time; null before one.",
    "last_order_at": "The group's latest order's time; null before one.",
    "aggregates_updated_at": "When the customer's figures were last recomputed; null before the first time.",
    "loyalty": "Points and tier in the key's shop group.",
    "placed_at": "When the order was placed (UTC).",
    "currency": "ISO 4217 currency code.",
    "subtotal": "The lines' sum, as a decimal string.",
    "discount_total": "Discounts, as a decimal string.",
    "shipping_total": "Shipping, as a decimal string.",
    "tax_total": "Taxes, as a decimal string.",
    "total": "What the customer paid, as a decimal string, in currency.",
    "total_base": "The total in the CRM's base currency.",
    "exchange_rate": "The rate the total was converted to the base currency at.",
    "discount_code": "The discount code used, if any.",
    "lines": "The order's lines.",
    "sku": "The product's sku in the shop.",
    "quantity": "How many.",
    "unit_price": "The price of one, as a decimal string.",
    "product_id": "The CRM's id of the product in the shop's catalogue; null if the line named none.",
    "category": "The product's category.",
    "price": "The product's price, as a decimal string; null if the shop sent none.",
    "order_id": "The CRM's id of the order.",
    "order_status": "The order's status after the refund (refunded once refunds reach its total).",
    "amount": "The refund, as a decimal string in the order's currency.",
    "amount_base": "The refund in the CRM's base currency.",
    "refunded_at": "When the refund was made (UTC).",
    "occurred_at": "When the event happened (UTC).",
    "type": "The event's type.",
    "ticket_id": "The ticket's id (as POST /tickets returned it).",
    "ticket_status": "The ticket's status after this message.",
    "author_kind": "Who wrote it: customer, agent or system.",
    "subject": "The ticket's subject, as plain text.",
    "priority": "low, normal, high or urgent.",
    "channel": "Where the customer wrote.",
    "order_external_id": "The shop's id of the order it is about; empty if none.",
    "first_responded_at": "When an agent first answered; null until then.",
    "solved_at": "When the ticket was solved; null while it is not.",
    "messages": "The ticket's public messages, oldest first.",
    "rating": "Stars, 1 to 5.",
    "title": "The review's title, as plain text.",
    "verified_buyer": "true when the customer bought the product from the shop.",
    "response": "The shop staff's public response, as plain text; empty if none.",
    "responded_at": "When staff responded; null if they have not.",
    "score": "0 to 10.",
    "comment": "What the customer wrote, as plain text.",
    "balance": "Points available to spend.",
    "pending": "Points waiting for their orders' return window.",
    "tier": "The tier's name; null below the first tier.",
    "tier_since": "When the customer reached the tier; null below the first.",
    "progress": "Progress toward the next tier.",
    "history": "The last 20 ledger entries, newest first.",
    "available": "Points this entry added to the balance (negative: took).",
    "matures_at": "When pending points become available; null if none are pending.",
    "code": "The single-use code, for this shop's checkout.",
    "points_spent": "Points the code cost.",
    "expires_at": "When it stops working (UTC).",
    "consumed_at": "When it was used; null while it is not.",
    "reward": "The reward the code gives.",
    "points_cost": "Points a code for it costs.",
    "valid_from": "From when it can be redeemed; null: from now.",
    "valid_until": "Until when it can be redeemed; null: no end.",
    "enter_threshold": "The figure that enters this tier.",
    "keep_threshold": "The figure that keeps it at the yearly review.",
    "benefits": "What the tier gives, in words.",
    "qualifying": "The customer's figure tiers qualify on.",
    "next_tier": "The next tier; null at the top.",
    "needed": "What is left to reach the next tier; null at the top.",
    "percent": "How far to the next tier, 0 to 100; null at the top.",
    "rewarded_at": "When both were rewarded; null until then.",
    "received_at": "When the request was received (UTC).",
    "due_at": "When it must be answered by: a month after it was received.",
    "entered_at": "When the customer entered the segment.",
    "rule": "The segment's rule (docs/api.md, Segment rules); null for a static segment.",
    "sentence": "The rule as a sentence.",
    "refreshed_at": "When the membership was last worked out; null before the first time.",
    "count": "How many of this shop's customers it matches.",
    "sample": "Up to 20 of them.",
    "products": "The products, best first.",
    "url": "The product's page; empty if the shop sent none.",
    "index": "The item's place in the request, from 0.",
    "created": "How many were created (bulk) or the skus created (products).",
    "updated": "How many were updated (bulk) or the skus changed (products).",
    "unchanged": "How many were the same as stored: nothing written.",
    "stage": "The lifecycle stage: prospect, new, active, advocate, at_risk, lapsed or reactivated.",
    "stage_since": "When the customer entered the stage.",
    "rfm_r": "Recency score, 1 (long ago) to 5 (recent); null before the first computation.",
    "rfm_f": "Frequency score, 1 to 5.",
    "rfm_m": "Monetary score, 1 to 5.",
    "rfm_segment": "The RFM segment (champions, loyal, at_risk, …); empty before the first computation.",
    "expected_purchases_30": "Purchases the model expects in the next 30 days; null without a fitted model.",
    "expected_purchases_90": "In the next 90 days.",
    "expected_purchases_365": "In the next 365 days.",
    "purchase_days": "Days on which the customer ordered.",
    "days_since_last": "Days since the last order.",
    "gap_median_days": "The median days between orders; null before a second one.",
    "computed_at": "When these figures were computed.",
}

RESPONSE_FIELDS: dict[str, dict[str, str]] = {
    "BulkItemResult": {
        "status": "created, updated, unchanged, or error (then errors says why and nothing was written).",
        "id": "The order's CRM id; null for an error.",
        "external_id": "The order's external_id as sent; null if it could not be read.",
        "errors": "This order's problems, by field path; empty when it was written.",
    },
    "OrderOut": {"status": "placed, paid, fulfilled, cancelled or refunded."},
    "OrderLineOut": {"name": "The product's name, as the line gave it."},
    "RefundOut": {"reason": "Why, in the shop's words."},
    "BulkResult": {"errors": "How many were refused.", "results": "One result per order, in the request's order."},
    "CodeOut": {"status": "issued, consumed or expired."},
    "CustomerSegment": {"id": "The segment's id.", "name": "The segment's name."},
    "EntryOut": {
        "kind": "What moved the points: earn, mature, cancel, redeem, expire, reverse, refund, adjust or transfer.",
        "pending": "Points this entry added to pending.",
        "source": "What it came from (an order, a code, an adjustment).",
        "reason": "Why, in words.",
    },
    "ErasureRequestOut": {"id": "The request's id.", "status": "open until staff answer it: done or refused."},
    "NpsOut": {"category": "promoter (9–10), passive (7–8) or detractor (0–6)."},
    "ReferralOut": {"status": "pending, review (held for staff), rewarded or rejected."},
    "ReviewOut": {
        "status": "published; pending while moderation holds it; rejected.",
        "body": "The review, as plain text.",
    },
    "RewardOut": {
        "name": "The reward's name.",
        "kind": "What it gives: fixed_amount, percentage, free_shipping or free_product.",
    },
    "SegmentMember": {"id": "The customer's id through this key."},
    "SegmentOut": {"name": "The segment's name.", "kind": "dynamic (a rule) or static (a list)."},
    "SubscriptionOut": {"status": "subscribed, unsubscribed, or confirmation_sent (double opt-in)."},
    "TicketExists": {"ticket_id": "The ticket opened with this external_id."},
    "TicketMessageOut": {"body": "The message, as sanitised HTML."},
    "FollowUpOut": {"body": "The message, as sanitised HTML.", "id": "The message's id."},
    "TicketOut": {"status": "new, open, pending (on the customer), on_hold, solved or closed."},
    "TierOut": {
        "name": "The tier's name.",
        "rank": "The tier's place, 1 for the first.",
        "multiplier": "Points earned in it are multiplied by this.",
    },
    "ProgressOut": {"basis": "What tiers qualify on: spend or points."},
    "Recommendation": {"name": "The product's name.", "price": "The product's price, as a decimal string."},
    "LinkOut": {"url": "The signed link where the customer reviews the order's products."},
}


def add_response_descriptions(result, generator, request, public):
    """drf-spectacular post-processing hook: describe the response fields the serializers
    leave bare (no help_text), by component, then by name."""
    schemas = result.get("components", {}).get("schemas", {})
    for component, node in schemas.items():
        if component in REQUEST_FIELDS:
            continue
        specific = RESPONSE_FIELDS.get(component, {})
        for name, prop in node.get("properties", {}).items():
            if not prop.get("description"):
                description = specific.get(name) or RESPONSE_FIELDS_BY_NAME.get(name)
                if description:
                    prop["description"] = description
    return result
