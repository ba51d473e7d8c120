"""Product reviews: submitted by customers, moderated, answered by staff.

A 4–5 star review is a promoter fact for the lifecycle, 1–2 stars a detractor one and opens
a follow-up ticket. Reviews as they are published are announced through
``support.extensions`` (loyalty's review bonus).
"""

import html
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.create_once import create_once
from core.errors import DomainError
from customers.models import Customer, Order, OrderLine, Product, Shop
from customers.services.signals import DETRACTOR, PROMOTER, signal_record
from support.extensions import reviews_published
from support.models import Review, ReviewModeration, Ticket
from support.text import MAX_BODY, plain_text
from support.tickets import follow_up_open


def reviews_set_status(reviews, status: str) -> int:
    """Publish or reject reviews (the moderation queue); those newly published are announced
    to the registered handlers in the same transaction. Returns the reviews changed."""
    with transaction.atomic():
        changing = list(reviews.exclude(status=status).select_for_update())
        Review.objects.filter(pk__in=[r.pk for r in changing]).update(status=status)
        if status == Review.Status.PUBLISHED:
            reviews_published(changing)
        return len(changing)


@dataclass(frozen=True)
class ReviewData:
    sku: str
    rating: int
    title: str = ""
    body: str = ""
    external_id: str = ""


def _bought(customer: Customer, product: Product) -> bool:
    """A "verified buyer": an order of the product from the same shop, not cancelled or refunded."""
    lines = OrderLine.objects.filter(order__customer=customer, order__shop=product.shop, sku=product.sku)
    return lines.exclude(order__status__in=Order.NOT_COUNTED).exists()


def review_submit(
    *, shop: Shop, customer: Customer, data: ReviewData, now: datetime | None = None
) -> tuple[Review, bool]:
    """Store a review of one of the shop's products. Verified when the customer bought it
    there; published at once if moderation allows (``ReviewModeration``). A negative one
    (1–2 stars) opens a follow-up ticket. A replayed ``external_id`` returns the first."""
    now = now or timezone.now()
    product = Product.objects.filter(shop=shop, sku=data.sku).first()
    if product is None:
        raise DomainError("No such product in this shop.", field="sku")

    def create() -> Review:
        verified = _bought(customer, product)
        moderation = ReviewModeration.current()
        publish = (
            moderation.auto_publish_min_rating is not None
            and data.rating >= moderation.auto_publish_min_rating
            and (verified or not moderation.verified_buyers_only)
        )
        review = Review.objects.create(
            shop=shop,
            customer=customer,
            product=product,
            external_id=data.external_id,
            rating=data.rating,
            title=plain_text(data.title),
            body=plain_text(data.body),
            verified_buyer=verified,
            status=Review.Status.PUBLISHED if publish else Review.Status.PENDING,
            created_at=now,
        )
        _signal_from_rating(review, now)
        if review.status == Review.Status.PUBLISHED:
            reviews_published([review])
        if review.rating <= 2:
            follow_up_open(
                customer=customer,
                shop=shop,
                subject=f"Follow up: {review.rating}★ review of {product.name}",
                body=f"<p><b>{html.escape(review.title)}</b></p><p>{html.escape(review.body)}</p>",
                channel=Ticket.Channel.API,
                review=review,
                now=now,
            )
        return review

    return create_once(
        Review.objects.filter(shop=shop, external_id=data.external_id) if data.external_id else None, create
    )


def _signal_from_rating(review: Review, now: datetime) -> None:
    """4–5 stars is a promoter fact for the lifecycle, 1–2 stars a detractor one."""
    kind = PROMOTER if review.rating >= 4 else DETRACTOR if review.rating <= 2 else None
    if kind:
        signal_record(
            customer_id=review.customer_id,
            kind=kind,
            source="review",
            source_id=str(review.pk),
            occurred_at=now,
            detail=f"{review.rating}★ review of {review.product}",
        )


def review_respond(*, review: Review, text: str, user, now: datetime | None = None) -> Review:
    """Staff's public answer under a review (plain text; blank removes it)."""
    text = plain_text(text)
    if len(text) > MAX_BODY:
        raise DomainError(f"Ensure this field has no more than {MAX_BODY} characters.", field="response")
    review.response = text
    review.responded_by = user if text else None
    review.responded_at = (now or timezone.now()) if text else None
    review.save(update_fields=["response", "responded_by", "responded_at"])
    return review
