"""Which ticket an email answers, and which shop a new one belongs to.

The order, first hit wins:
1. a recipient (To, Cc, Delivered-To, X-Original-To, the provider's envelope recipient) that
   is a ticket's reply address, its signature right (``support.mail.ticket_id_from_address``);
2. the threading headers: In-Reply-To, then References from the newest back, naming one of
   the ticket's emails (a ``messaging.Message`` keyed ``ticket-reply:<message id>`` or
   ``csat-invite:<ticket id>``) or the ticket's thread root (``support.mail.thread_root_id``).
The reply address comes first because it survives clients that drop or rewrite the
threading headers, and it is signed; a Message-ID is an HMAC, so naming one proves as much.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.db.models.functions import Lower

from customers.models import Shop
from messaging.models import Message, SenderIdentity
from support import mail
from support.inbound.parsing import ParsedEmail, bare_address
from support.models import TicketMessage


@dataclass(frozen=True)
class Match:
    ticket_id: int
    how: str  # said on the InboundEmail
    recipient: str = ""


def by_reply_address(parsed: ParsedEmail) -> Match | None:
    for address in parsed.recipients:
        ticket_id = mail.ticket_id_from_address(address)
        if ticket_id is not None:
            return Match(ticket_id, f"reply address {address}", address)
    return None


def by_thread(parsed: ParsedEmail) -> Match | None:
    """The newest of the email's threading ids that names a ticket: two queries at most."""
    ids = list(dict.fromkeys([*parsed.in_reply_to, *reversed(parsed.references)]))
    if not ids:
        return None
    found: dict[str, int] = {}
    for value in ids:
        ticket_id = mail.ticket_id_from_thread_root(value)
        if ticket_id is not None:
            found[value] = ticket_id
    reply_keys: dict[str, int] = {}
    for message_id, key in Message.objects.filter(message_id__in=ids).values_list("message_id", "key"):
        kind, _, number = key.partition(":")
        if kind == "csat-invite" and number.isdigit():
            found[message_id] = int(number)
        elif kind == "ticket-reply" and number.isdigit():
            reply_keys[message_id] = int(number)
    if reply_keys:
        tickets = dict(TicketMessage.objects.filter(pk__in=reply_keys.values()).values_list("pk", "ticket_id"))
        found.update({mid: tickets[pk] for mid, pk in reply_keys.items() if pk in tickets})
    for value in ids:
        if value in found:
            return Match(found[value], f"threading header naming {value}")
    return None


def shop_for(recipients: tuple[str, ...], *, customer_shop_id: int | None) -> tuple[Shop | None, str]:
    """The shop a new ticket from this email belongs to, and the recipient that said so:
    the shop whose sender identity's From or Reply-To is a recipient; else the only shop;
    else the shop the customer was first seen in; else the first shop. ``SUPPORT_REPLY_ADDRESS``
    serves every shop, so it names none."""
    bare = [bare_address(r) for r in recipients]
    if bare:
        # One IN list per column, however many recipients (an OR per address overflows
        # SQLite's expression depth).
        identities = (
            SenderIdentity.objects.annotate(from_lower=Lower("from_email"), reply_lower=Lower("reply_to"))
            .filter(Q(from_lower__in=set(bare)) | Q(reply_lower__in=set(bare)))
            .select_related("shop")
            .order_by("shop_id")
        )
        for identity in identities:
            for recipient, address in zip(recipients, bare, strict=True):
                if address in (identity.from_email.lower(), identity.reply_to.lower()):
                    return identity.shop, recipient
    shops = list(Shop.objects.order_by("pk")[:2])
    if len(shops) == 1:
        return shops[0], ""
    if customer_shop_id is not None:
        return Shop.objects.filter(pk=customer_shop_id).first(), ""
    return (shops[0] if shops else None), ""
