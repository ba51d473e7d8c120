"""Support writes: tickets and their threads with SLA clocks, and reviews.

The SLA clock: when a ticket opens, the policy for its priority (and the customer's value
band) sets the first-response and resolution due times in business time. While the ticket
is pending on the customer, the clock stops: the due times are cleared and the business
minutes still left are kept, to start again from the moment the ticket leaves pending.
"""

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import nh3
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import DomainError
from customers.metrics import clv
from customers.models import ClvModel, Customer, Order, OrderLine, Product, Shop
from customers.services.signals import DETRACTOR, PROMOTER, signal_record
from support import links
from support.macros import render
from support.models import Macro, Priority, Review, ReviewModeration, SlaPolicy, Team, Ticket, TicketMessage
from support.sla import Calendar, add_business_minutes, business_minutes_between

MAX_BODY = 50_000
Status = Ticket.Status


def sanitise(html: str) -> str:
    """Message HTML safe to show in the admin as is: no script, no event handlers, no
    ``javascript:`` links (nh3's allow-list of tags and attributes)."""
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")


# A "<" (or a run of them) that would open a tag, an end tag, a comment or a processing
# instruction in HTML; any other "<" is text to every browser ("I <3 it", "3 < 4").
_TAG_OPEN = re.compile(r"<+(?=[A-Za-z/!?])")


def plain_text(text: str) -> str:
    """Customer text with its markup removed: tags and comments go, and what scripts and
    styles held; entities are decoded (``&amp;`` is ``&``), and no ``<`` is left that could
    open a tag, so the text is harmless whether a page escapes it or not.

    Review titles and bodies, NPS and CSAT comments, ticket subjects and staff's review
    responses are stored this way (ticket messages are sanitised HTML: ``sanitise``)."""
    return _TAG_OPEN.sub("", html.unescape(nh3.clean(text, tags=set()))).strip()


def _calendar(policy: SlaPolicy | None) -> Calendar | None:
    hours = policy.business_hours if policy else None
    if hours is None:
        return None
    return Calendar.parse(time_zone=hours.time_zone, weekly=hours.weekly, holidays=hours.holidays)


# More ways to be high value, added by other apps through the crm layer (a loyalty tier with
# priority support), so support imports none of them.
HIGH_VALUE_CHECKS: list[Callable[[Customer], bool]] = []


def register_high_value(check: Callable[[Customer], bool]) -> None:
    if check not in HIGH_VALUE_CHECKS:
        HIGH_VALUE_CHECKS.append(check)


# Told of reviews as they are published (loyalty's review bonus, through the crm layer).
REVIEW_PUBLISHED_HANDLERS: list[Callable[[list[Review]], object]] = []


def register_review_published(handler: Callable[[list[Review]], object]) -> None:
    if handler not in REVIEW_PUBLISHED_HANDLERS:
        REVIEW_PUBLISHED_HANDLERS.append(handler)


def _published(reviews: list[Review]) -> None:
    if reviews:
        for handler in REVIEW_PUBLISHED_HANDLERS:
            handler(reviews)


def reviews_set_status(reviews, status: str) -> int:
    """Publish or reject reviews (the moderation queue); those newly published are announced
    to the registered handlers in the same transaction. Returns the reviews changed."""
    with transaction.atomic():
        changing = list(reviews.exclude(status=status).select_for_update())
        Review.objects.filter(pk__in=[r.pk for r in changing]).update(status=status)
        if status == Review.Status.PUBLISHED:
            _published(changing)
        return len(changing)


def customer_is_high_value(customer: Customer) -> bool:
    """In the top 10 % by predicted CLV (against the current model's stored percentiles), or
    high value by a registered check."""
    return _clv_top_decile(customer) or any(check(customer) for check in HIGH_VALUE_CHECKS)


def _clv_top_decile(customer: Customer) -> bool:
    model = ClvModel.current()
    predicted = getattr(getattr(customer, "metrics", None), "clv_predicted", None)
    if model is None or not model.clv_percentiles or predicted is None:
        return False
    return predicted >= clv.threshold_for_top(model.clv_percentiles, 10)


def sla_policy_for(*, priority: str, high_value: bool) -> SlaPolicy | None:
    """The active policy for the priority: the high-value one for a high-value customer if
    there is one, else the one for any customer."""
    policies = {p.value_band: p for p in SlaPolicy.objects.filter(priority=priority, is_active=True)}
    if high_value and SlaPolicy.ValueBand.HIGH in policies:
        return policies[SlaPolicy.ValueBand.HIGH]
    return policies.get(SlaPolicy.ValueBand.ANY)


def escalation_team_id() -> int | None:
    return Team.objects.filter(handles_escalations=True).order_by("pk").values_list("pk", flat=True).first()


def _escalate(ticket: Ticket, reason: str, now: datetime) -> None:
    """Flag the ticket and hand it to the escalation team, if there is one."""
    if ticket.escalated_at is None:
        ticket.escalated_at = now
        ticket.escalation_reason = reason
        ticket.team_id = escalation_team_id() or ticket.team_id


def _start_clock(ticket: Ticket, now: datetime) -> None:
    policy = ticket.sla_policy
    if policy is None:
        return
    calendar = _calendar(policy)
    if ticket.first_responded_at is None:
        ticket.first_response_due_at = add_business_minutes(now, policy.first_response_minutes, calendar)
    ticket.resolution_due_at = add_business_minutes(now, policy.resolution_minutes, calendar)


def _pause_clock(ticket: Ticket, now: datetime) -> None:
    calendar = _calendar(ticket.sla_policy)
    if ticket.first_response_due_at is not None:
        ticket.first_response_left_minutes = business_minutes_between(now, ticket.first_response_due_at, calendar)
    if ticket.resolution_due_at is not None:
        ticket.resolution_left_minutes = business_minutes_between(now, ticket.resolution_due_at, calendar)
    ticket.first_response_due_at = ticket.resolution_due_at = None


def _resume_clock(ticket: Ticket, now: datetime) -> None:
    calendar = _calendar(ticket.sla_policy)
    if ticket.first_response_left_minutes is not None and ticket.first_responded_at is None:
        ticket.first_response_due_at = add_business_minutes(now, ticket.first_response_left_minutes, calendar)
    if ticket.resolution_left_minutes is not None:
        ticket.resolution_due_at = add_business_minutes(now, ticket.resolution_left_minutes, calendar)
    ticket.first_response_left_minutes = ticket.resolution_left_minutes = None


def _stop_clock(ticket: Ticket) -> None:
    ticket.first_response_due_at = ticket.resolution_due_at = None
    ticket.first_response_left_minutes = ticket.resolution_left_minutes = None
    ticket.sla_state = Ticket.SlaState.OK


def _create_once(model, *, shop: Shop | None, external_id: str, create):
    """``(create(), True)`` in a savepoint, unless the shop's ``external_id`` names a row
    already: then ``(that row, False)``, also when a concurrent replay wins the unique key
    between the check and the insert."""
    if external_id:
        replay = model.objects.filter(shop=shop, external_id=external_id).first()
        if replay is not None:
            return replay, False
    try:
        with transaction.atomic():
            return create(), True
    except IntegrityError:
        replay = model.objects.filter(shop=shop, external_id=external_id).first() if external_id else None
        if replay is None:
            raise
        return replay, False


@dataclass(frozen=True)
class TicketData:
    subject: str
    body: str
    channel: str = Ticket.Channel.WEB_FORM
    priority: str = Priority.NORMAL
    order_external_id: str = ""
    external_id: str = ""


def ticket_open(
    *,
    customer: Customer,
    data: TicketData,
    shop: Shop | None = None,
    user=None,
    review: Review | None = None,
    csat=None,
    now: datetime | None = None,
) -> tuple[Ticket, bool]:
    """Open a ticket with its first message (from the customer, or from ``user``, an agent,
    as an outbound ticket; ``review`` or ``csat``: the answer it follows up). A high-value
    customer's ticket is escalated at once. A replayed shop ``external_id`` returns the
    ticket it opened (False); an ``order_external_id`` the shop does not have is a
    ``DomainError``."""
    now = now or timezone.now()
    subject = plain_text(data.subject)
    if not subject:
        raise DomainError("The subject has no text once its markup is removed.", field="subject")
    order = None
    if data.order_external_id:
        order = Order.objects.filter(shop=shop, external_id=data.order_external_id, customer=customer).first()
        if order is None:
            raise DomainError("No such order of this customer in this shop.", field="order_external_id")

    def create() -> Ticket:
        high_value = customer_is_high_value(customer)
        ticket = Ticket(
            shop=shop,
            customer=customer,
            order=order,
            review=review,
            csat=csat,
            external_id=data.external_id,
            channel=data.channel,
            subject=subject,
            priority=data.priority,
            created_at=now,
            sla_policy=sla_policy_for(priority=data.priority, high_value=high_value),
        )
        _start_clock(ticket, now)
        if high_value:
            _escalate(ticket, "high-value customer (top 10 % predicted CLV)", now)
        ticket.save()
        TicketMessage.objects.create(
            ticket=ticket,
            author_kind=TicketMessage.Author.AGENT if user else TicketMessage.Author.CUSTOMER,
            author=user,
            body=sanitise(data.body),
            created_at=now,
        )
        return ticket

    return _create_once(Ticket, shop=shop, external_id=data.external_id, create=create)


def ticket_reply(
    *, ticket: Ticket, body: str, user=None, public: bool = True, now: datetime | None = None
) -> TicketMessage:
    """Add a message: from ``user`` (an agent; ``public=False`` for an internal note) or,
    without one, from the customer. An agent's first public reply stops the first-response
    clock and opens a new ticket; a customer's reply reopens a pending or solved one."""
    now = now or timezone.now()
    if not user and not public:
        raise DomainError("Only staff write internal notes.", field="public")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        message = TicketMessage.objects.create(
            ticket=ticket,
            author_kind=TicketMessage.Author.AGENT if user else TicketMessage.Author.CUSTOMER,
            author=user,
            public=public,
            body=sanitise(body),
            created_at=now,
        )
        if user and public and ticket.first_responded_at is None:
            ticket.first_responded_at = now
            ticket.first_response_due_at = ticket.first_response_left_minutes = None
        if user and public and ticket.status == Status.NEW:
            ticket.status = Status.OPEN
        elif not user and ticket.status in (Status.PENDING, Status.SOLVED):
            _set_status(ticket, Status.OPEN, now)
        ticket.save()
    return message


def ticket_set_status(*, ticket: Ticket, status: str, now: datetime | None = None) -> Ticket:
    now = now or timezone.now()
    if status not in Status.values:
        raise DomainError(f"{status!r} is not a ticket status.", field="status")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        before = ticket.status
        _set_status(ticket, status, now)
        ticket.save()
        if status == Status.SOLVED and before != Status.SOLVED:
            _invite_csat(ticket, now)
    return ticket


def _invite_csat(ticket: Ticket, now: datetime) -> None:
    """The public message that asks the customer to rate the help (the shop's channel
    delivers it, like any public reply), unless they have rated this ticket already."""
    if hasattr(ticket, "csat_response"):
        return
    link = links.csat_link(ticket.pk)
    TicketMessage.objects.create(
        ticket=ticket,
        author_kind=TicketMessage.Author.SYSTEM,
        body=sanitise(f'<p>How did we do? <a href="{link.url}">Rate the help you got</a> (one click).</p>'),
        created_at=now,
    )


def ticket_merge(*, source: Ticket, target: Ticket, user=None, now: datetime | None = None) -> Ticket:
    """Merge ``source`` into ``target`` (the same customer's): every message moves to the
    target, keeping its time, so the thread reads in order; tags are joined; the source is
    closed with a link to the target and a note on each side."""
    now = now or timezone.now()
    if source.pk == target.pk:
        raise DomainError("A ticket cannot be merged into itself.", field="target")
    with transaction.atomic():
        locked = {
            t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("pk")
        }
        source, target = locked[source.pk], locked[target.pk]
        if source.customer_id != target.customer_id:
            raise DomainError("Only tickets of the same customer can be merged.", field="target")
        for ticket, field in ((source, "source"), (target, "target")):
            if ticket.status == Status.CLOSED:
                raise DomainError(f"Ticket #{ticket.pk} is closed and cannot be merged.", field=field)
        TicketMessage.objects.filter(ticket=source).update(ticket=target)
        target.tags.add(*source.tags.all())
        for ticket, text in (
            (target, f"Ticket #{source.pk} ({source.subject}) was merged into this one."),
            (source, f"Merged into ticket #{target.pk}."),
        ):
            TicketMessage.objects.create(
                ticket=ticket,
                author_kind=TicketMessage.Author.SYSTEM,
                author=user,
                public=False,
                body=sanitise(f"<p>{nh3.clean_text(text)}</p>"),
                created_at=now,
            )
        source.merged_into = target
        _set_status(source, Status.CLOSED, now)
        source.save()
        target.save()
    return target


def macro_apply(*, ticket: Ticket, macro: Macro, user, now: datetime | None = None) -> TicketMessage:
    """Add the macro's reply (or note), filled in for this ticket, then add its tags and
    set its status: all or nothing."""
    now = now or timezone.now()
    if not macro.is_active:
        raise DomainError("This macro is switched off.", field="macro")
    with transaction.atomic():
        body = render(macro.body, ticket, agent=user)
        message = ticket_reply(ticket=ticket, body=body, user=user, public=macro.public, now=now)
        tags = list(macro.add_tags.all())
        if tags:
            ticket.tags.add(*tags)
        if macro.set_status:
            ticket_set_status(ticket=ticket, status=macro.set_status, now=now)
    return message


def _set_status(ticket: Ticket, status: str, now: datetime) -> None:
    before = ticket.status
    if status == before:
        return
    if before == Status.CLOSED:
        raise DomainError("A closed ticket stays closed; open a new one.", field="status")
    if status == Status.PENDING:
        _pause_clock(ticket, now)
    elif status in (Status.SOLVED, Status.CLOSED):
        _stop_clock(ticket)
        ticket.solved_at = ticket.solved_at if before == Status.SOLVED else now
    elif before == Status.PENDING:
        _resume_clock(ticket, now)
    elif before == Status.SOLVED:  # reopened: the resolution clock starts again
        ticket.solved_at = None
        _start_clock(ticket, now)
    ticket.status = status


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
    return lines.exclude(order__status__in=[Order.Status.CANCELLED, Order.Status.REFUNDED]).exists()


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
            _published([review])
        if review.rating <= 2:
            follow_up = TicketData(
                subject=f"Follow up: {review.rating}★ review of {product.name}",
                body=f"<p><b>{html.escape(review.title)}</b></p><p>{html.escape(review.body)}</p>",
                channel=Ticket.Channel.API,
                priority=Priority.HIGH,
            )
            ticket_open(customer=customer, shop=shop, data=follow_up, review=review, now=now)
        return review

    return _create_once(Review, shop=shop, external_id=data.external_id, create=create)


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
