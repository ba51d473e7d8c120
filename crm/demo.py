"""The demo, app by app: what ``seed_demo`` writes after the customers app's shop history.

The customers app seeds shops, customers, orders, refunds and events and knows no other app;
this composition layer then seeds each app on top of them (loyalty, support) and brings the
derived data up to date (points, tiers, SLA states, segment members), so every role's first
screen has something in it. Each step is set-based and reports its time.
"""

import time
from collections.abc import Callable
from datetime import datetime

from campaigns.models import Segment
from campaigns.services import segment_refresh
from loyalty.demo_data import seed_loyalty
from support.demo_data import seed_support
from support.escalation import sla_sweep


def seed_apps(*, rng_seed: int, now: datetime, report: Callable[[str], None] = lambda _: None) -> None:
    def step(label: str, fn):
        started = time.monotonic()
        result = fn()
        report(f"{label}: {result} ({time.monotonic() - started:.1f} s)")

    step("Loyalty (programme, tiers, rules, rewards, points)", lambda: seed_loyalty(now=now))
    step(
        "Support (hours, SLA policies, teams, macros, tickets, reviews, NPS)",
        lambda: seed_support(rng_seed=rng_seed, now=now),
    )
    step("SLA states", lambda: sla_sweep(now=now))
    step(
        "Segments refreshed",
        lambda: sum(
            sum(segment_refresh(segment=s)) for s in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk")
        ),
    )
