"""The outbox pass: the events of the last while, as one delivery per subscribed endpoint.

Where the events come from. Every event but one is already a history row that its app
commits in the transaction of the change: lifecycle stages (``StageChange``, written
set-based by the recompute), tiers (``TierChange``), the points ledger (``PointsEntry``),
segment stays (``SegmentMembership``: a new row is an entry, a closed one an exit),
tickets (``Ticket``: created; solved when ``solved_at`` is set) and consent
(``ConsentEvent``). A review published leaves no row of its own, so support's
review-published hook (called in the publishing transaction) writes one into
``WebhookEvent``, the webhooks' own outbox. Since each event is committed with the change,
an outage of Redis or of the workers delays webhooks and never loses one, and a change
rolled back leaves nothing to send.

How a source is read, as the flows' triggers do (``campaigns.flows.triggers``), in batches:
append-only tables by id. A row with a smaller id can commit after a larger one, so an id
counts as settled once the table's largest id was seen ``LAG`` ago above it
(``watermark_safe_id``); settled rows are read once, a batch at a time, the watermark
following them; the rows above (the last few minutes) are read too, at once, and again on
each pass until they settle. Rows that change (a stay closing, a ticket solved) are read by
time, with the same overlap. Rows read twice give one delivery: (endpoint, event key) is
unique, and a pass skips the keys it has made. A pass over a source is one
transaction: the deliveries it makes and its new watermark commit together.

Who gets what: an endpoint hears only of customers linked to its shop's group, and of each
only its group's slice (``customers.selectors``): tickets, reviews and consent of the
group's shops, points and tiers of the group's account, and the person-wide facts (stage,
segments) only when no shop is outside the group, the API's own rule (``shops_outside``).
The customer is named as the shop's key knows them: the group's id (``customer_refs``)
and the shop's own external ids.

Set-based: per source and batch (2,000 rows), one read of the new rows, then per shop with
endpoints one query for the customers' ids and one for their external ids, and one insert.
A pass takes batches while full ones come, for at most 20 s a source.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone

from campaigns.models import SegmentMembership
from crm.webhooks.models import EventType, OutboundDelivery, WebhookEndpoint, WebhookEvent, WebhookSource
from customers.models import ConsentEvent, CustomerIdentity, Shop, StageChange
from customers.selectors import customer_refs
from loyalty.models import PointsEntry, TierChange
from support.models import Ticket

LAG = timedelta(minutes=5)
BATCH = 2000


@dataclass(frozen=True)
class Event:
    customer_id: int
    key: str
    at: datetime
    data: dict
    shop_id: int | None = None  # scope "shop": the shop whose row it is
    group_id: int | None = None  # scope "group": the shop group whose account it is


@dataclass(frozen=True)
class Source:
    name: str
    event_type: str
    scope: str  # "shop", "group" or "person"
    rows: Callable[[], QuerySet]
    event: Callable[[dict], Event]
    time_column: str = ""  # read by this time column (rows that change); empty: by id


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.UTC).isoformat().replace("+00:00", "Z")


def _outbox_source(name: str, event_type: str) -> Source:
    """The events of one type written to the outbox (``WebhookEvent``) by the change itself."""
    return Source(
        name,
        event_type,
        "shop",
        lambda: WebhookEvent.objects.filter(event_type=event_type).values(
            "pk", "customer_id", "shop_id", "data", "created_at"
        ),
        lambda r: Event(r["customer_id"], f"event:{r['pk']}", r["created_at"], r["data"], shop_id=r["shop_id"]),
    )


SOURCES: list[Source] = [
    Source(
        "stage_changes",
        EventType.STAGE_CHANGED,
        "person",
        lambda: StageChange.objects.values("pk", "customer_id", "from_stage", "to_stage", "changed_at"),
        lambda r: Event(
            r["customer_id"],
            f"stage:{r['pk']}",
            r["changed_at"],
            {"from_stage": r["from_stage"] or None, "to_stage": r["to_stage"]},
        ),
    ),
    Source(
        "tier_changes",
        EventType.TIER_CHANGED,
        "group",
        lambda: TierChange.objects.filter(group__isnull=False).values(
            "pk", "customer_id", "group_id", "created_at", from_name=F("from_tier__name"), to_name=F("to_tier__name")
        ),
        lambda r: Event(
            r["customer_id"],
            f"tier:{r['pk']}",
            r["created_at"],
            {"from_tier": r["from_name"], "to_tier": r["to_name"]},
            group_id=r["group_id"],
        ),
    ),
    Source(
        "points_entries",
        EventType.POINTS_CHANGED,
        "group",
        lambda: PointsEntry.objects.values(
            "pk", "customer_id", "group_id", "kind", "available", "pending", "created_at"
        ),
        lambda r: Event(
            r["customer_id"],
            f"points:{r['pk']}",
            r["created_at"],
            {"kind": r["kind"], "available_change": r["available"], "pending_change": r["pending"]},
            group_id=r["group_id"],
        ),
    ),
    Source(
        "segment_entries",
        EventType.SEGMENT_ENTERED,
        "person",
        # A segment's first fill is who was there, not who entered (as the flows read it).
        lambda: SegmentMembership.objects.filter(
            Q(segment__history_since__isnull=True) | Q(entered_at__gt=F("segment__history_since"))
        ).values("pk", "customer_id", "segment_id", "entered_at", segment_name=F("segment__name")),
        lambda r: Event(
            r["customer_id"],
            f"stay:{r['pk']}:in",
            r["entered_at"],
            {"segment": {"id": r["segment_id"], "name": r["segment_name"]}},
        ),
    ),
    Source(
        "segment_exits",
        EventType.SEGMENT_LEFT,
        "person",
        lambda: SegmentMembership.objects.filter(exited_at__isnull=False).values(
            "pk", "customer_id", "segment_id", "exited_at", segment_name=F("segment__name")
        ),
        lambda r: Event(
            r["customer_id"],
            f"stay:{r['pk']}:out",
            r["exited_at"],
            {"segment": {"id": r["segment_id"], "name": r["segment_name"]}},
        ),
        time_column="exited_at",
    ),
    Source(
        "tickets_created",
        EventType.TICKET_CREATED,
        "shop",
        lambda: Ticket.objects.filter(shop__isnull=False).values(
            "pk", "customer_id", "shop_id", "external_id", "subject", "channel", "status", "created_at"
        ),
        lambda r: Event(
            r["customer_id"],
            f"ticket:{r['pk']}",
            r["created_at"],
            {"ticket": {k: r[k] for k in ("external_id", "subject", "channel", "status")} | {"id": r["pk"]}},
            shop_id=r["shop_id"],
        ),
    ),
    Source(
        "tickets_solved",
        EventType.TICKET_SOLVED,
        "shop",
        lambda: Ticket.objects.filter(shop__isnull=False, status__in=["solved", "closed"]).values(
            "pk", "customer_id", "shop_id", "external_id", "subject", "status", "solved_at"
        ),
        # Solved again after reopening is another event: the key holds the time.
        lambda r: Event(
            r["customer_id"],
            f"ticket:{r['pk']}:solved:{int(r['solved_at'].timestamp())}",
            r["solved_at"],
            {"ticket": {k: r[k] for k in ("external_id", "subject", "status")} | {"id": r["pk"]}},
            shop_id=r["shop_id"],
        ),
        time_column="solved_at",
    ),
    _outbox_source("reviews_published", EventType.REVIEW_PUBLISHED),
    _outbox_source("customers_erased", EventType.CUSTOMER_ERASED),
    Source(
        "consent_events",
        EventType.CONSENT_CHANGED,
        "shop",
        lambda: ConsentEvent.objects.values(
            "pk", "customer_id", "shop_id", "given", "source", "at", shop_slug=F("shop__slug")
        ),
        lambda r: Event(
            r["customer_id"],
            f"consent:{r['pk']}",
            r["at"],
            {"marketing_consent": r["given"], "source": r["source"], "shop": r["shop_slug"]},
            shop_id=r["shop_id"],
        ),
    ),
]


def reviews_published_record(reviews) -> None:
    """Support's review-published hook (``crm.wiring``): the outbox row of each review, in
    the publishing transaction."""
    now = timezone.now()
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            event_type=EventType.REVIEW_PUBLISHED,
            shop_id=review.shop_id,
            customer_id=review.customer_id,
            created_at=now,
            data={
                "review": {
                    "id": review.pk,
                    "external_id": review.external_id,
                    "rating": review.rating,
                    "title": review.title,
                    "product_id": review.product_id,
                }
            },
        )
        for review in reviews
    )


def customer_erased_record(*, customer_id: int, shop_ids: Iterable[int], now: datetime) -> None:
    """The outbox row telling each of ``shop_ids`` that the customer was erased (in the
    erasing transaction): the shop erases its own copy, found by the external ids sent."""
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            event_type=EventType.CUSTOMER_ERASED,
            shop_id=shop_id,
            customer_id=customer_id,
            created_at=now,
            data={"erased_at": _iso(now)},
        )
        for shop_id in sorted(set(shop_ids))
    )


def _read(source: Source, state: WebhookSource, now: datetime, reading: bool) -> tuple[list[dict], bool]:
    """The source's new rows (nothing if ``reading`` is false), moving ``state`` on, and
    whether more settled rows wait (a full batch was read)."""
    qs = source.rows()
    if source.time_column:
        since = (state.watermark_at or now) - LAG
        state.watermark_at = now
        if not reading:
            return [], False
        window = {f"{source.time_column}__gte": since, f"{source.time_column}__lte": now}
        return list(qs.filter(**window).order_by(source.time_column, "pk")), False
    if state.watermark_at is None or state.watermark_at <= now - LAG:
        # Every id up to the largest seen LAG ago has committed by now.
        state.watermark_safe_id = max(state.watermark_safe_id, state.watermark_next_id)
        state.watermark_next_id = qs.model.objects.aggregate(m=Max("pk"))["m"] or 0
        state.watermark_at = now
    if not reading:
        state.watermark_id = state.watermark_safe_id
        return [], False
    # Settled rows, read once: the watermark follows them.
    settled = list(qs.filter(pk__gt=state.watermark_id, pk__lte=state.watermark_safe_id).order_by("pk")[:BATCH])
    more = len(settled) == BATCH
    state.watermark_id = settled[-1]["pk"] if more else state.watermark_safe_id
    if more:
        return settled, True
    # Recent rows (the last few minutes), read at once and again until settled.
    recent = list(qs.filter(pk__gt=state.watermark_safe_id).order_by("pk")[:BATCH])
    return settled + recent, False


def _start(source: Source, now: datetime) -> WebhookSource:
    """The source's watermark, locked; a source read for the first time starts now."""
    state = WebhookSource.objects.select_for_update().filter(name=source.name).first()
    if state is None:
        top = source.rows().model.objects.aggregate(m=Max("pk"))["m"] or 0
        WebhookSource.objects.bulk_create(
            [
                WebhookSource(
                    name=source.name, watermark_id=top, watermark_safe_id=top, watermark_next_id=top, watermark_at=now
                )
            ],
            ignore_conflicts=True,
        )
        state = WebhookSource.objects.select_for_update().get(name=source.name)
    return state


def sources_start(event_types, *, now: datetime | None = None) -> None:
    """Start reading the sources of ``event_types`` now, if not yet started: an endpoint
    hears of the events from its creation on, even before the next pass."""
    now = now or timezone.now()
    with transaction.atomic():
        for source in SOURCES:
            if source.event_type in event_types:
                _start(source, now)


def source_collect(source: Source, *, now: datetime | None = None, budget: float = 20.0) -> int:
    """``source``'s new events as deliveries to the endpoints subscribed to them, a batch
    at a time while full batches come and ``budget`` seconds last (a night's stage changes
    are many batches). Returns the deliveries made."""
    made, started = 0, time.monotonic()
    while True:
        batch, more = _collect_batch(source, now or timezone.now())
        made += batch
        if not more or time.monotonic() - started > budget:
            return made


def _collect_batch(source: Source, now: datetime) -> tuple[int, bool]:
    """One batch, in one transaction: (deliveries made, whether a further batch waits)."""
    endpoints = [
        e for e in WebhookEndpoint.objects.filter(active=True).select_related("shop") if source.event_type in e.events
    ]
    with transaction.atomic():
        state = _start(source, now)
        rows, more = _read(source, state, now, reading=bool(endpoints))
        state.save(update_fields=["watermark_id", "watermark_safe_id", "watermark_next_id", "watermark_at"])
        if not rows:
            return 0, more
        events = [source.event(row) for row in rows]
        # Rows read again (within LAG of the watermark) already have their deliveries.
        keys = [e.key for e in events]
        made = set()
        for first in range(0, len(keys), 500):
            existing = OutboundDelivery.objects.filter(endpoint__in=endpoints, event_key__in=keys[first : first + 500])
            made.update(existing.values_list("endpoint_id", "event_key"))
        deliveries = [
            d for d in _deliveries(source, events, endpoints, now) if (d.endpoint.pk, d.event_key) not in made
        ]
        # A concurrent pass cannot make them too (the source's row is locked), but the
        # unique constraint is the last word.
        OutboundDelivery.objects.bulk_create(deliveries, batch_size=500, ignore_conflicts=True)
        return len(deliveries), more


def _deliveries(source: Source, events: list[Event], endpoints: list[WebhookEndpoint], now: datetime):
    by_shop: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_shop[endpoint.shop_id].append(endpoint)
    deliveries = []
    for shop_endpoints in by_shop.values():
        shop = shop_endpoints[0].shop
        visible = _visible(source, events, shop)
        if not visible:
            continue
        refs = customer_refs(shop=shop, customer_ids={e.customer_id for e in visible})
        external: dict[int, list[str]] = defaultdict(list)
        identities = CustomerIdentity.objects.filter(shop=shop, customer_id__in=list(refs)).order_by("pk")
        for customer_id, external_id in identities.values_list("customer_id", "external_id"):
            external[customer_id].append(external_id)
        for event in visible:
            if event.customer_id not in refs:  # not linked to this shop's group
                continue
            payload = {
                "type": source.event_type,
                "timestamp": _iso(event.at),
                "data": {
                    "shop": shop.slug,
                    "customer": {"id": refs[event.customer_id], "external_ids": external[event.customer_id]},
                    **event.data,
                },
            }
            deliveries.extend(
                OutboundDelivery(
                    endpoint=endpoint,
                    event_type=source.event_type,
                    event_key=event.key,
                    payload=payload,
                    created_at=now,
                    next_attempt_at=now,
                    give_up_at=now + settings.WEBHOOK_RETRY_FOR,
                )
                for endpoint in shop_endpoints
            )
    return deliveries


def _visible(source: Source, events: list[Event], shop: Shop) -> list[Event]:
    """The events ``shop``'s slice holds (before asking which customers are linked to it)."""
    if source.scope == "person":
        return [] if Shop.objects.exclude(group_id=shop.group_id).exists() else events
    if source.scope == "group":
        return [e for e in events if e.group_id == shop.group_id]
    group_shops = set(Shop.objects.filter(group_id=shop.group_id).values_list("pk", flat=True))
    return [e for e in events if e.shop_id in group_shops]


def events_collect(*, now: datetime | None = None) -> int:
    """Every source once (the outbox pass). Returns the deliveries made."""
    return sum(source_collect(source, now=now) for source in SOURCES)
