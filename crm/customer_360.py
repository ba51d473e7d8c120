"""Reads for the customer 360 page: the header and one merged timeline, newest first.

The timeline costs the same number of queries whatever the size of the history:
1. one ``UNION ALL`` over every source gives the page's (kind, id, time) keys, sorted and
   sliced in the database (and one count for the paginator);
2. one query per kind on the page fetches those rows with what they show (an order's lines
   take one more).
So a customer with 1,000 orders and 200 tickets costs what one with three orders does.

Each source reads through its ``(customer, time)`` index. What a role may not read never
enters the union: tickets and their messages need ``support.view_ticket``, internal notes
``support.view_internal_notes``, emails ``messaging.view_message``.

A campaign's or a flow's email says what it was for (the campaign, or the flow and its
step, and the variant) and a customer held out of one has an entry of their own ("held
out": they got nothing); the page's sends are read in one query. The flows panel (where
the customer is in each flow) needs ``campaigns.view_flowrun`` and costs one query. The
conversions panel (the customer's orders credited to touches, under every model) needs
``campaigns.view_attributioncredit`` and costs one query, plus two naming the campaigns and
flows when some of their emails are credited.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.attribution.selectors import CustomerCredit, customer_credits
from campaigns.flows.selectors import customer_flow_runs, step_number
from campaigns.models import FlowRun, SegmentMembership, Send
from crm.models import Customer360, CustomerNote, ErasureLog
from customers.figure_notes import FigureNotes, figure_notes, p_alive_text
from customers.models import (
    Customer,
    CustomerMerge,
    CustomerMetrics,
    Event,
    LifecycleSettings,
    Order,
    Refund,
    StageChange,
)
from customers.selectors import ConsentHistory, CurrencySpend, customer_consent, customer_spend_by_currency
from customers.services.currency import base_currency
from loyalty.selectors import PointsTotal, points_total
from messaging.models import Message, MessageKind
from support.models import CsatResponse, NpsResponse, Review, Ticket, TicketMessage

PER_PAGE = 25
# Consent events shown before "show all"; and the most "show all" shows.
CONSENT_SHOWN = 10
CONSENT_ALL = 1000


@dataclass(frozen=True)
class Source:
    kind: str
    group: str  # the filter it belongs to
    label: str


SOURCES = [
    Source("order", "orders", "Order"),
    Source("refund", "orders", "Refund"),
    Source("ticket", "support", "Ticket opened"),
    Source("message", "support", "Ticket message"),
    Source("csat", "feedback", "CSAT"),
    Source("review", "feedback", "Review"),
    Source("nps", "feedback", "NPS"),
    Source("stage", "lifecycle", "Stage change"),
    Source("segment_entry", "lifecycle", "Entered segment"),
    Source("segment_exit", "lifecycle", "Left segment"),
    Source("email", "email", "Email"),
    Source("holdout", "email", "Held out"),
    Source("event", "events", "Event"),
    Source("note", "notes", "Note"),
]
GROUPS = {
    "orders": "Orders and refunds",
    "support": "Tickets and messages",
    "feedback": "Reviews, NPS and CSAT",
    "lifecycle": "Stage and segments",
    "email": "Emails",
    "events": "Events",
    "notes": "Notes",
}


@dataclass(frozen=True)
class Viewer:
    """What the person looking may read."""

    tickets: bool
    internal_notes: bool
    emails: bool = False
    campaigns: bool = False  # links an email to its campaign's page
    flows: bool = False  # links an email or a position to its flow's page
    flow_runs: bool = False  # the flows panel
    credits: bool = False  # the conversions panel

    @classmethod
    def of(cls, user) -> "Viewer":
        return cls(
            tickets=user.has_perm("support.view_ticket"),
            internal_notes=user.has_perm("support.view_internal_notes"),
            emails=user.has_perm("messaging.view_message"),
            campaigns=user.has_perm("campaigns.view_campaign"),
            flows=user.has_perm("campaigns.view_flow"),
            flow_runs=user.has_perm("campaigns.view_flowrun"),
            credits=user.has_perm("campaigns.view_attributioncredit"),
        )


def _keys(kind: str, queryset: QuerySet, at: str) -> QuerySet:
    # At the same moment a ticket's opening reads below its first message (newest first).
    rank = Value(1 if kind == "message" else 0)
    # Named apart from any model's own fields (a message has a ``kind``).
    keys = queryset.order_by().annotate(entry_kind=Value(kind), entry_at=F(at), entry_rank=rank)
    return keys.values_list("entry_kind", "id", "entry_at", "entry_rank")


def _sources(customer_id: int, viewer: Viewer) -> dict[str, QuerySet]:
    """Per kind, the query of its (kind, id, time) keys for this customer."""
    messages = TicketMessage.objects.filter(ticket__customer_id=customer_id)
    if not viewer.internal_notes:
        messages = messages.filter(public=True)
    memberships = SegmentMembership.objects.filter(customer_id=customer_id)
    sources = {
        "order": _keys("order", Order.objects.filter(customer_id=customer_id), "placed_at"),
        "refund": _keys("refund", Refund.objects.filter(order__customer_id=customer_id), "refunded_at"),
        "ticket": _keys("ticket", Ticket.objects.filter(customer_id=customer_id), "created_at"),
        "message": _keys("message", messages, "created_at"),
        "csat": _keys("csat", CsatResponse.objects.filter(customer_id=customer_id), "created_at"),
        "review": _keys("review", Review.objects.filter(customer_id=customer_id), "created_at"),
        "nps": _keys("nps", NpsResponse.objects.filter(customer_id=customer_id), "created_at"),
        "stage": _keys("stage", StageChange.objects.filter(customer_id=customer_id), "changed_at"),
        "segment_entry": _keys("segment_entry", memberships, "entered_at"),
        "segment_exit": _keys("segment_exit", memberships.filter(exited_at__isnull=False), "exited_at"),
        "email": _keys("email", Message.objects.filter(customer_id=customer_id), "created_at"),
        # Through send_customer_idx (customer, assigned_at).
        "holdout": _keys("holdout", Send.objects.filter(customer_id=customer_id, variant__isnull=True), "assigned_at"),
        "event": _keys("event", Event.objects.filter(customer_id=customer_id), "occurred_at"),
        "note": _keys("note", CustomerNote.objects.filter(customer_id=customer_id), "created_at"),
    }
    if not viewer.tickets:
        for kind in ("ticket", "message", "csat"):
            del sources[kind]
    if not viewer.emails:
        del sources["email"], sources["holdout"]
    return sources


def timeline_groups(viewer: Viewer) -> dict[str, str]:
    hidden = {g for g, allowed in (("support", viewer.tickets), ("email", viewer.emails)) if not allowed}
    return {g: label for g, label in GROUPS.items() if g not in hidden}


@dataclass
class Entry:
    kind: str
    label: str
    at: datetime
    obj: object = None
    children: list = field(default_factory=list)
    send: Send | None = None  # a campaign's or a flow's email: its send (what it was for)


def _fetch(kind: str, ids: list[int]) -> dict[int, object]:
    """The rows of one kind on the page, with what the page shows of them (one query; two
    for orders, with their lines)."""
    queries = {
        "order": lambda: Order.objects.select_related("shop").prefetch_related("lines"),
        "refund": lambda: Refund.objects.select_related("order"),
        "ticket": lambda: Ticket.objects.select_related("assignee", "order"),
        "message": lambda: TicketMessage.objects.select_related("ticket", "author"),
        "csat": lambda: CsatResponse.objects.select_related("ticket", "agent"),
        "review": lambda: Review.objects.select_related("product"),
        "nps": lambda: NpsResponse.objects.all(),
        "stage": lambda: StageChange.objects.all(),
        "segment_entry": lambda: SegmentMembership.objects.select_related("segment"),
        "segment_exit": lambda: SegmentMembership.objects.select_related("segment"),
        # The message's summary, not its HTML and text.
        "email": lambda: Message.objects.only("id", "subject", "template", "status", "kind", "to_email", "sent_at"),
        "event": lambda: Event.objects.select_related("shop"),
        "note": lambda: CustomerNote.objects.select_related("author"),
    }
    return queries[kind]().in_bulk(ids)


def _sends(message_ids: list[int], holdout_ids: list[int]) -> list[Send]:
    """The sends of the page's emails and its holdout entries, with their campaign, or their
    flow and the step's number, and the variant: one query."""
    return list(
        Send.objects.filter(Q(message_id__in=message_ids) | Q(pk__in=holdout_ids))
        .select_related("variant", "email__campaign", "email__flow_step__flow")
        .annotate(step_number=step_number("email__flow_step"))
    )


def timeline(customer_id: int, viewer: Viewer, *, groups: list[str] | None = None, page: int | str = 1) -> Page:
    """One page of the customer's history, newest first, limited to ``groups`` if given."""
    labels = {s.kind: s.label for s in SOURCES}
    wanted = {s.kind for s in SOURCES if not groups or s.group in groups}
    queries = [q for kind, q in _sources(customer_id, viewer).items() if kind in wanted]
    if not queries:
        return Paginator([], PER_PAGE).get_page(1)
    union = queries[0].union(*queries[1:], all=True) if len(queries) > 1 else queries[0]
    result = Paginator(union.order_by("-entry_at", "-entry_rank", "-id"), PER_PAGE).get_page(page)
    keys = list(result.object_list)
    ids = defaultdict(list)
    for kind, pk, _, _ in keys:
        ids[kind].append(pk)
    rows = {kind: _fetch(kind, pks) for kind, pks in ids.items() if kind != "holdout"}
    of_message: dict[int | None, Send] = {}
    # Only a marketing message has a send (campaigns and flows send nothing else).
    marketing = [pk for pk, m in rows.get("email", {}).items() if m.kind == MessageKind.MARKETING]
    if marketing or ids["holdout"]:
        sends = _sends(marketing, ids["holdout"])
        of_message = {s.message_id: s for s in sends if s.message_id is not None}
        rows["holdout"] = {s.pk: s for s in sends if s.variant_id is None}
    result.object_list = [
        Entry(kind, labels[kind], at, rows[kind].get(pk), send=of_message.get(pk) if kind == "email" else None)
        for kind, pk, at, _ in keys
    ]
    return result


def flow_positions(customer_id: int, viewer: Viewer, *, limit: int = 20) -> list[FlowRun] | None:
    """The flows panel: where the customer is in each flow, then their finished passes (with
    why they ended), newest first; None for a role that may not see flows' runs."""
    if not viewer.flow_runs:
        return None
    return list(customer_flow_runs(customer_id=customer_id, limit=limit))


def conversions(customer_id: int, viewer: Viewer, *, limit: int = 20) -> list[CustomerCredit] | None:
    """The conversions panel: the touches credited with the customer's newest orders; None
    for a role that may not read attribution."""
    if not viewer.credits:
        return None
    return customer_credits(customer_id, limit=limit)


@dataclass(frozen=True)
class Header:
    customer: Customer
    metrics: CustomerMetrics | None
    reason: str
    segments: list
    open_tickets: list
    tags: list
    notes: FigureNotes  # what each figure means, shown one hover or click away
    currency: str  # of the customer's figures: the base currency
    spend: list[CurrencySpend]  # the same money per order currency
    p_alive: str  # as a percentage, or why there is none
    loyalty: PointsTotal | None = None  # summed over the customer's accounts (one per shop group)
    consent: ConsentHistory | None = None  # per shop, and its history

    @property
    def other_currencies(self) -> bool:
        """Whether any order was in another currency than the figures: then the page shows
        the money per currency beside them."""
        return any(s.currency != self.currency for s in self.spend)

    @property
    def days_since_last_order(self) -> int | None:
        last = self.customer.last_order_at
        return None if last is None else (timezone.localdate() - timezone.localdate(last)).days


def header(customer_id: int, viewer: Viewer, *, all_consent: bool = False) -> Header | None:
    """The page's head. Marketing consent, per shop and its history, costs two queries; the
    history shows its newest ``CONSENT_SHOWN`` events, or with ``all_consent`` up to
    ``CONSENT_ALL``. Every role that may open the page reads it: an agent on the phone is
    asked "why do I get your emails?"."""
    # As the admin's proxy model, so the page's breadcrumbs name the customer.
    # A record merged into another says so (docs/merge.md), read in the same query.
    merged_into = CustomerMerge.objects.filter(merged_id=OuterRef("pk"), undone_at__isnull=True).values("survivor_id")
    customer = (
        Customer360.objects.select_related("metrics", "first_seen_shop")
        .annotate(
            merged_into=Subquery(merged_into[:1]),
            erased_at=Subquery(ErasureLog.objects.filter(customer_id=OuterRef("pk")).values("erased_at")[:1]),
        )
        .filter(pk=customer_id)
        .first()
    )
    if customer is None:
        return None
    metrics = getattr(customer, "metrics", None)  # None when never computed
    lifecycle = LifecycleSettings.load()
    reason = metrics.reason(lifecycle.thresholds()) if metrics else ""
    segments = list(
        SegmentMembership.objects.filter(customer_id=customer_id, exited_at__isnull=True)
        .select_related("segment")
        .order_by("segment__name")
    )
    open_tickets = []
    if viewer.tickets:
        open_tickets = list(
            Ticket.objects.filter(customer_id=customer_id, status__in=Ticket.OPEN_STATUSES)
            .select_related("assignee")
            .order_by(Coalesce("resolution_due_at", "created_at"))[:10]
        )
    return Header(
        customer=customer,
        metrics=metrics,
        reason=reason,
        segments=segments,
        open_tickets=open_tickets,
        tags=list(customer.tags.all()),
        notes=figure_notes(lifecycle),
        currency=base_currency(),
        spend=customer_spend_by_currency(customer_id) if customer.orders_count else [],
        p_alive=p_alive_text(metrics),
        loyalty=total if (total := points_total(customer_id)).accounts else None,  # None before their first points
        consent=customer_consent(customer_id, limit=CONSENT_ALL if all_consent else CONSENT_SHOWN),
    )
