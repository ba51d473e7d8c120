"""The nightly pass over one range of customer ids, in order: reward codes that expired
unused (their points come back first, so they can expire with the rest), birthday bonuses,
points expiry and its warnings, then tiers."""

from datetime import datetime

from django.utils import timezone

from loyalty.bonuses import birthdays_award_range
from loyalty.expiry import codes_expire_range, points_expire_range
from loyalty.tiers import tiers_evaluate_range


def loyalty_nightly_pass(first_id: int, last_id: int, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    codes = codes_expire_range(first_id, last_id, now=now)
    birthdays = birthdays_award_range(first_id, last_id, now=now)
    expired, warned = points_expire_range(first_id, last_id, now=now)
    tiers = tiers_evaluate_range(first_id, last_id, now=now)
    return {"codes_expired": codes, "birthdays": birthdays, "expired": expired, "warned": warned, "tiers": tiers}
