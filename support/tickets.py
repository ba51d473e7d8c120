"""Tickets and their threads: open, reply, change status, merge, apply a macro.

Every change goes through here, so the SLA clock (``support.sla_clock``), escalation and
the CSAT invitation follow each one.
"""

from dataclasses import dataclass
from datetime import datetime

import nh3
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.create_once import create_once
from core.errors import Conflict, DomainError
from customers.models import Customer, Order, Shop
from support import links, mail
from support.macros import render
from support.models import Macro, Priority, Review, Ticket, TicketMessage
from support.selectors import ticket_current, ticket_merge_chain
from support.sla_clock import (
    clock_pause,
    clock_resume,
    clock_start,
    clock_stop,
    escalate,
    sla_policy_for,
    target_met,
)
from support.text import message_html, plain_text, sanitise
from support.value import customer_is_high_value

Status = Ticket.Status


@dataclass(frozen=True)
class TicketData:
    subject: str
    body: str
    channel: str = Ticket.Channel.WEB_FORM
    priority: str = Priority.NORMAL
    order_external_id: str = ""
    external_id: str = ""


class TicketExists(Conflict):
    """A shop's ``external_id`` names a ticket that does not hold the message sent with it:
    not a replay but the customer's follow-up, which belongs in the ticket's messages
    (``ticket_follow_up``). Raised before ``ticket_open`` writes anything; the API answers
    409 with the address of those messages."""

    def __init__(self, ticket: Ticket):
        super().__init__(
            f"Ticket #{ticket.pk} was opened with this external_id and does not hold this message: "
            "send a customer's follow-up to the ticket's messages.",
            field="external_id",
        )
        self.ticket_id = ticket.pk


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
    ticket it opened (False) when the ticket holds the message: the same ``external_id``
    with a message it does not hold is ``TicketExists``, never a message dropped. An
    ``order_external_id`` the shop does not have is a ``DomainError``."""
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
        clock_start(ticket, now)
        if high_value:
            escalate(ticket, "high-value customer (top 10 % predicted CLV)", now)
        ticket.save()
        TicketMessage.objects.create(
            ticket=ticket,
            author_kind=TicketMessage.Author.AGENT if user else TicketMessage.Author.CUSTOMER,
            author=user,
            body=message_html(data.body),
            created_at=now,
        )
        return ticket

    ticket, created = create_once(
        Ticket.objects.filter(shop=shop, external_id=data.external_id) if data.external_id else None, create
    )
    if not created and not _holds_customer_message(ticket, message_html(data.body)):
        raise TicketExists(ticket)
    return ticket, created


def _holds_customer_message(ticket: Ticket, body: str) -> bool:
    """Whether a customer's message stored as ``body`` is in the ticket's thread (which a merge
    moved to the ticket it was merged into): one query, or one more per merge."""
    tickets = [t.pk for t in ticket_merge_chain(ticket)]
    return TicketMessage.objects.filter(
        ticket_id__in=tickets, author_kind=TicketMessage.Author.CUSTOMER, body=body
    ).exists()


def follow_up_open(
    *, customer: Customer, shop: Shop | None, subject: str, body: str, channel: str, now: datetime, **answer
) -> Ticket:
    """A high-priority ticket for a person to follow up an unhappy answer: ``review=`` or
    ``csat=`` names it."""
    data = TicketData(subject=subject, body=body, channel=channel, priority=Priority.HIGH)
    ticket, _ = ticket_open(customer=customer, shop=shop, data=data, now=now, **answer)
    return ticket


def ticket_reply(
    *, ticket: Ticket, body: str, user=None, public: bool = True, now: datetime | None = None
) -> TicketMessage:
    """Add a message: from ``user`` (an agent; ``public=False`` for an internal note) or,
    without one, from the customer. An agent's first public reply stops the first-response
    clock and opens a new ticket; a customer's reply reopens a pending or solved one.

    An agent's public reply to an unassigned ticket assigns it to them: the agent who
    answered owns it from then on, and is the one its CSAT answer credits
    (docs/architecture.md, "Feedback, signals and links")."""
    now = now or timezone.now()
    if not user and not public:
        raise DomainError("Only staff write internal notes.", field="public")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        return _reply_locked(ticket, body=message_html(body), user=user, public=public, now=now)


def _reply_locked(
    ticket: Ticket, *, body: str, user=None, public: bool = True, now: datetime, external_id: str = ""
) -> TicketMessage:
    """``ticket_reply`` on the ticket its caller locked, with ``body`` stored as it is."""
    message = TicketMessage.objects.create(
        ticket=ticket,
        author_kind=TicketMessage.Author.AGENT if user else TicketMessage.Author.CUSTOMER,
        author=user,
        public=public,
        body=body,
        created_at=now,
        shop_id=ticket.shop_id if external_id else None,
        external_id=external_id,
    )
    if user and public and ticket.assignee_id is None:
        ticket.assignee = user
    if user and public and ticket.first_responded_at is None:
        ticket.first_responded_at = now
        ticket.first_response_met = target_met(ticket.first_response_due_at, ticket.first_response_left_minutes, now)
        ticket.first_response_due_at = ticket.first_response_left_minutes = None
    if user and public and ticket.status == Status.NEW:
        ticket.status = Status.OPEN
    elif not user and ticket.status in (Status.PENDING, Status.SOLVED):
        _set_status(ticket, Status.OPEN, now)
    ticket.save()
    if user and public:  # emailed to the customer with the reply; a note stays in the desk
        mail.reply_email_queue(ticket, message, now=now)
    return message


def ticket_follow_up(
    *, ticket: Ticket, body: str, external_id: str = "", now: datetime | None = None
) -> tuple[TicketMessage, bool]:
    """A customer's follow-up on their ticket, sent by the ticket's shop (the API), added as the
    desk adds a customer's reply (``ticket_reply``): it resumes the SLA clock paused while the
    ticket was pending on the customer, and reopens a solved ticket.

    ``external_id``, the shop's id for the message, makes it once only: a replay returns the
    message it added (False) and writes nothing; the same id with another message, or on
    another ticket, is a ``Conflict``. A ticket the desk merged into another of the shop's
    takes the message there (its thread moved); a closed ticket refuses it (``Conflict``), as
    it stays closed. Concurrent follow-ups on one ticket wait for each other on its lock."""
    now = now or timezone.now()
    html = message_html(body)
    if not html:
        raise DomainError("The message has nothing left once its markup is sanitised.", field="message")
    if external_id and ticket.shop_id is None:  # the id is unique within its shop: none, no id
        raise DomainError("Only a shop's ticket takes a message with the shop's id.", field="external_id")
    try:
        with transaction.atomic():
            ticket = _current_locked(ticket)
            if external_id:
                sent = TicketMessage.objects.filter(shop_id=ticket.shop_id, external_id=external_id).first()
                if sent is not None:
                    return _replayed(sent, ticket, html), False
            if ticket.status == Status.CLOSED:
                raise Conflict(f"Ticket #{ticket.pk} is closed: open a new ticket for this message.", field="ticket")
            return _reply_locked(ticket, body=html, now=now, external_id=external_id), True
    except IntegrityError as exc:
        # Only the shop's id can clash: the same id sent at once for a message of another ticket.
        raise Conflict("This external_id names another message of this shop.", field="external_id") from exc


def _current_locked(ticket: Ticket) -> Ticket:
    """The ticket that holds ``ticket``'s thread now (``ticket_current``), locked; again if
    a merge moved the thread between the read and the lock."""
    for _ in range(3):
        # With its policy and hours, which the clock reads when the ticket reopens.
        tickets = Ticket.objects.select_related("sla_policy__business_hours").select_for_update(of=("self",))
        locked = tickets.get(pk=ticket_current(ticket).pk)
        if ticket_current(locked).pk == locked.pk:
            return locked
        ticket = locked
    raise Conflict("The ticket is being merged; send the message again.", field="ticket")


def _replayed(sent: TicketMessage, ticket: Ticket, html: str) -> TicketMessage:
    """The message a replay names by its ``external_id``, if it is this very message."""
    if sent.ticket_id != ticket.pk:
        raise Conflict(f"This external_id names a message of ticket #{sent.ticket_id}.", field="external_id")
    if sent.body != html or sent.author_kind != TicketMessage.Author.CUSTOMER:
        raise Conflict("This external_id names another message of this ticket.", field="external_id")
    sent.ticket = ticket
    return sent


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
    """The public message that asks the customer to rate the help, and its email (queued
    after the solving reply's, in the same transaction), unless they have rated this ticket
    already."""
    if hasattr(ticket, "csat_response"):
        return
    link = links.csat_link(ticket.pk)
    TicketMessage.objects.create(
        ticket=ticket,
        author_kind=TicketMessage.Author.SYSTEM,
        body=sanitise(f'<p>How did we do? <a href="{link.url}">Rate the help you got</a> (one click).</p>'),
        created_at=now,
    )
    mail.csat_email_queue(ticket, link, now=now)


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
        ticket_note(
            ticket_id=target.pk,
            text=f"Ticket #{source.pk} ({source.subject}) was merged into this one.",
            now=now,
            user=user,
        )
        ticket_note(ticket_id=source.pk, text=f"Merged into ticket #{target.pk}.", now=now, user=user)
        source.merged_into = target
        _set_status(source, Status.CLOSED, now)
        source.save()
        target.save()
    return target


def ticket_note(*, ticket_id: int, text: str, now: datetime, user=None) -> TicketMessage:
    """An internal note the desk itself writes (a merge, an email from another address), in
    plain words: escaped, never markup."""
    return TicketMessage.objects.create(
        ticket_id=ticket_id,
        author_kind=TicketMessage.Author.SYSTEM,
        author=user,
        public=False,
        body=sanitise(f"<p>{nh3.clean_text(text)}</p>"),
        created_at=now,
    )


def ticket_work(
    *,
    ticket: Ticket,
    user,
    reply: str = "",
    public: bool = True,
    macro: Macro | None = None,
    macro_in_box: bool = False,
    status: str = "",
    now: datetime | None = None,
) -> TicketMessage | None:
    """One save of the ticket page, all or nothing, in the order the customer reads it: the
    reply, then the macro's tags, then the status, so the CSAT invitation of a solved ticket
    comes after the answer that solved it.

    The reply is ``reply``, the reply box: what the agent saw and edited, the macro's text
    included when the page put it there (``macro_in_box``), even if they emptied it. Only
    when the macro's text never reached the box (no JavaScript) is it sent as the macro
    has it, filled in for this ticket (as a note if the macro is one). The status is
    ``status`` if the agent chose one, else the macro's. Returns the message added, if any."""
    now = now or timezone.now()
    if macro is not None and not macro.is_active:
        raise DomainError("This macro is switched off.", field="macro")
    with transaction.atomic():
        message = None
        if reply.strip():
            message = ticket_reply(ticket=ticket, body=reply, user=user, public=public, now=now)
        elif macro is not None and not macro_in_box:
            body = render(macro.body, ticket, agent=user)
            message = ticket_reply(ticket=ticket, body=body, user=user, public=macro.public, now=now)
        if macro is not None:
            tags = list(macro.add_tags.all())
            if tags:
                ticket.tags.add(*tags)
        status = status or (macro.set_status if macro is not None else "")
        if status:
            ticket_set_status(ticket=ticket, status=status, now=now)
    return message


def macro_apply(*, ticket: Ticket, macro: Macro, user, now: datetime | None = None) -> TicketMessage | None:
    """Add the macro's reply (or note), filled in for this ticket, then add its tags and
    set its status: all or nothing."""
    return ticket_work(ticket=ticket, user=user, macro=macro, now=now)


def _set_status(ticket: Ticket, status: str, now: datetime) -> None:
    before = ticket.status
    if status == before:
        return
    if before == Status.CLOSED:
        raise DomainError("A closed ticket stays closed; open a new one.", field="status")
    if status == Status.PENDING:
        clock_pause(ticket, now)
    elif status in (Status.SOLVED, Status.CLOSED):
        if before != Status.SOLVED:
            ticket.resolution_met = target_met(ticket.resolution_due_at, ticket.resolution_left_minutes, now)
        clock_stop(ticket)
        ticket.solved_at = ticket.solved_at if before == Status.SOLVED else now
    elif before == Status.PENDING:
        clock_resume(ticket, now)
    elif before == Status.SOLVED:  # reopened: the resolution clock starts again
        ticket.solved_at = ticket.resolution_met = None
        clock_start(ticket, now)
    ticket.status = status
