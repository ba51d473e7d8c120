"""What the email providers say happened to the messages they took: delivered, bounced,
complained about, opened, clicked, unsubscribed, through django-anymail's tracking webhooks.

Anymail checks each webhook's signature (a bad one is a 400 and reaches nothing here; a
basic-auth provider without ``ANYMAIL_WEBHOOK_SECRET`` is a 403, messaging/webhook_auth.py),
normalises the provider's payload into ``AnymailTrackingEvent`` objects, and sends each on
its ``tracking`` signal. ``tracking_received`` (connected in ``MessagingConfig.ready``)
collects the events of the request, and ``TrackingBatchMiddleware`` records them together
when anymail's view has answered 200: a provider's batch (Mandrill sends up to a thousand
events in one POST) costs a fixed number of queries, not a few per event. Outside a request
(a test, a shell) an event is recorded at once.

``tracking_events_record`` is the write:

- **The message** is found by the id the provider gave it (``provider_message_id``, kept
  when it was sent) or, failing that, by its key, which every anymail send carries as
  metadata and the providers hand back. An event for no message of ours (mail sent by
  another system through the same account) is logged and dropped; the provider still gets
  its 200, or it would retry for days.
- **Each event once**: a history row (``MessageEvent``) keyed by a digest of the provider,
  the event type, its time and, for a click, the link. A replayed or retried webhook, or
  an event in two batches, writes nothing the second time (a unique constraint; a replay's
  effects are skipped with it).
- **The status moves forward only** (``messaging.statuses``, shared with the CRM's own
  tracked links): sent → delivered → opened → clicked, and a bounce or a complaint beyond
  them all (a late "opened" does not undo a complaint; a bounce reported after a
  "delivered" wins). Events arrive out of order; each UPDATE carries the ranks it may
  overwrite in its WHERE, so two webhooks racing cannot move a message back. A message the
  sender has not marked sent yet (the webhook beat the mark by milliseconds) keeps its
  status; the event is in its history.
- **Suppressions**: a hard bounce (the provider's permanent failure; a soft bounce is a
  deferral and changes nothing) adds a global ``hard_bounce`` for the address, as does a
  provider refusing to send to an address it knows is bad; a complaint adds a
  ``complaint`` for the message's shop (docs/email.md, "Suppression").
- **Consent**: an unsubscribe through the provider's own link, or a spam complaint,
  withdraws the customer's marketing consent to the message's shop, as our own
  unsubscribe does, with the source ``provider``; the unsubscribe also adds the shop's
  ``unsubscribed`` suppression.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import ConsentSource
from customers.services.consent import consents_withdraw
from messaging.models import Message, MessageEvent, MessageStatus, Suppression, SuppressionReason
from messaging.statuses import messages_status_forward

logger = logging.getLogger(__name__)

# What each of anymail's event types says of a message. Types not here (subscribed,
# autoresponded, unknown, inbound) are ignored.
STATUS_OF = {
    EventType.QUEUED: MessageStatus.SENT,
    EventType.SENT: MessageStatus.SENT,
    EventType.DEFERRED: MessageStatus.SENT,  # a soft bounce: the provider tries again
    EventType.DELIVERED: MessageStatus.DELIVERED,
    EventType.OPENED: MessageStatus.OPENED,
    EventType.CLICKED: MessageStatus.CLICKED,
    EventType.BOUNCED: MessageStatus.BOUNCED,
    EventType.COMPLAINED: MessageStatus.COMPLAINED,
    EventType.UNSUBSCRIBED: MessageStatus.DELIVERED,  # it reached the person, who left
    EventType.REJECTED: MessageStatus.FAILED,
    EventType.FAILED: MessageStatus.FAILED,
}
# A provider refusing to send for these reasons knows the address is bad: a hard bounce.
DEAD_ADDRESS = {RejectReason.BOUNCED, RejectReason.INVALID}
# Bounces anymail reports as "bounced" that are not permanent: Mandrill's soft bounce,
# Postmark's soft bounce and virus notice (Mailgun's temporary failures come as "deferred").
SOFT_BOUNCES = {("Mandrill", "event", "soft_bounce"), ("Postmark", "Type", "SoftBounce")}
SOFT_BOUNCES |= {("Postmark", "Type", "VirusNotification")}


@dataclass(frozen=True)
class Fact:
    """One provider event, reduced to what the CRM keeps of it."""

    esp: str
    event_type: str  # anymail's, after soft bounces are made "deferred"
    status: str
    provider_message_id: str
    message_key: str
    at: datetime
    detail: str
    key: str  # the replay key


@dataclass
class TrackingResult:
    received: int = 0
    recorded: int = 0  # history rows written
    replayed: int = 0  # seen before: nothing written
    unknown: int = 0  # no message of ours
    ignored: int = 0  # types the CRM does not use
    suppressed: int = 0  # suppressions added


def _soft(esp: str, event: AnymailTrackingEvent) -> bool:
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    return any(esp == name and raw.get(field) == value for name, field, value in SOFT_BOUNCES)


def _detail(esp: str, event_type: str, event: AnymailTrackingEvent) -> str:
    parts = [f"{esp}: {event_type}"]
    if event_type == EventType.REJECTED and event.reject_reason:
        parts.append(f"({event.reject_reason})")
    if event.click_url:
        parts.append(event.click_url)
    said = " ".join(str(p) for p in (event.description, event.mta_response) if p)
    text = " ".join(parts)
    # No column holds a NUL (PostgreSQL refuses it), whatever a receiving server answered.
    return (f"{text}: {said}" if said else text).replace("\x00", "")[:500]


def fact_from(esp: str, event: AnymailTrackingEvent, *, now: datetime) -> Fact | None:
    """The provider event as the CRM keeps it, or None for a type the CRM does not use."""
    event_type = event.event_type
    if event_type == EventType.BOUNCED and _soft(esp, event):
        event_type = EventType.DEFERRED
    status = STATUS_OF.get(event_type)
    if status is None:
        return None
    if event_type == EventType.REJECTED and event.reject_reason in DEAD_ADDRESS:
        status = MessageStatus.BOUNCED
    at = event.timestamp or now
    if timezone.is_naive(at):
        at = timezone.make_aware(at, UTC)  # a provider's time without a zone is UTC
    # The same event reported again has the same provider, type, time and link; a provider
    # id for the event stands in for a missing time.
    stamp = event.timestamp.isoformat() if event.timestamp else f"id:{event.event_id or now.isoformat()}"
    key = hashlib.sha256(f"{esp}|{event_type}|{stamp}|{event.click_url or ''}".encode()).hexdigest()
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    return Fact(
        esp=esp,
        event_type=event_type,
        status=status,
        provider_message_id=str(event.message_id or "")[:255],
        message_key=str(metadata.get("message_key") or "")[:200],
        at=at,
        detail=_detail(esp, event_type, event),
        key=key,
    )


def tracking_events_record(
    events: Sequence[AnymailTrackingEvent], *, esp_name: str, now: datetime | None = None
) -> TrackingResult:
    """Record a provider's batch of tracking events (see the module docstring), in one
    transaction and a fixed number of queries however many events there are."""
    now = now or timezone.now()
    result = TrackingResult(received=len(events))
    facts = []
    for event in events:
        fact = fact_from(esp_name, event, now=now)
        if fact is None:
            result.ignored += 1
        else:
            facts.append(fact)
    if not facts:
        return result

    provider_ids = sorted({f.provider_message_id for f in facts if f.provider_message_id})
    keys = sorted({f.message_key for f in facts if f.message_key})
    with transaction.atomic():
        found = list(
            Message.objects.filter(Q(provider_message_id__in=provider_ids) | Q(key__in=keys)).only(
                "id", "key", "provider_message_id", "status", "shop_id", "customer_id", "to_email"
            )
        )
        by_provider_id = {m.provider_message_id: m for m in found if m.provider_message_id}
        by_key = {m.key: m for m in found}
        matched: list[tuple[Fact, Message]] = []
        for fact in facts:
            message = by_provider_id.get(fact.provider_message_id) or by_key.get(fact.message_key)
            if message is None:
                result.unknown += 1
                logger.info(
                    "%s %s event for a message the CRM did not send (%s)",
                    fact.esp,
                    fact.event_type,
                    fact.provider_message_id or "no id",
                )
            else:
                matched.append((fact, message))
        if not matched:
            return result

        # Each event once: drop those recorded before (a replay) and repeats within the batch.
        seen = set(
            MessageEvent.objects.filter(
                message_id__in=sorted({m.pk for _, m in matched}),
                provider_event_key__in=sorted({f.key for f, _ in matched}),
            ).values_list("message_id", "provider_event_key")
        )
        fresh: list[tuple[Fact, Message]] = []
        for fact, message in matched:
            if (message.pk, fact.key) in seen:
                result.replayed += 1
                continue
            seen.add((message.pk, fact.key))
            fresh.append((fact, message))
        if not fresh:
            return result
        # ON CONFLICT DO NOTHING: a concurrent delivery of the same webhook writes its row once.
        MessageEvent.objects.bulk_create(
            [
                MessageEvent(
                    message_id=message.pk,
                    status=fact.status,
                    at=fact.at,
                    detail=fact.detail,
                    provider_event=fact.event_type,
                    provider_event_key=fact.key,
                )
                for fact, message in fresh
            ],
            ignore_conflicts=True,
        )
        result.recorded = len(fresh)

        messages_status_forward((message, fact.status) for fact, message in fresh)
        result.suppressed = _suppressions_add(fresh)
        _consents_withdraw(fresh, now=now)
    return result


def _suppressions_add(fresh: list[tuple[Fact, Message]]) -> int:
    """A hard bounce: the address for every shop. A complaint or an unsubscribe: for the
    message's shop (every shop if it had none)."""
    rows: dict[tuple[str, str, int | None], Suppression] = {}
    for fact, message in fresh:
        if fact.status == MessageStatus.BOUNCED:
            reason, shop_id = SuppressionReason.HARD_BOUNCE, None
        elif fact.event_type == EventType.COMPLAINED:
            reason, shop_id = SuppressionReason.COMPLAINT, message.shop_id
        elif fact.event_type == EventType.UNSUBSCRIBED:
            reason, shop_id = SuppressionReason.UNSUBSCRIBED, message.shop_id
        else:
            continue
        detail = f"{fact.detail} (message {message.pk})"[:500]
        rows.setdefault(
            (message.to_email, reason, shop_id),
            Suppression(address=message.to_email, reason=reason, shop_id=shop_id, detail=detail),
        )
    if rows:
        Suppression.objects.bulk_create(list(rows.values()), ignore_conflicts=True)
    return len(rows)


def _consents_withdraw(fresh: list[tuple[Fact, Message]], *, now: datetime) -> None:
    pairs = {
        (message.customer_id, message.shop_id)
        for fact, message in fresh
        if fact.event_type in (EventType.UNSUBSCRIBED, EventType.COMPLAINED)
        and message.customer_id is not None
        and message.shop_id is not None
    }
    if pairs:
        consents_withdraw(
            pairs=pairs,  # type: ignore[arg-type]  # both ids checked above
            source=ConsentSource.PROVIDER,
            shown_text="The email provider reported an unsubscribe or a spam complaint about a message.",
            now=now,
        )


# The events of the request being answered (TrackingBatchMiddleware), recorded together.
_batch: ContextVar[list[tuple[str, AnymailTrackingEvent]] | None] = ContextVar("tracking_batch", default=None)


def tracking_received(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    """anymail's ``tracking`` signal: one event. Kept for the end of the request, or
    recorded at once outside one."""
    batch = _batch.get()
    if batch is None:
        tracking_events_record([event], esp_name=esp_name)
    else:
        batch.append((esp_name, event))


class TrackingBatchMiddleware:
    """Records the tracking events a webhook request collected, together, once anymail's
    view answered 200 (a bad signature is its 400, and nothing is recorded). An error while
    recording is a 500, and the provider sends the batch again later: the replay keys make
    that safe."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        batch: list[tuple[str, AnymailTrackingEvent]] = []
        token = _batch.set(batch)
        try:
            response = self.get_response(request)
        finally:
            _batch.reset(token)
        if batch and response.status_code == 200:
            by_esp: dict[str, list[AnymailTrackingEvent]] = defaultdict(list)
            for esp_name, event in batch:
                by_esp[esp_name].append(event)
            for esp_name, events in by_esp.items():
                result = tracking_events_record(events, esp_name=esp_name)
                logger.info("%s tracking webhook: %s", esp_name, result)
        return response
