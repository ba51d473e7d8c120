"""Reads about tickets and reviews for the API and the admin."""

from django.db.models import Prefetch, QuerySet

from customers.models import Customer, Shop
from support.models import Review, Ticket, TicketMessage


def customer_tickets(*, customer: Customer, shop: Shop) -> QuerySet[Ticket]:
    """The customer's tickets with this shop, newest first, with their public messages only
    (three queries in all)."""
    public = TicketMessage.objects.filter(public=True).order_by("created_at", "id")
    return (
        Ticket.objects.filter(customer=customer, shop=shop)
        .select_related("order")
        .prefetch_related(Prefetch("messages", queryset=public, to_attr="public_messages"))
    )


def product_reviews(*, shop: Shop, sku: str) -> QuerySet[Review]:
    """The product's published reviews, newest first."""
    return Review.objects.filter(shop=shop, product__sku=sku, status=Review.Status.PUBLISHED).select_related(
        "product", "customer"
    )
