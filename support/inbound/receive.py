"""The one way an email enters the desk: ``inbound_receive`` for raw RFC 5322 bytes (the
IMAP reader), ``inbound_receive_anymail`` for a provider's inbound webhook (anymail's
normalised message, turned back into bytes), both through ``_receive``.

For each email, in one transaction:
1. its ``InboundEmail`` row, first, once by its Message-ID (or the raw message's hash): a
   refetched or replayed email, or the same one arriving twice at once, fails on the unique
   key, finds that row and writes nothing (on PostgreSQL the second insert waits for the
   first's commit, then fails);
2. an email to ``UNSUBSCRIBE_MAILTO`` naming a marketing message unsubscribes its address
   (``_unsubscribe``);
3. automatic mail (``rules.automatic_reason``) and loops (``rules.loop_reason``) are
   recorded as ignored and go no further: no ticket, no answer;
4. the ticket it answers (``matching``): the customer's reply is added through
   ``support.tickets.ticket_follow_up``, as the API adds a follow-up, so the SLA clock
   resumes and a pending or solved ticket reopens; a merged ticket's reply goes to the
   ticket it was merged into. A closed ticket takes nothing: a new ticket is opened, and
   the row says so;
5. no ticket: a new one (channel email) for the sender's customer, created from the
   address if unknown (``customers_resolve``, as the API's contact form does), in the shop
   the email was sent to (``matching.shop_for``);
6. the attachments (``attachments``) with the message added.

**A reply from someone other than the ticket's customer** (a colleague in Cc, the other
address of the same person) is added all the same, as help desks do: the reply address is
signed and the Message-IDs are HMACs, so the sender had the ticket's email. An internal
note says who it came from, and the row records it.

The desk never answers an email by itself (no acknowledgement is sent for a new ticket or
an added reply), so automatic mail cannot start a loop with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.create_once import create_once
from core.errors import Conflict
from customers.models import Customer, Shop
from customers.services.customers import CustomerData, customers_resolve
from customers.services.pending_updates import pending_updates_mark
from messaging.consent import unsubscribe_via_mail
from support.inbound import rules
from support.inbound.attachments import attachments_store
from support.inbound.matching import by_reply_address, by_thread, shop_for
from support.inbound.parsing import ParsedEmail, bare_address, message_key, parse
from support.inbound.trimming import body_text, reply_html, reply_text
from support.models import InboundEmail, Ticket, TicketMessage
from support.text import plain_text
from support.tickets import TicketData, ticket_follow_up, ticket_note, ticket_open

Outcome = InboundEmail.Outcome
_NO_TEXT = "(This email had no text.)"
# "Re: Fwd: AW: …" and the desk's own "[#12]": a new ticket's subject is what the person wrote.
_SUBJECT_NOISE = re.compile(r"^(?:\s*(?:re|fwd?|aw|wg|sv|vs|tr)\s*(?:\[\d+\])?\s*:)+|\s*\[#\d+\]\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class InboundResult:
    email: InboundEmail
    created: bool  # False: a replay of an email received before; nothing was written


@dataclass(frozen=True)
class _Done:
    outcome: str
    detail: str = ""
    ticket: Ticket | None = None
    message: TicketMessage | None = None
    recipient: str = ""


def inbound_receive(
    raw: bytes,
    *,
    via: str,
    envelope_recipient: str = "",
    envelope_sender: str | None = None,
    now: datetime | None = None,
) -> InboundResult:
    """Take one raw email (RFC 5322 bytes) into the desk. ``via`` says how it came ("imap",
    "mailgun", …); the envelope's recipient and sender, where the transport knows them,
    count as a recipient and the Return-Path. Never raises for what the email holds: an
    email the desk cannot take is recorded as rejected, with why."""
    now = now or timezone.now()
    try:
        parsed = parse(raw, envelope_recipient=envelope_recipient or "", envelope_sender=envelope_sender)
    except Exception as exc:  # noqa: BLE001 - a message the parser chokes on is recorded, not lost
        key = message_key("", raw)
        detail = f"unreadable: {exc}"[:500]
        row, created = create_once(
            InboundEmail.objects.filter(message_key=key),
            lambda: InboundEmail.objects.create(
                message_key=key,
                via=via[:40],
                raw=raw,
                outcome=Outcome.REJECTED,
                detail=detail,
                received_at=now,
            ),
        )
        return InboundResult(row, created)
    return _receive(parsed, raw, via=via, now=now)


def inbound_receive_anymail(message, *, via: str, now: datetime | None = None) -> InboundResult:
    """Take an email a provider's inbound webhook delivered (anymail's ``AnymailInboundMessage``)
    into the desk, the same way as a raw one: its MIME bytes, with the envelope the provider
    reported."""
    return inbound_receive(
        message.as_bytes(),
        via=via,
        envelope_recipient=getattr(message, "envelope_recipient", None) or "",
        envelope_sender=getattr(message, "envelope_sender", None),
        now=now,
    )


def _receive(parsed: ParsedEmail, raw: bytes, *, via: str, now: datetime) -> InboundResult:
    def create() -> InboundEmail:
        row = InboundEmail.objects.create(
            message_key=parsed.message_key,
            via=via[:40],
            from_email=parsed.from_email[:254],
            subject=parsed.subject,
            raw=raw,
            outcome=Outcome.REJECTED,  # until decided below, in the same transaction
            received_at=now,
        )
        done = _handle(parsed, row, now)
        row.outcome, row.detail = done.outcome, done.detail[:500]
        row.ticket, row.ticket_message, row.recipient = done.ticket, done.message, done.recipient[:254]
        row.save(update_fields=["outcome", "detail", "ticket", "ticket_message", "recipient"])
        return row

    # The insert comes first and finds a replay by the unique key itself (no read before it:
    # most emails are new, and a refetch costs one failed insert). ``create`` is one
    # transaction, all of it or nothing; a concurrent duplicate waits on the key, then fails.
    try:
        with transaction.atomic():
            return InboundResult(create(), True)
    except IntegrityError:
        row = InboundEmail.objects.filter(message_key=parsed.message_key).first()
        if row is None:
            raise
        return InboundResult(row, False)


def _handle(parsed: ParsedEmail, row: InboundEmail, now: datetime) -> _Done:
    if not parsed.from_email:
        return _Done(Outcome.REJECTED, "no sender address (From)")
    unsubscribed = _unsubscribe(parsed)
    if unsubscribed is not None:
        return unsubscribed
    reason = rules.automatic_reason(parsed)
    if reason:
        return _Done(Outcome.AUTO_REPLY, reason)
    reason = rules.loop_reason(parsed, own=rules.own_addresses(), now=now, exclude_id=row.pk)
    if reason:
        return _Done(Outcome.LOOP, reason)
    text = reply_html(reply_text(body_text(parsed.text, parsed.html))) or _NO_TEXT
    match = by_reply_address(parsed) or by_thread(parsed)
    ticket = Ticket.objects.select_related("customer").filter(pk=match.ticket_id).first() if match is not None else None
    if match is not None and ticket is not None:
        try:
            message, _ = ticket_follow_up(ticket=ticket, body=text, now=now)
        except Conflict:  # closed (a merge's target included): the reply starts a new ticket
            current = ticket.merged_into_id or ticket.pk
            return _open(parsed, text, now, note=f"ticket #{current} is closed, so a new ticket was opened")
        attachments_store(message, parsed.attachments)
        detail = f"matched by {match.how}"
        if message.ticket_id != ticket.pk:
            detail += f"; ticket #{ticket.pk} was merged into #{message.ticket_id}"
        customer_email = ticket.customer.email_normalized or ""
        if parsed.from_email != customer_email:
            detail += f"; sent by {parsed.from_email}, not the ticket's customer ({customer_email or 'no address'})"
            text = f"This reply came from {parsed.from_email}, not from the ticket's customer."
            ticket_note(ticket_id=message.ticket_id, text=text, now=now)
        return _Done(Outcome.APPENDED, detail, message.ticket, message, match.recipient)
    note = "no ticket matched" if match is None else f"ticket #{match.ticket_id} (by {match.how}) no longer exists"
    return _open(parsed, text, now, note=note)


def _unsubscribe(parsed: ParsedEmail) -> _Done | None:
    """An email to ``UNSUBSCRIBE_MAILTO`` whose subject names a marketing message (what a mail
    client's "Unsubscribe" sends for the List-Unsubscribe mailto): the address is unsubscribed
    as by the link (``messaging.consent.unsubscribe_via_mail``). One that names no message was
    written by a person, and goes on as any other email (a ticket for an agent)."""
    mailto = settings.UNSUBSCRIBE_MAILTO.strip().lower()
    if not mailto or bare_address(mailto) not in {bare_address(r) for r in parsed.recipients}:
        return None
    suppression = unsubscribe_via_mail(parsed.subject)
    if suppression is None:
        return None
    shop = f"shop #{suppression.shop_id}" if suppression.shop_id else "every shop"
    return _Done(Outcome.UNSUBSCRIBED, f"{suppression.address} unsubscribed from {shop}'s marketing", recipient=mailto)


def _open(parsed: ParsedEmail, text: str, now: datetime, *, note: str) -> _Done:
    """A new ticket from the email, for its sender's customer (created if unknown)."""
    known = Customer.objects.filter(email_normalized=parsed.from_email).values_list("pk", "first_seen_shop_id").first()
    shop, recipient = shop_for(parsed.recipients, customer_shop_id=known[1] if known else None)
    if shop is None:
        return _Done(Outcome.REJECTED, f"{note}, and there is no shop to open a ticket in")
    customer = _customer(shop, parsed, known=known is not None)
    # As the ticket will keep it (plain text): a subject of only markup is no subject.
    subject = plain_text(_SUBJECT_NOISE.sub("", parsed.subject))[:255].strip() or "(no subject)"
    data = TicketData(subject=subject, body=text, channel=Ticket.Channel.EMAIL)
    ticket, _ = ticket_open(customer=customer, shop=shop, data=data, now=now)
    message = TicketMessage.objects.filter(ticket=ticket).order_by("id").first()
    assert message is not None
    attachments_store(message, parsed.attachments)
    return _Done(Outcome.OPENED, f"{note}; opened ticket #{ticket.pk}", ticket, message, recipient)


def _customer(shop: Shop, parsed: ParsedEmail, *, known: bool) -> Customer:
    """The sender's customer, linked to the shop, as the API's contact form does it. A new one
    takes its name from the From header's display name, and is marked for its first figures
    and stage (the periodic drain of pending updates computes them)."""
    first, _, last = parsed.from_name.strip().partition(" ") if not known else ("", "", "")
    data = CustomerData(email=parsed.from_email, first_name=first[:150], last_name=last.strip()[:150])
    result = customers_resolve(shop=shop, items=[data])
    (customer_id,) = result.ids
    if result.created:
        pending_updates_mark([customer_id])
    return Customer.objects.get(pk=customer_id)
