"""The nightly pass over one range of customer ids, in order: reward codes that expired
unused (their points come back first, so they can expire with the rest), birthday bonuses,
points expiry and its warnings, then tiers.

Each step runs through ``chunk_run_range``: a customer whose rows a step cannot process (a
sum beyond its column, a date out of range) is logged and left out of that step, and the
rest of the range, and every later step, carry on."""

from datetime import datetime

from django.utils import timezone

from core.chunks import chunk_run_range
from loyalty.bonuses import birthdays_award_range
from loyalty.expiry import codes_expire_range, points_expire_range
from loyalty.tiers import tiers_evaluate_range


def loyalty_nightly_pass(first_id: int, last_id: int, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()

    def step(name, fn, empty=0):
        return chunk_run_range(
            f"loyalty nightly: {name}", first_id, last_id, lambda lo, hi: fn(lo, hi, now=now), empty=empty
        )

    codes = step("reward codes", codes_expire_range)
    birthdays = step("birthdays", birthdays_award_range)
    expired, warned = step("expiry", points_expire_range, empty=(0, 0))
    tiers = step("tiers", tiers_evaluate_range)
    return {"codes_expired": codes, "birthdays": birthdays, "expired": expired, "warned": warned, "tiers": tiers}
