"""Product reviews: submitted by customers, moderated, answered by staff. One review per
customer and product: a second one updates the first.

A 4–5 star review is a promoter fact for the lifecycle, 1–2 stars a detractor one and opens
a follow-up ticket. Reviews as they are published are announced through
``support.extensions`` (loyalty's review bonus).
"""

import html
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.create_once import create_once
from core.errors import DomainError
from customers.models import Customer, Order, OrderLine, Product, Shop
from customers.services.signals import DETRACTOR, PROMOTER, signal_record, signals_withdraw
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
    """Store a customer's review of one of the shop's products: ``(review, True)`` when it is
    new, ``(review, False)`` when it updated the one they wrote before, or was a replay.

    One review per customer and product (a database constraint): a second one replaces the
    rating and text of the first (``review_update``). A new review is verified when the
    customer bought the product there, published at once if moderation allows
    (``ReviewModeration``), and a negative one (1–2 stars) opens a follow-up ticket. An
    ``external_id`` already used in the shop returns that review unchanged (a replay)."""
    now = now or timezone.now()
    product = Product.objects.filter(shop=shop, sku=data.sku).first()
    if product is None:
        raise DomainError("No such product in this shop.", field="sku")
    earlier = Review.objects.select_for_update().filter(customer=customer, product=product)
    if (review := earlier.first()) is not None:
        return review_update(review=review, data=data, now=now), False
    replays = Review.objects.filter(shop=shop, external_id=data.external_id) if data.external_id else None

    def create() -> Review:
        verified = _bought(customer, product)
        review = Review.objects.create(
            shop=shop,
            customer=customer,
            product=product,
            external_id=data.external_id,
            rating=data.rating,
            title=plain_text(data.title),
            body=plain_text(data.body),
            verified_buyer=verified,
            status=_moderated(data.rating, verified),
            created_at=now,
        )
        _signal_from_rating(review, now)
        if review.status == Review.Status.PUBLISHED:
            reviews_published([review])
        if review.rating <= 2:
            _follow_up(review, now)
        return review

    try:
        return create_once(replays, create)
    except IntegrityError:
        # A concurrent first review of this product by the same customer won the constraint.
        if (review := earlier.first()) is None:
            raise
        return review_update(review=review, data=data, now=now), False


def review_update(*, review: Review, data: ReviewData, now: datetime | None = None) -> Review:
    """The customer's new rating and text for a product they reviewed before. A changed
    review is verified and moderated again, as a new one is; its lifecycle signal follows
    the new rating, and a drop to 1–2 stars opens a follow-up ticket. The same rating and
    text again (a replay) change nothing."""
    now = now or timezone.now()
    title, body = plain_text(data.title), plain_text(data.body)
    if (review.rating, review.title, review.body) == (data.rating, title, body):
        return review
    was_rating, was_published = review.rating, review.status == Review.Status.PUBLISHED
    review.rating, review.title, review.body = data.rating, title, body
    review.verified_buyer = _bought(review.customer, review.product)
    review.status = _moderated(review.rating, review.verified_buyer)
    review.save(update_fields=["rating", "title", "body", "verified_buyer", "status"])
    if review.rating != was_rating:
        signals_withdraw(source="review", source_id=str(review.pk))
        _signal_from_rating(review, now)
    if review.status == Review.Status.PUBLISHED and not was_published:
        reviews_published([review])  # the loyalty bonus is paid once per review, however often
    if review.rating <= 2 < was_rating:
        _follow_up(review, now)
    return review


def _moderated(rating: int, verified: bool) -> str:
    """Published at once if moderation allows it, else pending (``ReviewModeration``)."""
    moderation = ReviewModeration.current()
    publish = (
        moderation.auto_publish_min_rating is not None
        and rating >= moderation.auto_publish_min_rating
        and (verified or not moderation.verified_buyers_only)
    )
    return Review.Status.PUBLISHED if publish else Review.Status.PENDING


def _follow_up(review: Review, now: datetime) -> None:
    follow_up_open(
        customer=review.customer,
        shop=review.shop,
        subject=f"Follow up: {review.rating}★ review of {review.product.name}",
        body=f"<p><b>{html.escape(review.title)}</b></p><p>{html.escape(review.body)}</p>",
        channel=Ticket.Channel.API,
        review=review,
        now=now,
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
