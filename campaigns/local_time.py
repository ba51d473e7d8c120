"""The customer's clock: their time zone, their quiet hours, the next time their day reaches
an hour. Worked out per time zone, not per customer: a million customers live in a few
hundred zones, so each answer is computed once per zone and spread with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from django.conf import settings


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The zone called ``name``; the CRM's own (``TIME_ZONE``) when it is empty or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo(settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def next_hour(now: datetime, tz: ZoneInfo, hour: int) -> datetime:
    """The first moment at or after ``now`` when the clock in ``tz`` reads ``hour``:00."""
    local = now.astimezone(tz)
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate < local:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour)
    return candidate.astimezone(now.tzinfo)


def in_quiet_hours(hour: int, start: int, end: int) -> bool:
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


def quiet_until(now: datetime, tz: ZoneInfo, start: int, end: int) -> datetime | None:
    """When the quiet hours (``start`` to ``end``, customer's clock) that hold ``now`` end;
    None when ``now`` is not in them."""
    if not in_quiet_hours(now.astimezone(tz).hour, start, end):
        return None
    return next_hour(now, tz, end)


def per_zone(names: Sequence[str], answer) -> np.ndarray:
    """``answer(zone)`` for each name, computed once per distinct name (an object array)."""
    keys, inverse = np.unique(np.asarray(names, dtype=object).astype(str), return_inverse=True)
    values = np.empty(len(keys), dtype=object)
    values[:] = [answer(zone(str(name))) for name in keys]
    return values[inverse]
