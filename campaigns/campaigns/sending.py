"""The campaign send pass: due campaigns, their audience worked out set-based, and the
email sent in batches through ``campaigns.emails.email_send``.

Every minute (``CELERY_BEAT_SCHEDULE``'s ``send-campaigns``, or the embedded default's
in-process scheduler) and right after a marketer presses Send now, ``campaigns_send_due``
takes each campaign that is scheduled and due, or still sending. One pass over a campaign:

1. claims it for ``LEASE`` (an ``UPDATE … WHERE claimed_until`` is past: two passes never
   work on one campaign at once, on either database);
2. the first time, marks it sending and records the audience then (count and exclusions);
3. reads the reachable members not sent yet (one query: segments, consent, suppression,
   address, frequency cap, no ``Send`` for this email), their ids and time zones;
4. works out who is due now, per time zone, not per customer: the campaign's local hour
   or the drawn variant's send hour (a send-time test), and the quiet hours of the
   sending policy; an automatic winner's test sends only to the test share until the
   test ends, then the winner to the rest;
5. sends to the due ones (``email_send``: one transaction per 5,000, once per customer),
   renewing its claim after each batch;
6. marks the campaign sent when nobody is left waiting.

A pass killed half-way is simply run again: what was sent has its ``Send`` and is left
out, the rest is sent. Customers the cap holds back while the campaign is still sending
(waiting for other customers' hours or the winner) get it once the cap lets them; a
campaign that had nobody left waiting is done, and those the cap held back then are not
sent to.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns import emails
from campaigns.campaigns.audience import audience_count, campaign_cap_hours, campaign_reachable
from campaigns.campaigns.winner import pick_winner
from campaigns.emails import SendResult, arms_draw, email_send
from campaigns.experiments.assignment import HOLDOUT, uniform
from campaigns.local_time import in_quiet_hours, next_hour, zone
from campaigns.models import Campaign, CampaignStatus, Send, SendingPolicy, Timing

logger = logging.getLogger(__name__)

# How long one pass holds a campaign past its last sign of life: the claim, then each batch
# sent renews it. A pass that dies is taken over this long after its last batch, which is
# longer than any one step of a pass takes (reading a million-customer audience: seconds).
LEASE = timedelta(minutes=3)


@dataclass(frozen=True)
class PassResult:
    sent: int = 0  # messages queued by this pass
    held_out: int = 0
    waiting: int = 0  # reachable customers left for a later pass
    finished: bool = False


def campaigns_send_due(*, now: datetime | None = None) -> dict[int, PassResult]:
    """One pass over every campaign that is due or still sending (see the module)."""
    now = now or timezone.now()
    due = Campaign.objects.filter(
        Q(status=CampaignStatus.SCHEDULED, send_at__lte=now) | Q(status=CampaignStatus.SENDING)
    ).order_by("send_at", "pk")
    results = {}
    for campaign_id in due.values_list("pk", flat=True):
        result = campaign_send_pass(campaign_id=campaign_id, now=now)
        if result is not None:
            results[campaign_id] = result
    return results


def _claim(campaign_id: int, now: datetime) -> bool:
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    due = Q(status=CampaignStatus.SCHEDULED, send_at__lte=now) | Q(status=CampaignStatus.SENDING)
    return bool(Campaign.objects.filter(free, due, pk=campaign_id).update(claimed_until=now + LEASE))


def campaign_send_pass(*, campaign_id: int, now: datetime | None = None) -> PassResult | None:
    """One pass over one campaign; None when it is not due or another pass holds it."""
    now = now or timezone.now()
    if not _claim(campaign_id, now):
        return None
    try:
        return _send(Campaign.objects.select_related("email").get(pk=campaign_id), now)
    finally:
        Campaign.objects.filter(pk=campaign_id).update(claimed_until=None)


def _start(campaign: Campaign, now: datetime, cap_hours: int) -> None:
    count = audience_count(
        shop_id=campaign.shop_id,
        segment_ids=[s.pk for s in campaign.segments.all()],
        excluded_segment_ids=[s.pk for s in campaign.excluded_segments.all()],
        now=now,
        cap_hours=cap_hours,
    )
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = now
    campaign.send_at = campaign.send_at or now
    campaign.audience_count = count.reachable
    campaign.excluded_counts = {"total": count.total, **{reason: n for reason, _, n in count.excluded}}
    campaign.save(update_fields=["status", "started_at", "send_at", "audience_count", "excluded_counts", "updated_at"])


def _candidates(campaign: Campaign, now: datetime, cap_hours: int) -> tuple[np.ndarray, np.ndarray]:
    """The reachable members this email has not reached yet: ids and time-zone names."""
    sent = Send.objects.filter(email_id=campaign.email_id, customer=OuterRef("pk"), occasion="")
    rows = (
        campaign_reachable(campaign, now=now, cap_hours=cap_hours)
        .exclude(Exists(sent))
        .order_by("pk")
        .values_list("pk", "time_zone")
    )
    pairs = list(rows.iterator(chunk_size=20_000))
    ids = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    zones = np.array([p[1] or "" for p in pairs], dtype=object)
    return ids, zones


def _due_mask(
    campaign: Campaign, ids: np.ndarray, zones: np.ndarray, now: datetime, policy: SendingPolicy
) -> np.ndarray:
    """Who of these may get the email now: their hour reached (the campaign's local hour,
    or their variant's send hour), and not in their quiet hours. Worked out once per (zone,
    hour), spread with numpy."""
    if not len(ids):
        return np.zeros(0, dtype=bool)
    hours = np.full(len(ids), -1, dtype=np.int64)
    if campaign.timing == Timing.LOCAL_HOUR and campaign.local_hour is not None:
        hours[:] = campaign.local_hour
    variants = list(campaign.email.variants.order_by("id"))
    if any(v.send_hour is not None for v in variants) and not campaign.auto_winner:
        arms = arms_draw(campaign.email, variants, ids)
        variant_hours = np.array([-1 if v.send_hour is None else v.send_hour for v in variants], dtype=np.int64)
        drawn = arms != HOLDOUT
        hours[drawn] = np.where(variant_hours[arms[drawn]] >= 0, variant_hours[arms[drawn]], hours[drawn])
    names, zone_of = np.unique(zones.astype(str), return_inverse=True)
    start = campaign.send_at or now
    keys, key_of = np.unique(zone_of * 25 + (hours + 1), return_inverse=True)
    due_now = np.empty(len(keys), dtype=bool)
    for i, key in enumerate(keys.tolist()):
        tz = zone(str(names[key // 25]))
        hour = key % 25 - 1
        due_at = start if hour < 0 else next_hour(start, tz, hour)
        quiet = in_quiet_hours(now.astimezone(tz).hour, policy.quiet_start, policy.quiet_end)
        due_now[i] = due_at <= now and not quiet
    return due_now[key_of]


def _pick(campaign: Campaign, now: datetime) -> None:
    pick = pick_winner(campaign.email)
    note = pick.note
    campaign.winner_id = pick.variant_id
    campaign.winner_picked_at = now
    campaign.winner_note = note[:300]
    campaign.save(update_fields=["winner", "winner_picked_at", "winner_note", "updated_at"])


def _send_in_batches(campaign: Campaign, ids: np.ndarray, now: datetime, only_variant) -> SendResult:
    """``email_send`` a batch at a time, the claim renewed after each: a long send keeps its
    campaign, and a killed one frees it ``LEASE`` after its last batch."""
    started = time.monotonic()
    total = SendResult(queued=0, held_out=0, already=0)
    batch = emails.BATCH
    for start in range(0, len(ids), batch):
        part = email_send(
            email=campaign.email, customer_ids=ids[start : start + batch].tolist(), now=now, only_variant=only_variant
        )
        total = SendResult(
            queued=total.queued + part.queued,
            held_out=total.held_out + part.held_out,
            already=total.already + part.already,
        )
        alive = now + timedelta(seconds=time.monotonic() - started) + LEASE
        Campaign.objects.filter(pk=campaign.pk).update(claimed_until=alive)
    return total


def _send(campaign: Campaign, now: datetime) -> PassResult:
    policy = SendingPolicy.current()
    cap_hours = campaign_cap_hours(campaign, policy)
    if campaign.status == CampaignStatus.SCHEDULED:
        _start(campaign, now, cap_hours)
    ids, zones = _candidates(campaign, now, cap_hours)
    due = _due_mask(campaign, ids, zones, now, policy)
    only_variant = None
    testing = campaign.auto_winner and campaign.winner_picked_at is None
    if testing:
        assert campaign.started_at is not None
        if now < campaign.started_at + timedelta(hours=campaign.test_hours):
            due &= uniform(ids, f"campaign-test:{campaign.pk}") < campaign.test_percent / 100
        else:
            _pick(campaign, now)
            testing = False
    if campaign.auto_winner and not testing and campaign.winner_id is not None:
        only_variant = campaign.winner
    result = _send_in_batches(campaign, ids[due], now, only_variant)
    waiting = int((~due).sum())
    finished = waiting == 0 and not testing
    if finished:
        with transaction.atomic():
            Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
                status=CampaignStatus.SENT, finished_at=now, updated_at=now
            )
    logger.info("Campaign %s: %s queued, %s held out, %s waiting", campaign.pk, result.queued, result.held_out, waiting)
    return PassResult(sent=result.queued, held_out=result.held_out, waiting=waiting, finished=finished)
