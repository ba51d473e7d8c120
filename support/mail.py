"""The desk's outbound email: an agent's public reply and the CSAT invitation, threaded.

Each is queued with ``messaging.services.message_queue`` in the transaction of the reply or
the status change that causes it, once by its key ("ticket-reply:<message id>",
"csat-invite:<ticket id>"), as a transactional message from the ticket's shop (its sender
identity). Suppression is checked when it is sent (``messaging.sending``): a hard-bounced,
complained-about or erased address gets nothing; an unsubscribed one still gets its replies.

**Threading.** Every email of a ticket carries
- ``Message-ID``: from its key (``messaging.services.message_id_for``);
- ``References``: the ticket's thread root (``thread_root_id``, a Message-ID no email has,
  derived from the ticket) and the Message-IDs of the ticket's earlier emails, oldest first
  (the last ``REFERENCES_KEPT``); ``In-Reply-To``: the latest of those, or the root. Mail
  clients show the ticket as one conversation;
- ``Reply-To``: the ticket's address (``reply_address``), the support address with the
  ticket's number and a signature in its plus tag, ``support+t123-5f2c9e0a1b@shop.example``.
  It names the ticket in every reply, whatever the customer's client does to the headers.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from messaging.models import Message
from messaging.rendering import register_template
from messaging.selectors import brand_for
from messaging.services import message_queue
from support.links import Link
from support.models import Ticket, TicketMessage

REPLY_TEMPLATE = "ticket_reply"
CSAT_TEMPLATE = "csat_invite"
REFERENCES_KEPT = 20  # the root and this many earlier emails; long threads keep the newest
_SIGNATURE_SALT = "support.reply-address"
_TAG = re.compile(r"^t(\d+)-([0-9a-f]{10})$")


def register_templates() -> None:
    """Make the desk's templates usable (``SupportConfig.ready``)."""
    register_template(REPLY_TEMPLATE, "An agent's public reply on a ticket, threaded with the ticket's emails.")
    register_template(CSAT_TEMPLATE, "The invitation to rate the help on a solved ticket (CSAT), with its link.")


def reply_key(message_id: int) -> str:
    return f"ticket-reply:{message_id}"


def csat_key(ticket_id: int) -> str:
    return f"csat-invite:{ticket_id}"


def _signature(ticket_id: int) -> str:
    return salted_hmac(_SIGNATURE_SALT, str(ticket_id), algorithm="sha256").hexdigest()[:10]


def _support_address(shop_id: int | None) -> str:
    """Where customers' replies go: ``SUPPORT_REPLY_ADDRESS`` if set, else the shop's
    sender's Reply-To, else its From address."""
    if settings.SUPPORT_REPLY_ADDRESS:
        return settings.SUPPORT_REPLY_ADDRESS
    brand = brand_for(shop_id)
    return brand.reply_to or brand.from_email


def reply_address(ticket: Ticket) -> str:
    """The ticket's own reply address: the support address with ``+t<id>-<signature>`` in its
    local part. The signature (an HMAC of the id) makes a guessed number useless."""
    local, _, domain = _support_address(ticket.shop_id).partition("@")
    local = local.partition("+")[0]
    return f"{local}+t{ticket.pk}-{_signature(ticket.pk)}@{domain}"


def ticket_id_from_address(address: str) -> int | None:
    """The ticket a reply address names, if its signature is right (for inbound mail)."""
    local = address.strip().lower().rpartition("@")[0]
    match = _TAG.match(local.partition("+")[2])
    if not match or not constant_time_compare(match[2], _signature(int(match[1]))):
        return None
    return int(match[1])


def thread_root_id(ticket_id: int) -> str:
    """The Message-ID every email of the ticket refers to first: the ticket's, stable, signed."""
    return f"<ticket-{ticket_id}-{_signature(ticket_id)}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


_ROOT = re.compile(r"^<ticket-(\d+)-")


def ticket_id_from_thread_root(value: str) -> int | None:
    """The ticket a threading id names, if it is that ticket's own thread root (signature and
    domain included): for inbound mail, beside ``ticket_id_from_address``."""
    found = _ROOT.match(value)
    if found is None:
        return None
    ticket_id = int(found[1])
    return ticket_id if thread_root_id(ticket_id) == value else None


def _thread_headers(ticket: Ticket, *, before: str | None = None) -> dict[str, str]:
    """Reply-To, In-Reply-To and References of the ticket's next email: after every email of
    the ticket queued so far (the replies of its thread, the CSAT invitation), except the
    one keyed ``before`` itself. Two queries."""
    reply_ids = TicketMessage.objects.filter(
        ticket=ticket, author_kind=TicketMessage.Author.AGENT, public=True
    ).values_list("id", flat=True)
    keys = [reply_key(pk) for pk in reply_ids] + [csat_key(ticket.pk)]
    earlier = list(
        Message.objects.filter(key__in=keys).exclude(key=before).order_by("id").values_list("message_id", flat=True)
    )
    chain = [thread_root_id(ticket.pk), *earlier[-REFERENCES_KEPT:]]
    return {"Reply-To": reply_address(ticket), "In-Reply-To": chain[-1], "References": " ".join(chain)}


def _ticket_values(ticket: Ticket) -> dict:
    return {"number": ticket.pk, "subject": ticket.subject}


def _customer_email(ticket: Ticket) -> str:
    return (ticket.customer.email or "").strip()


def reply_email_queue(ticket: Ticket, message: TicketMessage, *, now: datetime) -> Message | None:
    """Email an agent's public reply to the ticket's customer (none: a customer without an
    address). Call in the reply's transaction."""
    if not _customer_email(ticket):
        return None
    key = reply_key(message.pk)
    author = message.author
    agent = (author.get_full_name() or author.get_username()) if author else ""
    return message_queue(
        key=key,
        template=REPLY_TEMPLATE,
        customer_id=ticket.customer_id,
        shop_id=ticket.shop_id,
        kind="transactional",
        context={"ticket": _ticket_values(ticket), "reply": {"html": message.body, "agent": agent}},
        headers=_thread_headers(ticket, before=key),
        now=now,
    )


def csat_email_queue(ticket: Ticket, link: Link, *, now: datetime) -> Message | None:
    """Email the CSAT invitation, once per ticket, after whatever the same change queued
    before it (the solving reply): it is queued later, so it is sent later and answers it."""
    if not _customer_email(ticket):
        return None
    key = csat_key(ticket.pk)
    return message_queue(
        key=key,
        template=CSAT_TEMPLATE,
        customer_id=ticket.customer_id,
        shop_id=ticket.shop_id,
        kind="transactional",
        context={"ticket": _ticket_values(ticket), "csat": {"url": link.url}},
        headers=_thread_headers(ticket, before=key),
        now=now,
    )
