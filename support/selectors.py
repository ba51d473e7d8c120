"""Reads about tickets and reviews for the API and the admin."""

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from customers.models import Customer, CustomerIdentity, Shop
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


def reviews_with_author(reviews: QuerySet[Review]) -> QuerySet[Review]:
    """``reviews`` with ``author_first_name`` and ``author_last_name``: the name the reviewed
    shop's group has for the customer (its identities' latest non-empty one), never another
    group's (docs/architecture.md, "Per-shop profiles")."""
    sent = CustomerIdentity.objects.filter(
        customer=OuterRef("customer_id"), shop__group_id=OuterRef("shop__group_id")
    ).order_by("-updated_at", "-pk")
    return reviews.annotate(
        author_first_name=Subquery(sent.exclude(first_name="").values("first_name")[:1]),
        author_last_name=Subquery(sent.exclude(last_name="").values("last_name")[:1]),
    )


def product_reviews(*, shop: Shop, sku: str) -> QuerySet[Review]:
    """The product's published reviews, newest first."""
    reviews = Review.objects.filter(shop=shop, product__sku=sku, status=Review.Status.PUBLISHED)
    return reviews_with_author(reviews.select_related("product"))
