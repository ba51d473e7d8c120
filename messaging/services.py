"""Writes of the email channel: queue messages, suppress addresses.

``message_queue`` is what every sender calls (the support desk, campaigns, the admin's
test). It writes the message in the caller's transaction, so a message is queued if and
only if the reply, the order or the campaign step that causes it is committed, and asks
for a send once that transaction commits (``messaging.dispatch``). If that ask is lost
(Redis down), the periodic send takes the message within a minute: nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from customers.models import Customer, Order, Shop
from messaging import dispatch
from messaging.authored import AUTHORED
from messaging.models import Message, MessageKind, Suppression, SuppressionReason
from messaging.rendering import TEMPLATES, template_source
from messaging.sending import QUEUED_HEADERS

# Values other apps lend every message's context (``crm.wiring`` registers the loyalty tier
# and points): name → a function of the customer ids giving each one's value.
ContextSource = Callable[[list[int]], dict[int, Any]]
CONTEXT_SOURCES: dict[str, ContextSource] = {}


def register_context(name: str, source: ContextSource) -> None:
    """Add ``name`` to the context of every message that names a customer. ``source`` takes
    customer ids and returns their values (one query for all of them)."""
    if name in CONTEXT_SOURCES and CONTEXT_SOURCES[name] is not source:
        raise ValueError(f"The email context name {name!r} is registered already.")
    CONTEXT_SOURCES[name] = source


@dataclass(frozen=True)
class MessageRequest:
    """One message to queue. ``context`` holds plain values (dicts, strings, numbers, or
    dataclasses of them) beside the customer, shop and registered values, which are added."""

    key: str
    template: str
    customer_id: int | None = None
    shop_id: int | None = None
    to_email: str = ""  # empty: the customer's email
    kind: str = MessageKind.TRANSACTIONAL
    context: Mapping[str, Any] = field(default_factory=dict)
    # Headers the sender adds, fixed when queued (``sending.QUEUED_HEADERS``: the threading
    # headers and a Reply-To of the message's own, e.g. a support ticket's address).
    headers: Mapping[str, str] = field(default_factory=dict)


def message_id_for(key: str) -> str:
    """The Message-ID of the message with this key: the same for every attempt (a resend
    after a crash is recognisably the same message), and naming nothing guessable."""
    digest = salted_hmac("messaging.message-id", key, algorithm="sha256").hexdigest()[:32]
    return f"<{digest}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


def customer_values(customer: Customer) -> dict:
    name = f"{customer.first_name} {customer.last_name}".strip()
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "name": name or customer.email,
        "email": customer.email,
    }


def order_values(order: Order) -> dict:
    """An order as a message shows it: the shop's number, the day, the total in its currency."""
    return {
        "number": order.external_id,
        "placed_on": f"{timezone.localtime(order.placed_at):%-d %B %Y}",
        "total": f"{Decimal(str(order.total)):.2f}",
        "currency": order.currency,
    }


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _context(customer: Customer | None, shop: Shop | None, lent: dict, extra: Mapping[str, Any]) -> dict:
    context: dict[str, Any] = {}
    if customer is not None:
        context["customer"] = customer_values(customer)
        context.update({name: values[customer.pk] for name, values in lent.items() if customer.pk in values})
    if shop is not None:
        context["shop"] = {"name": shop.name}
    context.update({name: _plain(value) for name, value in extra.items()})
    return context


def message_context(*, customer: Customer | None, shop: Shop | None, extra: Mapping[str, Any]) -> dict:
    """The context one message to this customer from this shop gets (the admin's preview)."""
    lent = {name: source([customer.pk]) for name, source in CONTEXT_SOURCES.items()} if customer else {}
    return _context(customer, shop, lent, extra)


def _lent(requests: Sequence[MessageRequest]) -> dict[str, dict[int, Any]]:
    """The registered values of the customers whose message's template names them: a value
    no template prints is not worked out (recommendations cost about 0.5 ms a customer)."""
    lent = {}
    for name, source in CONTEXT_SOURCES.items():
        ids = sorted({r.customer_id for r in requests if r.customer_id is not None and _names(r, name)})
        lent[name] = source(ids) if ids else {}
    return lent


def _names(request: MessageRequest, name: str) -> bool:
    """Whether the message's template (or its staff-written source) uses ``name``; a
    substring test, so it may say yes for a name only mentioned, never no for one used."""
    if request.template == AUTHORED:
        authored = request.context.get(AUTHORED) or {}
        return any(name in str(part) for part in authored.values())
    return name in template_source(request.template)


def messages_queue(requests: Sequence[MessageRequest], *, now: datetime | None = None) -> list[Message]:
    """Queue these messages, each once by its key: a key queued before writes nothing and
    its message is returned as it is. Returns the messages in the order asked. Call inside
    the transaction that causes them; a send is asked for when it commits.

    A fixed number of queries for any number of messages: customers, shops, each registered
    context source, one insert, one read back."""
    if not requests:
        return []
    for request in requests:
        if request.template not in TEMPLATES:
            raise ValueError(f"No email template is called {request.template!r}.")
        if request.kind not in MessageKind.values:
            raise ValueError(f"A message is transactional or marketing, not {request.kind!r}.")
    now = now or timezone.now()
    customer_ids = sorted({r.customer_id for r in requests if r.customer_id is not None})
    customers = Customer.objects.in_bulk(customer_ids)
    shops = Shop.objects.in_bulk(sorted({r.shop_id for r in requests if r.shop_id is not None}))
    lent = _lent(requests)
    rows = []
    for request in requests:
        customer = customers.get(request.customer_id) if request.customer_id is not None else None
        shop = shops.get(request.shop_id) if request.shop_id is not None else None
        to_email = (request.to_email or (customer.email if customer else "")).strip().lower()
        if not to_email:
            raise ValueError(f"Message {request.key!r} has no address to go to.")
        context = _context(customer, shop, lent, request.context)
        unknown = set(request.headers) - set(QUEUED_HEADERS)
        if unknown:
            raise ValueError(f"Message {request.key!r}: a message cannot carry {sorted(unknown)} from its queueing.")
        rows.append(
            Message(
                key=request.key,
                customer=customer,
                shop=shop,
                to_email=to_email,
                kind=request.kind,
                template=request.template,
                context=context,
                headers=dict(request.headers),
                message_id=message_id_for(request.key),
                next_attempt_at=now,
                created_at=now,
            )
        )
    # INSERT … ON CONFLICT DO NOTHING: a key queued already (by a retry, a re-run, a
    # concurrent duplicate) stays as it is.
    Message.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(dispatch.send_kick)
    found = Message.objects.in_bulk([r.key for r in requests], field_name="key")
    return [found[r.key] for r in requests]


def message_queue(
    *,
    key: str,
    template: str,
    customer_id: int | None = None,
    shop_id: int | None = None,
    to_email: str = "",
    kind: str = MessageKind.TRANSACTIONAL,
    context: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Message:
    """Queue one message, once by its key (see ``messages_queue``)."""
    request = MessageRequest(
        key=key,
        template=template,
        customer_id=customer_id,
        shop_id=shop_id,
        to_email=to_email,
        kind=kind,
        context=context or {},
        headers=headers or {},
    )
    return messages_queue([request], now=now)[0]


def suppression_add(*, address: str, reason: str, shop_id: int | None = None, detail: str = "") -> Suppression:
    """Stop sending to ``address`` (for one shop, or every shop with ``shop_id`` None); once
    per (address, reason, shop)."""
    if reason not in SuppressionReason.values:
        raise ValueError(f"Unknown suppression reason {reason!r}.")
    address = address.strip().lower()
    Suppression.objects.bulk_create(
        [Suppression(address=address, reason=reason, shop_id=shop_id, detail=detail[:500])], ignore_conflicts=True
    )
    return Suppression.objects.get(address=address, reason=reason, shop_id=shop_id)
