"""Reads of the email channel: senders' branding, a customer's messages, previews."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import Customer, Order
from messaging.models import Message, MessageKind, SenderIdentity
from messaging.rendering import TEMPLATES, Brand, Rendered, default_brand, render


def brands_for(shop_ids: set[int]) -> dict[int | None, Brand]:
    """Each shop's branding (its sender identity, else the CRM's), and the CRM's under None.
    One query."""
    fallback = default_brand()
    brands: dict[int | None, Brand] = {None: fallback}
    for identity in SenderIdentity.objects.filter(shop_id__in=sorted(shop_ids)):
        brands[identity.shop_id] = Brand(
            from_name=identity.from_name,
            from_email=identity.from_email,
            reply_to=identity.reply_to,
            logo_url=identity.logo_url,
            colour=identity.brand_colour,
            footer_address=identity.footer_address or fallback.footer_address,
        )
    return brands


def brand_for(shop_id: int | None) -> Brand:
    brands = brands_for({shop_id} if shop_id is not None else set())
    return brands.get(shop_id, brands[None])


def customer_messages(customer_id: int) -> QuerySet[Message]:
    """A customer's messages, newest first (by the customer and time index)."""
    return Message.objects.filter(customer_id=customer_id).order_by("-created_at", "-id")


def customer_find(term: str) -> Customer | None:
    """The customer a person means by an email address or a CRM id."""
    term = term.strip()
    if term.isdigit():
        return Customer.objects.filter(pk=int(term)).first()
    return Customer.objects.filter(email_normalized=term.lower()).first() if term else None


def latest_order(customer_id: int) -> Order | None:
    return Order.objects.filter(customer_id=customer_id).order_by("-placed_at").first()


def preview(*, template: str, shop_id: int | None, context: dict) -> tuple[Brand, Rendered]:
    """What a message would look like from this shop with this context. A marketing
    template shows its footer's unsubscribe link, going nowhere: there is no message to sign."""
    brand = brand_for(shop_id)
    info = TEMPLATES.get(template)
    link = "#unsubscribe" if info is not None and info.kind == MessageKind.MARKETING else ""
    return brand, render(template, context, brand, unsubscribe_url=link)
