"""Reads about tickets and reviews for the API and the admin."""

from dataclasses import dataclass

from django.db.models import CharField, F, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat

from customers.models import Customer, CustomerIdentity, CustomerMetrics, Order, Shop
from customers.services.currency import base_currency
from messaging.models import Message, MessageStatus
from support.extensions import customer_facts
from support.models import Review, Ticket, TicketMessage

RECENT_ORDERS = 5
OTHER_OPEN_TICKETS = 10


def customer_tickets(*, customer: Customer, shop: Shop) -> QuerySet[Ticket]:
    """The customer's tickets with this shop, newest first, with their public messages only
    (three queries in all)."""
    public = TicketMessage.objects.filter(public=True).order_by("created_at", "id")
    return (
        Ticket.objects.filter(customer=customer, shop=shop)
        .select_related("order")
        .prefetch_related(Prefetch("messages", queryset=public, to_attr="public_messages"))
    )


def shop_ticket(*, shop: Shop, ticket_id: int) -> Ticket | None:
    """One of the shop's tickets, or None: another shop's ticket is not there for it."""
    return Ticket.objects.filter(pk=ticket_id, shop=shop).first()


# More merges than any desk makes one after another; a bound, not a rule.
MAX_MERGES = 20


def ticket_merge_chain(ticket: Ticket) -> list[Ticket]:
    """The ticket, then the ticket it was merged into, and so on: a merge moves the thread, so
    the last one holds it now. No query unless the ticket was merged."""
    chain = [ticket]
    while chain[-1].merged_into_id is not None and len(chain) <= MAX_MERGES:
        target = Ticket.objects.filter(pk=chain[-1].merged_into_id).first()
        if target is None or any(t.pk == target.pk for t in chain):
            break
        chain.append(target)
    return chain


def ticket_current(ticket: Ticket) -> Ticket:
    """The ticket of ``ticket``'s shop that holds its thread now: itself, unless the desk
    merged it into another of the shop's tickets (never one of another shop)."""
    current = ticket
    for target in ticket_merge_chain(ticket)[1:]:
        if target.shop_id != ticket.shop_id:
            break
        current = target
    return current


def ticket_public_messages(ticket: Ticket) -> QuerySet[TicketMessage]:
    """The ticket's public messages (a shop never sees internal notes); the caller orders them
    (the API's cursor pages: newest first)."""
    return TicketMessage.objects.filter(ticket=ticket, public=True)


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


# What became of the email of an agent's public reply, as the ticket page says it: (label,
# whether the agent should look: the reply did not reach the customer).
EMAIL_NOTES = {
    MessageStatus.QUEUED: ("email queued", False),
    MessageStatus.SENDING: ("email queued", False),
    MessageStatus.SENT: ("emailed", False),
    MessageStatus.DELIVERED: ("email delivered", False),
    MessageStatus.OPENED: ("email opened", False),
    MessageStatus.CLICKED: ("email opened", False),
    MessageStatus.SUPPRESSED: ("not emailed: the address is suppressed", True),
    MessageStatus.FAILED: ("email failed", True),
    MessageStatus.BOUNCED: ("email bounced", True),
    MessageStatus.COMPLAINED: ("marked as spam", True),
}


def ticket_conversation(ticket: Ticket, *, internal_notes: bool) -> list[TicketMessage]:
    """The ticket's thread in time order, with each author (one query) and the files emailed
    with each message (one more); internal notes only for staff who may read them.

    An agent's public reply carries ``email_note`` (label, warn): what became of its email
    (``support.mail``, key "ticket-reply:<id>"), read in the same query, so an agent sees
    when a reply was not emailed (a suppressed or bounced address, a failure). A customer
    message that came by email from another address than the customer's (a colleague in Cc)
    carries ``other_sender``, that address, so the page does not show it as the customer's;
    read in the same query too."""
    email = Message.objects.filter(key=Concat(Value("ticket-reply:"), Cast(OuterRef("pk"), CharField())))
    messages = (
        TicketMessage.objects.filter(ticket=ticket)
        .select_related("author")
        .prefetch_related("attachments")
        .annotate(
            email_status=Subquery(email.values("status")[:1]),
            email_error=Subquery(email.values("last_error")[:1]),
            inbound_from=F("inbound_email__from_email"),
            customer_email=F("ticket__customer__email"),
        )
        .order_by("created_at", "id")
    )
    thread = list(messages if internal_notes else messages.filter(public=True))
    for message in thread:
        message.email_note = EMAIL_NOTES.get(message.email_status)  # type: ignore[attr-defined]
        sender, customer = message.inbound_from or "", (message.customer_email or "").strip().lower()  # type: ignore[attr-defined]
        message.other_sender = sender if sender and sender != customer else ""  # type: ignore[attr-defined]
    return thread


@dataclass(frozen=True)
class CustomerContext:
    """What an agent needs to know about the customer beside a ticket."""

    customer: Customer
    metrics: CustomerMetrics | None
    currency: str  # of the customer's figures (historical and predicted CLV): the base currency
    recent_orders: list[Order]
    other_open_tickets: list[Ticket]
    facts: list[tuple[str, str]]  # lent by other apps (the loyalty tier and points)


def ticket_customer_context(ticket: Ticket) -> CustomerContext:
    """The ticket's customer with their stage and CLV, last orders, other open tickets and
    what other apps add: four queries, plus one per facts source, whatever the history."""
    customer = Customer.objects.select_related("metrics").get(pk=ticket.customer_id)
    orders = (
        Order.objects.filter(customer_id=customer.pk)
        .select_related("shop")
        .order_by("-placed_at", "-id")[:RECENT_ORDERS]
    )
    others = (
        Ticket.objects.filter(customer_id=customer.pk, status__in=Ticket.OPEN_STATUSES)
        .exclude(pk=ticket.pk)
        .order_by(F("resolution_due_at").asc(nulls_last=True), "-id")[:OTHER_OPEN_TICKETS]
    )
    return CustomerContext(
        customer=customer,
        metrics=getattr(customer, "metrics", None),
        currency=base_currency(),
        recent_orders=list(orders),
        other_open_tickets=list(others),
        facts=customer_facts(customer.pk),
    )
