"""What customers tell us outside a ticket thread: CSAT on a solved ticket, NPS answers,
and reviews written through the link sent after fulfilment.

Each answer is also a promoter or detractor fact for the lifecycle stage, recorded through
``customers.services.signals`` (the customers app imports nothing from here).
"""

from dataclasses import dataclass
from datetime import datetime
from html import escape

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.create_once import create_once
from core.errors import DomainError
from customers.models import Customer, Order, Product, Shop
from customers.services.signals import DETRACTOR, PROMOTER, signal_record
from support.models import CsatResponse, NpsResponse, Review, Ticket
from support.reviews import ReviewData, review_submit
from support.text import MAX_BODY, plain_text
from support.tickets import follow_up_open


def _check_comment(comment: str) -> str:
    """A comment as stored: plain text (``support.text.plain_text``), within MAX_BODY."""
    if len(comment) > MAX_BODY:
        raise DomainError(f"Ensure this field has no more than {MAX_BODY} characters.", field="comment")
    return plain_text(comment)


def _check_rating(rating) -> int:
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise DomainError("Choose a rating from 1 to 5.", field="rating")
    return rating


def csat_submit(*, ticket: Ticket, rating: int, comment: str = "", now: datetime | None = None) -> CsatResponse:
    """The customer's rating of a solved ticket, once. 1–2 opens a follow-up ticket and
    records a detractor signal."""
    now = now or timezone.now()
    rating, comment = _check_rating(rating), _check_comment(comment)
    if ticket.status not in (Ticket.Status.SOLVED, Ticket.Status.CLOSED):
        raise DomainError("This ticket is not solved yet.", field="ticket")
    with transaction.atomic():
        try:
            with transaction.atomic():  # only a second answer for the ticket fails here
                response = CsatResponse.objects.create(
                    ticket=ticket,
                    customer_id=ticket.customer_id,
                    agent_id=ticket.assignee_id,
                    team_id=ticket.team_id,
                    rating=rating,
                    comment=comment,
                    created_at=now,
                )
        except IntegrityError:
            raise DomainError("This ticket has been rated already. Thank you!", field="rating") from None
        if rating <= 2:
            follow_up_open(
                customer=ticket.customer,
                shop=ticket.shop,
                subject=f"Follow up: CSAT {rating}/5 on ticket #{ticket.pk}",
                body=f"<p>The customer rated ticket #{ticket.pk} ({escape(ticket.subject)}) {rating}/5.</p>"
                + (f"<blockquote>{escape(comment)}</blockquote>" if comment else ""),
                channel=Ticket.Channel.WEB_FORM,
                csat=response,
                now=now,
            )
            signal_record(
                customer_id=ticket.customer_id,
                kind=DETRACTOR,
                source="csat",
                source_id=str(response.pk),
                occurred_at=now,
                detail=f"CSAT {rating}/5 on ticket #{ticket.pk}",
            )
    return response


@dataclass(frozen=True)
class NpsData:
    score: int
    comment: str = ""
    external_id: str = ""


def nps_record(*, customer: Customer, shop: Shop | None, data: NpsData, now: datetime | None = None):
    """Store an NPS answer (a replayed ``external_id`` returns the first, False): 9–10 is a
    promoter signal, 0–6 a detractor one."""
    now = now or timezone.now()
    if not 0 <= data.score <= 10:
        raise DomainError("Ensure this value is between 0 and 10.", field="score")
    comment = _check_comment(data.comment)

    def create() -> NpsResponse:
        answer = NpsResponse.objects.create(
            customer=customer,
            shop=shop,
            external_id=data.external_id,
            score=data.score,
            comment=comment,
            created_at=now,
        )
        kind = {"promoter": PROMOTER, "detractor": DETRACTOR}.get(answer.category)
        if kind:
            signal_record(
                customer_id=customer.pk,
                kind=kind,
                source="nps",
                source_id=str(answer.pk),
                occurred_at=now,
                detail=f"NPS {answer.score}",
            )
        return answer

    replays = NpsResponse.objects.filter(shop=shop, external_id=data.external_id) if data.external_id else None
    return create_once(replays, create)


def order_reviewable(order: Order) -> None:
    if order.status != Order.Status.FULFILLED:
        raise DomainError("Reviews are asked for once the order is fulfilled.", field="status")


def review_link_products(order: Order) -> QuerySet[Product]:
    """The shop's products on the order, in name order: what the review page offers."""
    skus = order.lines.values("sku")
    return Product.objects.filter(shop_id=order.shop_id, sku__in=skus).order_by("name", "sku")


def review_link_external_id(order: Order, sku: str) -> str:
    return f"link:{order.external_id}:{sku}"[:255]


def review_via_link(*, order: Order, sku: str, rating: int, title: str = "", body: str = "", now=None):
    """A review written through the order's signed link, of a product of the order the
    customer has not reviewed yet (the page offers no other): a second post, from a page
    open twice, returns the review they wrote (False) and changes nothing."""
    order_reviewable(order)
    product = review_link_products(order).filter(sku=sku).first()
    if product is None:
        raise DomainError("This product is not on the order.", field="sku")
    _check_rating(rating)
    if (written := Review.objects.filter(customer_id=order.customer_id, product=product).first()) is not None:
        return written, False
    data = ReviewData(
        sku=sku,
        rating=rating,
        title=title.strip()[:200],
        body=_check_comment(body),
        external_id=review_link_external_id(order, sku),
    )
    return review_submit(shop=order.shop, customer=order.customer, data=data, now=now)


def reviews_of_order(order: Order) -> dict[str, Review]:
    """The customer's reviews of the order's products, by sku, however they were written
    (this link, another order's, the shop's API): the page offers no product twice."""
    products = review_link_products(order).order_by()
    reviews = Review.objects.filter(customer_id=order.customer_id, product__in=products).select_related("product")
    return {r.product.sku: r for r in reviews}
