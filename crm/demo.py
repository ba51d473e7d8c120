"""The demo, app by app: what ``seed_demo`` writes after the customers app's shop history.

The customers app seeds shops, customers, orders, refunds and events and knows no other app;
this composition layer then seeds each app on top of them (loyalty, support) and brings the
derived data up to date (points, tiers, SLA states, segment members, recommendations), so
every role's first screen has something in it. Each step is set-based and reports its time.
"""

import time
from collections.abc import Callable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from campaigns.backfill import segment_backfill_days, segment_history_backfill
from campaigns.flows.shipped import shipped_flows_install_all
from campaigns.models import Segment
from campaigns.recommendations.build import recommendations_build_all
from campaigns.services import segment_refresh
from crm.dashboard.refresh import dashboard_rebuild
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from loyalty.demo_data import seed_loyalty
from support.demo_data import seed_support
from support.escalation import sla_sweep
from support.models import Macro

# A macro that speaks of loyalty, which support's own demo cannot (crm.wiring lends it the
# variables). Before a first tier it reads "as a member you now have 0 points to spend".
LOYALTY_MACRO = (
    "Loyalty points",
    "<p>Hi {{ first_name }},</p><p>we have checked your account: as a {{ loyalty_tier }} member you now have "
    "{{ points }} points to spend. Points from an order show once its return window has passed.</p>"
    "<p>{{ agent_name }}</p>",
)

# One staff user per role, so each role's screens can be tried: username → role.
DEMO_STAFF = {"agent": SUPPORT_AGENT, "marketer": MARKETER, "manager": MANAGER}
DEMO_PASSWORD = "demo"


def seed_apps(*, rng_seed: int, now: datetime, report: Callable[[str], None] = lambda _: None) -> None:
    def step(label: str, fn):
        started = time.monotonic()
        result = fn()
        report(f"{label}: {result} ({time.monotonic() - started:.1f} s)")

    step("Loyalty (programme, tiers, rules, rewards, points)", lambda: seed_loyalty(now=now))
    step(
        "Support (hours, SLA policies, teams, macros, tickets, reviews, NPS)",
        lambda: seed_support(rng_seed=rng_seed, now=now) | {"loyalty macro": demo_loyalty_macro_create()},
    )
    step("SLA states", lambda: sla_sweep(now=now))
    step(
        "Segments refreshed",
        lambda: sum(
            sum(segment_refresh(segment=s)) for s in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk")
        ),
    )
    step("Segment charts before the first refresh (days worked out from the orders)", segments_backfill)
    step(
        "Product recommendations (neighbours stored)",
        lambda: sum(result.neighbours for result in recommendations_build_all(now=now)),
    )
    step("Ready-made flows (switched off)", shipped_flows_install_all)
    step("Staff users (agent, marketer, manager; password demo)", demo_staff_create)
    step("Dashboard rollups", lambda: f"{dashboard_rebuild().seconds:.1f} s")


def demo_loyalty_macro_create() -> int:
    name, body = LOYALTY_MACRO
    return int(Macro.objects.get_or_create(name=name, defaults={"body": body})[1])


def segments_backfill() -> int:
    """The member counts of the chart's days before each segment's first refresh, where its
    rule can be read as of a past date; returns the days counted."""
    return sum(
        segment_history_backfill(segment=segment, days=segment_backfill_days(segment))
        for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk")
    )


def demo_staff_create() -> int:
    """The demo's staff users, one per role (created once; an existing one is left as it is)."""
    User = get_user_model()
    created = 0
    for username, role in DEMO_STAFF.items():
        # An address of their own, so "send a test" (Email → Preview) works in the demo: it
        # lands in the outbox, as all the demo's mail does.
        defaults = {"is_staff": True, "email": f"{username}@demo.example"}
        user, new = User.objects.get_or_create(username=username, defaults=defaults)
        if new:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role))
            created += 1
    return created
