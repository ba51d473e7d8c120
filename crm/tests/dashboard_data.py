"""A small hand-made history for the dashboard's tests: two shops (USD, EUR), nine people,
a month to look at (March 2025 in Berlin, whose days begin at 23:00 or 22:00 UTC) and the
month before it, with edges on purpose: orders late in the evening UTC that fall on the
next day in Berlin, two orders on one day, a cancelled and a refunded order, a partial
refund, a customer no shop first saw, a merged ticket, a ledger entry after midnight.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import transaction

from customers.models import ClvModel, Customer, CustomerMetrics, Order, Shop, StageChange
from customers.tests.factories import CustomerFactory, OrderFactory, RefundFactory, ShopFactory
from loyalty.ledger import Entry, entries_post
from loyalty.models import Programme
from support.models import CsatResponse, NpsResponse, Ticket

TIME_ZONE = "Europe/Berlin"
FIRST, LAST = date(2025, 3, 1), date(2025, 3, 31)


def at(text: str) -> datetime:
    """A UTC time, "2025-03-05 12:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class History:
    web: Shop
    eu: Shop
    people: dict[str, Customer]


def build(staff) -> History:
    web = ShopFactory(slug="web", name="Web shop")
    eu = ShopFactory(slug="eu", name="EU shop")
    homes = {"ann": web, "bob": web, "cat": eu, "dan": eu, "eve": web, "fay": web, "gus": eu, "hal": web, "ivy": None}
    people = {name: CustomerFactory(first_name=name.title(), first_seen_shop=shop) for name, shop in homes.items()}

    def order(who, when, total, *, shop=web, currency="USD", base=None, status=Order.Status.PAID):
        return OrderFactory(
            customer=people[who],
            shop=shop,
            placed_at=at(when),
            total=Decimal(total),
            currency=currency,
            total_base=Decimal(base or total),
            status=status,
        )

    order("ann", "2025-02-10 12:00", "50.00")
    order("ann", "2025-03-05 12:00", "30.00")
    order("ann", "2025-03-20 12:00", "20.00", status=Order.Status.FULFILLED)
    order("bob", "2025-03-10 09:00", "40.00")
    order("bob", "2025-03-10 15:00", "10.00")  # the same day: one purchase
    cat = order("cat", "2025-03-15 10:00", "100.00", shop=eu, currency="EUR", base="110.00")
    RefundFactory(order=cat, amount=Decimal("20.00"), amount_base=Decimal("22.00"), refunded_at=at("2025-03-18 10:00"))
    order("cat", "2025-04-02 10:00", "50.00", shop=eu, currency="EUR", base="55.00")
    order("dan", "2025-02-20 10:00", "60.00", shop=eu, currency="EUR", base="66.00")
    order("eve", "2025-02-28 23:30", "25.00")  # 1 March, 00:30 in Berlin
    order("eve", "2025-03-31 22:30", "15.00")  # 1 April, 00:30 in Berlin (summer time)
    order("fay", "2025-03-12 10:00", "70.00", status=Order.Status.CANCELLED)
    order("fay", "2025-03-13 10:00", "80.00", status=Order.Status.REFUNDED)
    order("gus", "2024-12-05 10:00", "80.00", shop=eu, currency="EUR", base="88.00")
    order("gus", "2025-03-08 10:00", "40.00")  # in the web shop, though the EU shop first saw him
    order("hal", "2025-01-29 10:00", "45.00")
    order("hal", "2025-03-31 21:00", "35.00")  # 23:00 in Berlin: still March
    order("ivy", "2025-03-03 10:00", "12.00")

    for who, changes in {
        "ann": [("", "new", "2025-02-10 12:00"), ("new", "active", "2025-03-05 12:00")],
        "bob": [("", "new", "2025-03-10 09:00")],
        "cat": [("", "new", "2025-03-15 10:00")],
        "dan": [("", "new", "2025-02-20 10:00"), ("new", "at_risk", "2025-03-25 10:00")],
        "fay": [("", "prospect", "2025-03-12 10:00")],
        "gus": [
            ("", "active", "2024-12-05 10:00"),
            ("active", "at_risk", "2025-02-15 10:00"),
            ("at_risk", "active", "2025-03-08 10:00"),
        ],
        "eve": [("", "new", "2025-02-28 23:30")],  # 1 March in Berlin
        "ivy": [("", "new", "2025-03-03 10:00")],
        "hal": [("", "new", "2025-01-29 10:00"), ("new", "lapsed", "2025-03-31 22:30")],  # 1 April in Berlin
    }.items():
        for before, after, when in changes:
            StageChange.objects.create(
                customer=people[who], from_stage=before, to_stage=after, changed_at=at(when), reason="test"
            )

    clv = {
        "ann": 120.0,
        "bob": 30.0,
        "cat": 7.5,
        "dan": None,
        "eve": 10.0,
        "fay": None,
        "gus": 3000.0,
        "hal": 260.0,
        "ivy": 0.0,
    }
    for who, value in clv.items():
        latest = StageChange.objects.filter(customer=people[who]).order_by("-changed_at").first()
        CustomerMetrics.objects.create(
            customer=people[who],
            computed_at=at("2025-04-01 00:00"),
            stage=latest.to_stage if latest else "prospect",
            stage_since=at("2025-04-01 00:00"),
            clv_predicted=value,
        )
    ClvModel.objects.create(
        status=ClvModel.Status.FITTED,
        observation_end=date(2025, 3, 31),
        time_unit="weeks",
        n_customers=8,
        n_repeat_buyers=4,
        holdout={
            "calibration_end": "2024-12-31",
            "holdout_days": 90,
            "predicted_total": 105.0,
            "actual_total": 100,
            "buckets": [{"frequency": "0", "customers": 5, "predicted": 0.5, "actual": 0.4}],
        },
    )

    nps = [(web, 10)] * 14 + [(web, 9)] * 6 + [(web, 8)] * 4 + [(web, 7)] * 2 + [(web, 5)] * 6 + [(eu, 0), (eu, 10)]
    for i, (shop, score) in enumerate(nps):
        NpsResponse.objects.create(
            customer=people["ann"], shop=shop, score=score, created_at=at(f"2025-03-{1 + i % 28:02d} 10:00")
        )
    NpsResponse.objects.create(customer=people["bob"], shop=web, score=0, created_at=at("2025-04-05 10:00"))

    def ticket(shop, opened, responded=None, solved=None, first_met=None, solved_met=None, **more):
        return Ticket.objects.create(
            customer=people["ann"],
            shop=shop,
            subject="Help",
            created_at=at(opened),
            first_responded_at=responded and at(responded),
            solved_at=solved and at(solved),
            status="solved" if solved else "open",
            first_response_met=first_met,
            resolution_met=solved_met,
            **more,
        )

    t1 = ticket(web, "2025-03-02 08:00", "2025-03-02 09:00", "2025-03-03 08:00", True, True)
    ticket(web, "2025-03-04 10:00", "2025-03-04 13:30", "2025-03-06 10:00", False, False)
    ticket(eu, "2025-03-05 10:00", "2025-03-05 10:05", None, True)
    ticket(web, "2025-02-27 10:00", "2025-03-01 10:00", "2025-03-01 12:00")  # no SLA policy
    ticket(web, "2025-03-06 10:00", "2025-03-06 11:00", "2025-03-06 12:00", True, True, merged_into=t1)
    ticket(web, "2025-03-31 21:00", "2025-03-31 22:30", None, True)  # answered on 1 April in Berlin
    for i, rating in enumerate([5, 4, 3, 1, 5]):
        rated = ticket(web, "2025-03-10 10:00", "2025-03-10 11:00", "2025-03-10 12:00")
        CsatResponse.objects.create(
            ticket=rated, customer=people["ann"], rating=rating, created_at=at(f"2025-03-1{i} 13:00")
        )

    Programme.objects.create(pk=1, starts_at=at("2024-01-01 00:00"), point_value=Decimal("0.01"))
    entries = [
        ("ann", web, "earn", 100, 0, "2025-03-05 12:00"),
        ("ann", web, "earn", 0, 50, "2025-03-20 12:00"),
        ("ann", web, "redeem", -30, 0, "2025-03-25 12:00"),
        ("cat", eu, "earn", 200, 0, "2025-03-15 12:00"),
        ("cat", eu, "reverse", -40, 0, "2025-03-16 12:00"),
        ("dan", eu, "earn", 80, 0, "2025-02-20 12:00"),
        ("dan", eu, "expire", -80, 0, "2025-03-28 12:00"),
        ("gus", eu, "adjust", 25, 0, "2025-03-08 12:00"),
        ("bob", web, "earn", 10, 0, "2025-03-31 23:30"),  # 1 April in Berlin
    ]
    with transaction.atomic():
        for i, (who, shop, kind, available, pending, when) in enumerate(entries):
            extra = {"reason": "goodwill", "staff_id": staff.pk} if kind == "adjust" else {}
            entry = Entry(people[who].pk, shop.group_id, kind, f"test:{i}", "test", available, pending, **extra)
            entries_post([entry], at=at(when))
    return History(web, eu, people)
