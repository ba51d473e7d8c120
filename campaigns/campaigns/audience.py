"""Who a campaign reaches: the current members of its target segments, minus the current
members of its exclusion segments, narrowed by ``campaigns.audience`` (consent for the
campaign's shop, suppression, an address, the frequency cap).

Both the live count on the campaign page and the send pass start from ``members``: one
``EXISTS`` per segment list over the open stays (``membership_open_uniq`` serves it), so the
count is one statement whatever the segments' sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from campaigns.audience import Exclusion, Reach, exclusions, reachable
from campaigns.models import Campaign, SegmentMembership, SendingPolicy
from customers.models import Customer


def members(*, segment_ids: Sequence[int], excluded_segment_ids: Sequence[int] = ()) -> QuerySet[Customer]:
    """Customers in any of ``segment_ids`` now and in none of ``excluded_segment_ids``."""
    stays = SegmentMembership.objects.filter(customer=OuterRef("pk"), exited_at=None)
    customers = Customer.objects.filter(Exists(stays.filter(segment_id__in=list(segment_ids))))
    if excluded_segment_ids:
        customers = customers.exclude(Exists(stays.filter(segment_id__in=list(excluded_segment_ids))))
    return customers


def campaign_cap_hours(campaign: Campaign, policy: SendingPolicy | None = None) -> int:
    """The campaign's frequency cap: its own, or the sending policy's."""
    if campaign.cap_hours is not None:
        return campaign.cap_hours
    return (policy or SendingPolicy.current()).cap_hours


def campaign_members(campaign: Campaign) -> QuerySet[Customer]:
    return members(
        segment_ids=[s.pk for s in campaign.segments.all()],
        excluded_segment_ids=[s.pk for s in campaign.excluded_segments.all()],
    )


def campaign_reachable(campaign: Campaign, *, now: datetime, cap_hours: int) -> QuerySet[Customer]:
    return reachable(campaign_members(campaign), shop_id=campaign.shop_id, now=now, cap_hours=cap_hours)


@dataclass(frozen=True)
class AudienceCount:
    """The audience as the campaign page shows it: members of the targets (``total``), then
    who may be mailed and who not, and why (the exclusion segments first)."""

    total: int
    reachable: int
    excluded: list[tuple[str, str, int]]  # (reason, label, how many), in the order they apply

    def as_json(self) -> dict:
        return {
            "total": self.total,
            "reachable": self.reachable,
            "excluded": [{"reason": r, "label": label, "count": n} for r, label, n in self.excluded],
        }


def audience_count(
    *, shop_id: int, segment_ids: Sequence[int], excluded_segment_ids: Sequence[int], now: datetime, cap_hours: int
) -> AudienceCount:
    """One query: how many the campaign would reach now, and how many each reason leaves out."""
    if not segment_ids:
        return AudienceCount(total=0, reachable=0, excluded=[])
    excluded_by = None
    if excluded_segment_ids:
        stays = SegmentMembership.objects.filter(customer=OuterRef("pk"), exited_at=None)
        excluded_by = Exists(stays.filter(segment_id__in=list(excluded_segment_ids)))
    reach: Reach = exclusions(
        members(segment_ids=segment_ids), shop_id=shop_id, now=now, cap_hours=cap_hours, excluded_by=excluded_by
    )
    return AudienceCount(
        total=reach.total,
        reachable=reach.reachable,
        excluded=[(reason, Exclusion.LABELS[reason], n) for reason, n in reach.excluded.items()],
    )
