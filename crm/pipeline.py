"""What happens after data arrives: the one place that fans out to the apps.

An order goes: customers (upsert, order rows, and a mark in the outbox of follow-up work,
all in one transaction) → after commit, a drain of the outbox (``crm.follow_up``): the
touched customers' figures and stage (customers), then their points (loyalty: new paid
orders earn, refunds give back), then their segment memberships (campaigns), so a
segment on points sees the new balance. A reader follows an order from the API to every
table by reading down.
"""

from collections.abc import Sequence

from django.db import transaction

from crm.after_response import after_response
from crm.follow_up import pending_updates_kick
from customers.models import ConsentSource, Customer, Event, Refund, Shop
from customers.services.customers import CustomerData, customer_upsert, customers_resolve, normalize_email
from customers.services.erased_emails import erased_among
from customers.services.events import EventData, event_record
from customers.services.orders import OrderData, OrderResult, orders_ingest
from customers.services.pending_updates import pending_updates_mark
from customers.services.refunds import RefundData, refund_create
from loyalty.bonuses import event_received
from messaging.consent import subscription_confirmation_queue, unsubscribe_lift
from messaging.models import SuppressionReason
from messaging.services import suppression_add
from support.feedback import NpsData, nps_record
from support.models import NpsResponse, Review, Ticket
from support.reviews import ReviewData, review_submit
from support.tickets import TicketData, ticket_open


def _follow_up_after_commit() -> None:
    """The services marked the customers in the data's transaction (the outbox): once it is
    committed and, in a request, the response sent, make sure a drain runs soon."""
    transaction.on_commit(lambda: after_response(pending_updates_kick))


def orders_receive(
    *,
    shop: Shop,
    orders: Sequence[OrderData],
    keep_lines: bool = False,
    consent_source: str = ConsentSource.CHECKOUT,
    consent_shown: str = "",
) -> list[OrderResult]:
    """``consent_source``: what a change of the customers' marketing consent is recorded as
    coming from (an order through the API: the checkout; the CSV import: the import)."""
    results = orders_ingest(
        shop=shop, orders=orders, keep_lines=keep_lines, consent_source=consent_source, consent_shown=consent_shown
    )
    if any(r.changed for r in results):
        _follow_up_after_commit()
    return results


def refund_receive(*, shop: Shop, order_external_id: str, data: RefundData) -> tuple[Refund, bool]:
    refund, created = refund_create(shop=shop, order_external_id=order_external_id, data=data)
    if created:
        _follow_up_after_commit()
    return refund, created


def customer_receive(*, shop: Shop, data: CustomerData) -> tuple[int, bool]:
    """A customer, whole or not at all: the profile, the shop's identity and the tags are
    several statements."""
    with transaction.atomic():
        customer_id, created = customer_upsert(shop=shop, data=data)
        if created:  # a prospect until their first order: their stage and segments from now
            pending_updates_mark([customer_id])
            _follow_up_after_commit()
        return customer_id, created


def subscription_receive(*, shop: Shop, email: str, consent: bool, source: str, shown_text: str) -> str:
    """A shop's newsletter form: subscribe or unsubscribe an address, whole or not at all.

    Unsubscribing, or subscribing to a shop without double opt-in, sets the shop's consent
    at once (a consent event when it changes) and adds or lifts the ``unsubscribed``
    suppression. With double opt-in, a subscription changes nothing yet: the person gets a
    confirmation email, and consent is given when they confirm from it. Returns
    "subscribed", "unsubscribed" or "confirmation_sent".

    An address erased at the person's request is subscribed only by the person: it gets the
    confirmation email whatever the shop's setting (docs/privacy.md)."""
    with transaction.atomic():
        erased = consent and bool(erased_among({normalize_email(email)} - {None}))
        pending = consent and (shop.double_opt_in or erased)
        data = CustomerData(email=email, marketing_consent=None if pending else consent)
        result = customers_resolve(shop=shop, items=[data], consent_source=source, consent_shown=shown_text)
        (customer_id,) = result.ids
        if result.created:
            pending_updates_mark([customer_id])
            _follow_up_after_commit()
        if pending:
            subscription_confirmation_queue(
                customer_id=customer_id, shop_id=shop.pk, source=source, shown_text=shown_text
            )
            return "confirmation_sent"
        if consent:
            unsubscribe_lift(address=email, shop_id=shop.pk)
            return "subscribed"
        suppression_add(address=email, reason=SuppressionReason.UNSUBSCRIBED, shop_id=shop.pk, detail="API")
        return "unsubscribed"


def _customer(shop: Shop, data: CustomerData) -> Customer:
    """The ticket's or review's customer, created if unknown, and marked for follow-up: a new
    one needs a stage, and a review or answer may make them a promoter or a detractor."""
    (customer_id,) = customers_resolve(shop=shop, items=[data]).ids
    pending_updates_mark([customer_id])
    _follow_up_after_commit()
    return Customer.objects.select_related("metrics").get(pk=customer_id)


def ticket_receive(*, shop: Shop, customer: CustomerData, data: TicketData) -> tuple[Ticket, bool]:
    """A shop's contact form: the customer (created if unknown), then the ticket, whole or
    not at all."""
    with transaction.atomic():
        return ticket_open(customer=_customer(shop, customer), shop=shop, data=data)


def review_receive(*, shop: Shop, customer: CustomerData, data: ReviewData) -> tuple[Review, bool]:
    with transaction.atomic():
        return review_submit(shop=shop, customer=_customer(shop, customer), data=data)


def nps_receive(*, shop: Shop, customer: CustomerData, data: NpsData) -> tuple[NpsResponse, bool]:
    """An NPS answer; its promoter or detractor signal moves the stage at the next recompute,
    queued here for this customer."""
    with transaction.atomic():
        answer, created = nps_record(customer=_customer(shop, customer), shop=shop, data=data)
        if created:
            pending_updates_mark([answer.customer_id])
            _follow_up_after_commit()
        return answer, created


def event_receive(*, shop: Shop, data: EventData) -> tuple[Event, bool]:
    """An event can earn points (a custom event rule for its type) and move its customer into
    a segment (e.g. cart_abandoned in the last day)."""
    with transaction.atomic():
        event, created = event_record(shop=shop, data=data)
        if created:
            event_received(event)
    if created:
        _follow_up_after_commit()
    return event, created
