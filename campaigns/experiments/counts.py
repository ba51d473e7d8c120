"""A campaign's results per variant, read from its ``Send`` rows and their messages.

Recipients are the customers a message was queued for; sent, delivered, opened and clicked
follow the message and its events (``messaging``); an unsubscribe is an ``unsubscribed``
suppression of the message's address for its shop recorded after the message was queued.
Opens are counted but never trusted to pick a winner: Apple Mail Privacy Protection opens
every message it receives.

Conversions and revenue per recipient are the attribution's (``campaigns/attribution/``,
credited revenue per message): not read here until it exists, and the page says so rather
than showing a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q

from campaigns.models import Email, Send
from messaging.models import MessageEvent, MessageStatus, Suppression, SuppressionReason

# A message that left (whatever became of it since).
SENT = [
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
    MessageStatus.BOUNCED,
    MessageStatus.COMPLAINED,
]
# A message the provider reported delivered (or that was opened or clicked after).
DELIVERED = [MessageStatus.DELIVERED, MessageStatus.OPENED, MessageStatus.CLICKED, MessageStatus.COMPLAINED]


@dataclass(frozen=True)
class ArmResult:
    variant_id: int | None  # None: the holdout
    label: str
    customers: int  # drawn into this arm
    recipients: int  # messages queued
    sent: int
    delivered: int
    opens: int
    clicks: int
    unsubscribes: int

    def rate(self, count: int) -> float | None:
        return count / self.recipients if self.recipients else None

    @property
    def click_rate(self) -> float | None:
        return self.rate(self.clicks)


def _events(status: str):
    return Exists(MessageEvent.objects.filter(message_id=OuterRef("message_id"), status=status))


def arm_counts(email_ids: Sequence[int]) -> dict[tuple[int, int | None], dict[str, int]]:
    """(email id, variant id or None) → its counts, for these emails in one query."""
    unsubscribed = Suppression.objects.filter(
        address=OuterRef("message__to_email"),
        shop_id=OuterRef("message__shop_id"),
        reason=SuppressionReason.UNSUBSCRIBED,
        created_at__gte=OuterRef("message__created_at"),
    )
    rows = (
        Send.objects.filter(email_id__in=list(email_ids))
        .annotate(
            _opened=_events(MessageStatus.OPENED),
            _clicked=_events(MessageStatus.CLICKED),
            _unsubscribed=Exists(unsubscribed),
        )
        .values("email_id", "variant_id")
        .annotate(
            customers=Count("pk"),
            recipients=Count("message_id"),
            sent=Count("pk", filter=Q(message__status__in=SENT)),
            delivered=Count("pk", filter=Q(message__status__in=DELIVERED)),
            # A click is an open the pixel missed.
            opens=Count("pk", filter=Q(_opened=True) | Q(_clicked=True)),
            clicks=Count("pk", filter=Q(_clicked=True)),
            unsubscribes=Count("pk", filter=Q(message__isnull=False, _unsubscribed=True)),
        )
        .order_by()
    )
    return {(row.pop("email_id"), row.pop("variant_id")): row for row in rows}


def email_results(email: Email) -> list[ArmResult]:
    """Each variant of ``email`` (in order), then the holdout if it has one."""
    counts = arm_counts([email.pk])
    zero = dict.fromkeys(("customers", "recipients", "sent", "delivered", "opens", "clicks", "unsubscribes"), 0)
    arms = [
        ArmResult(variant_id=v.pk, label=v.label, **counts.get((email.pk, v.pk), zero))
        for v in email.variants.order_by("id")
    ]
    if email.holdout_percent or (email.pk, None) in counts:
        arms.append(ArmResult(variant_id=None, label="holdout", **counts.get((email.pk, None), zero)))
    return arms


def email_totals(email_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per email: the counts of all its arms together (the campaign list)."""
    totals: dict[int, dict[str, int]] = {}
    for (email_id, _variant), row in arm_counts(email_ids).items():
        into = totals.setdefault(email_id, dict.fromkeys(row, 0))
        for name, value in row.items():
            into[name] += value
    return totals
