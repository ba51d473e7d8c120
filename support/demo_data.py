"""The support desk's part of the demo: opening hours, SLA policies, teams, macros, tickets in
every SLA state, reviews and NPS answers, for the customers and orders already seeded.

Set-based: a handful of ``bulk_create`` calls whatever the number of customers. Due times
are set relative to ``now`` so the queue shows each state (on track, about to breach,
breached) on the first look; the SLA sweep then keeps them moving as time passes.
"""

from datetime import datetime, timedelta

import numpy as np
from django.conf import settings

from core.db.column_reader import Field, read_columns
from customers.models import Order, OrderLine
from support.models import (
    BusinessHours,
    CsatResponse,
    Macro,
    NpsResponse,
    Priority,
    Review,
    ReviewModeration,
    SlaPolicy,
    Team,
    Ticket,
    TicketMessage,
)
from support.sla import business_minutes_between
from support.sla_clock import calendar_of

SUBJECTS = [
    ("Where is my parcel?", "<p>I ordered a week ago and the tracking has not moved since Monday.</p>"),
    ("Wrong size delivered", "<p>I ordered the large mug and got the small one. Can I swap it?</p>"),
    ("Refund not received", "<p>You confirmed my return ten days ago but the money is not back yet.</p>"),
    ("Discount code rejected", "<p>The code from your newsletter says it is not valid at checkout.</p>"),
    ("Change delivery address", "<p>I moved last week; could you send my order to my new address?</p>"),
    ("Damaged on arrival", "<p>The teapot arrived with a crack in the lid. Photos attached.</p>"),
    ("Invoice with VAT number", "<p>Could you re-issue my invoice with our company VAT number?</p>"),
    ("Loyalty points missing", "<p>My last order does not show any points in my account.</p>"),
]
REVIEWS = {
    5: ("Love it", "Exactly as described, and it arrived quickly."),
    4: ("Very good", "Nice quality; the colour is a little darker than the photo."),
    3: ("It's fine", "Does the job, nothing special."),
    2: ("Disappointing", "Smaller than I expected from the pictures."),
    1: ("Broke in a week", "The handle came off after a few days of normal use."),
}
MACROS = [
    # Each reads well for a customer with no name, order or tier too (the variables' empty words).
    (
        "Where is my order",
        "<p>Hi {{ first_name }},</p><p>your order {{ last_order_number }} is on its way: here is the latest "
        "tracking.</p><p>{{ agent_name }}</p>",
        "",
    ),
    (
        "Refund issued",
        "<p>Hi {{ first_name }},</p><p>we have issued your refund; allow 5 to 10 days for it to reach your "
        "account.</p><p>{{ agent_name }}</p>",
        "solved",
    ),
    (
        "Ask for photos",
        "<p>Hi {{ first_name }},</p><p>could you send us a photo of the damage?</p><p>{{ agent_name }}</p>",
        "pending",
    ),
]


def seed_support(*, rng_seed: int, now: datetime) -> dict[str, int]:
    """Seed the desk for the customers in the database; returns counts of what was written."""
    rng = np.random.default_rng(rng_seed)
    hours, _ = BusinessHours.objects.get_or_create(
        name="Office hours (Mon–Fri 09:00–17:00 UTC)",
        defaults={"time_zone": "UTC", "weekly": {str(d): ["09:00", "17:00"] for d in range(5)}},
    )
    policies = {}
    for priority, first, resolve in (
        (Priority.URGENT, 60, 8 * 60),
        (Priority.HIGH, 4 * 60, 2 * 8 * 60),
        (Priority.NORMAL, 8 * 60, 5 * 8 * 60),
        (Priority.LOW, 2 * 8 * 60, 10 * 8 * 60),
    ):
        policies[priority], _ = SlaPolicy.objects.get_or_create(
            priority=priority,
            value_band="",
            is_active=True,
            defaults={
                "name": f"{priority.label.capitalize()} priority",
                "first_response_minutes": first,
                "resolution_minutes": resolve,
                "business_hours": hours,
            },
        )
    SlaPolicy.objects.get_or_create(
        priority=Priority.HIGH,
        value_band=SlaPolicy.ValueBand.HIGH,
        is_active=True,
        defaults={
            "name": "High priority, high-value customer",
            "first_response_minutes": 60,
            "resolution_minutes": 480,
        },
    )
    teams = [
        Team.objects.get_or_create(name=name, defaults={"handles_escalations": esc})[0]
        for name, esc in (("Front line", False), ("Billing", False), ("Escalations", True))
    ]
    for name, body, status in MACROS:
        Macro.objects.get_or_create(name=name, defaults={"body": body, "set_status": status})
    if not ReviewModeration.objects.exists():
        ReviewModeration.objects.create()

    buyers = _buyers()
    if buyers.size == 0:
        return {"tickets": 0, "reviews": 0, "nps": 0}
    tickets = _tickets(rng, buyers, policies, teams, now)
    reviews = _reviews(rng, now)
    nps = _nps(rng, buyers, now)
    return {"tickets": tickets, "reviews": reviews, "nps": nps}


def _buyers() -> np.ndarray:
    """Every (customer, shop) pair with an order, sorted. Read as numpy columns and made
    unique here: PostgreSQL's ``SELECT DISTINCT`` of the pairs spilled its hash to disk and
    ran for more than ten minutes on the million-customer demo (five million orders)."""
    orders = read_columns(
        [Field("customer_id", "customer_id"), Field("shop_id", "shop_id")],
        f"FROM {Order._meta.db_table} WHERE customer_id IS NOT NULL",
        [],
    )
    pairs = np.column_stack([orders["customer_id"], orders["shop_id"]])
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def _tickets(rng, buyers: np.ndarray, policies, teams, now: datetime) -> int:
    """About one open ticket per 40 buyers (at least 12), a third each on track, about to
    breach and breached; as many solved ones, half of them rated."""
    n_open = max(12, len(buyers) // 40)
    n_solved = n_open
    pick = buyers[rng.choice(len(buyers), n_open + n_solved, replace=len(buyers) < n_open + n_solved)]
    warning = settings.SLA_WARNING
    calendars = {policy.pk: calendar_of(policy) for policy in policies.values()}
    rows, messages = [], []
    for i, (customer_id, shop_id) in enumerate(pick.tolist()):
        subject, body = SUBJECTS[i % len(SUBJECTS)]
        priority = [Priority.NORMAL, Priority.HIGH, Priority.LOW, Priority.URGENT][int(rng.integers(0, 4))]
        ticket = Ticket(
            shop_id=shop_id,
            customer_id=customer_id,
            subject=subject,
            priority=priority,
            sla_policy=policies[priority],
            team=teams[i % 2],
            channel=["email", "chat", "web_form"][i % 3],
        )
        if i < n_open:
            state = i % 3  # 0 on track, 1 about to breach, 2 breached
            if state == 0:
                due = now + timedelta(hours=int(rng.integers(3, 72)))
            elif state == 1:
                due = now + warning * float(rng.uniform(0.2, 0.8))
            else:
                due = now - timedelta(hours=int(rng.integers(1, 30)))
            ticket.status = "new" if i % 2 else "open"
            ticket.created_at = min(due, now) - timedelta(hours=int(rng.integers(2, 48)))
            ticket.resolution_due_at = due
            if ticket.status == "new":
                ticket.first_response_due_at = due
        else:
            ticket.status = "solved"
            ticket.created_at = now - timedelta(days=int(rng.integers(2, 60)), hours=int(rng.integers(0, 23)))
            ticket.first_responded_at = ticket.created_at + timedelta(hours=int(rng.integers(1, 6)))
            ticket.solved_at = ticket.first_responded_at + timedelta(hours=int(rng.integers(1, 48)))
            _record_targets(ticket, calendars[ticket.sla_policy.pk])
        rows.append(ticket)
        messages.append(body)
    created = Ticket.objects.bulk_create(rows)
    thread = []
    for ticket, body in zip(created, messages, strict=True):
        thread.append(TicketMessage(ticket=ticket, author_kind="customer", body=body, created_at=ticket.created_at))
        if ticket.status == "solved":
            thread.append(
                TicketMessage(
                    ticket=ticket,
                    author_kind="agent",
                    body="<p>Thank you for your patience: this is sorted now.</p>",
                    created_at=ticket.first_responded_at,
                )
            )
    TicketMessage.objects.bulk_create(thread)
    solved = [t for t in created if t.status == "solved"]
    CsatResponse.objects.bulk_create(
        CsatResponse(
            ticket=t,
            customer_id=t.customer_id,
            team=t.team,
            rating=int(rng.choice([5, 4, 3, 2, 1], p=[0.55, 0.25, 0.1, 0.05, 0.05])),
            created_at=t.solved_at + timedelta(hours=2),
        )
        for t in solved[::2]
    )
    return len(created)


def _record_targets(ticket: Ticket, calendar) -> None:
    """Whether a solved demo ticket met its policy's targets (never paused: the business
    time from opening to each answer), as the desk records it when each clock stops."""
    policy = ticket.sla_policy
    took = business_minutes_between(ticket.created_at, ticket.first_responded_at, calendar)
    ticket.first_response_met = took <= policy.first_response_minutes
    took = business_minutes_between(ticket.created_at, ticket.solved_at, calendar)
    ticket.resolution_met = took <= policy.resolution_minutes


def _reviews(rng, now: datetime) -> int:
    """Reviews of about one in twelve delivered order lines with a product: most published,
    the low ones waiting for moderation, a few answered by staff."""
    lines = list(
        OrderLine.objects.filter(product__isnull=False, order__status="fulfilled", order__customer__isnull=False)
        .order_by("id")
        .values_list("order__shop_id", "order__customer_id", "product_id", "order__placed_at")
    )
    if not lines:
        return 0
    take = np.flatnonzero(rng.random(len(lines)) < 1 / 12)
    seen, rows = set(), []
    for i in take.tolist():
        shop_id, customer_id, product_id, placed_at = lines[i]
        if (customer_id, product_id) in seen:
            continue
        seen.add((customer_id, product_id))
        rating = int(rng.choice([5, 4, 3, 2, 1], p=[0.5, 0.25, 0.1, 0.08, 0.07]))
        title, body = REVIEWS[rating]
        written = min(placed_at + timedelta(days=int(rng.integers(5, 30))), now - timedelta(minutes=5))
        rows.append(
            Review(
                shop_id=shop_id,
                customer_id=customer_id,
                product_id=product_id,
                rating=rating,
                title=title,
                body=body,
                status="published" if rating >= 4 else "pending",
                verified_buyer=True,
                created_at=written,
                response="Thank you for the kind words!" if rating == 5 and len(rows) % 7 == 0 else "",
                responded_at=written + timedelta(days=1) if rating == 5 and len(rows) % 7 == 0 else None,
            )
        )
    Review.objects.bulk_create(rows)
    return len(rows)


def _nps(rng, buyers: np.ndarray, now: datetime) -> int:
    """NPS answers from about one buyer in six, over the last year: mostly promoters."""
    who = buyers[rng.random(len(buyers)) < 1 / 6]
    scores = rng.choice(np.arange(11), len(who), p=[0.02, 0.01, 0.02, 0.03, 0.03, 0.05, 0.07, 0.1, 0.17, 0.25, 0.25])
    ages = rng.integers(0, 365 * 24 * 60, len(who))
    NpsResponse.objects.bulk_create(
        NpsResponse(
            customer_id=customer_id,
            shop_id=shop_id,
            score=int(score),
            comment="Great service, fast delivery." if score >= 9 else ("" if score >= 7 else "Shipping was slow."),
            created_at=now - timedelta(minutes=int(age)),
        )
        for (customer_id, shop_id), score, age in zip(who.tolist(), scores.tolist(), ages.tolist(), strict=True)
    )
    return len(who)
