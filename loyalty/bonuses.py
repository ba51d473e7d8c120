"""Bonus points for occasions other than an order: a published review, a birthday, a custom
event a shop pushes. (Referrals are in ``loyalty.referrals``; the first-order bonus is paid
with the order's points in ``loyalty.earning``.)

Each active rule of the occasion's kind, in force at the occasion's time, pays its points
times the account's tier multiplier, spendable at once (no return window: nothing here can
be refunded). A review or an event pays into the customer's account in the group of the shop
that sent it; a birthday pays into each group the customer is in (an account there, or a
shop of the group they are known in). An occasion's entry is
keyed ``<occasion>:customer:<id>:group:<id>:rule:<id>``, so a replayed event or a re-run
night pays nothing twice.
"""

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import Customer, CustomerIdentity, Shop
from loyalty.ledger import Entry, accounts_lock, entries_post
from loyalty.models import Account, EarningRule, EntryKind, RuleKind
from loyalty.programme import Multipliers, programme_get, rule_in_force, rule_points


@dataclass(frozen=True)
class Occasion:
    customer_id: int
    group_id: int  # the account it pays into
    source: str  # "review:12", "birthday:2026", "event:99": with the rule, the entry's key
    at: datetime


def bonuses_award(kind: str, occasions: Sequence[Occasion], *, event_type: str = "") -> int:
    """Pay the bonus rules of ``kind`` for these occasions; returns the entries written."""
    programme = programme_get()
    if not programme.is_active or not occasions:
        return 0
    rules = EarningRule.objects.filter(kind=kind, is_active=True)
    if kind == RuleKind.EVENT:
        rules = rules.filter(event_type=event_type)
    rules = list(rules)
    occasions = [o for o in occasions if o.at >= programme.starts_at]
    if not rules or not occasions:
        return 0
    multipliers = Multipliers.load()
    with transaction.atomic():
        ids = accounts_lock([], pairs=[(o.customer_id, o.group_id) for o in occasions])
        tiers = (
            {
                (cid, gid): tier
                for cid, gid, tier in Account.objects.filter(customer_id__in=ids).values_list(
                    "customer_id", "group_id", "tier_id"
                )
            }
            if multipliers.by_tier
            else {}
        )
        entries = []
        for occasion in occasions:
            for rule in rules:
                if not rule_in_force(rule, occasion.at):
                    continue
                tier = tiers.get((occasion.customer_id, occasion.group_id))
                points = rule_points(rule, multiplier=multipliers.get(rule.id, tier))
                if points <= 0:
                    continue
                entries.append(
                    Entry(
                        customer_id=occasion.customer_id,
                        group_id=occasion.group_id,
                        kind=EntryKind.EARN,
                        key=f"{occasion.source}:customer:{occasion.customer_id}:group:{occasion.group_id}:rule:{rule.id}",
                        source=occasion.source,
                        available=points,
                        rule_id=rule.id,
                        reason=rule.name,
                    )
                )
        return len(entries_post(entries))


def reviews_published(reviews: Iterable) -> int:
    """Support calls this (through ``crm.wiring``) for reviews as they are published."""
    reviews = list(reviews)
    groups = _groups_of({r.shop_id for r in reviews})
    return bonuses_award(
        RuleKind.REVIEW,
        [Occasion(r.customer_id, groups[r.shop_id], f"review:{r.pk}", r.created_at) for r in reviews],
    )


def event_received(event) -> int:
    """A shop's custom event: the event rules for its type pay out, once per event."""
    group_id = _groups_of({event.shop_id})[event.shop_id]
    return bonuses_award(
        RuleKind.EVENT,
        [Occasion(event.customer_id, group_id, f"event:{event.pk}", event.occurred_at)],
        event_type=event.type,
    )


def _groups_of(shop_ids: set[int]) -> dict[int, int]:
    return dict(Shop.objects.filter(pk__in=shop_ids).values_list("pk", "group_id")) if shop_ids else {}


def birthdays_award_range(first_id: int, last_id: int, *, now: datetime | None = None) -> int:
    """Nightly: customers of this range whose birthday is today get the birthday bonus, once
    a year (a 29 February birthday is kept on 28 February in other years)."""
    now = now or timezone.now()
    if not EarningRule.objects.filter(kind=RuleKind.BIRTHDAY, is_active=True).exists():
        return 0
    today = timezone.localdate(now)
    born_today = Q(birthday__month=today.month, birthday__day=today.day)
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        born_today |= Q(birthday__month=2, birthday__day=29)
    # One bonus per shop group the customer is in: each account they have, and each group of
    # a shop they are known in (each group's balance is its own).
    born = Customer.objects.filter(born_today, pk__range=(first_id, last_id))
    pairs = set(Account.objects.filter(customer__in=born).values_list("customer_id", "group_id"))
    pairs |= set(CustomerIdentity.objects.filter(customer__in=born).values_list("customer_id", "shop__group_id"))
    pairs |= set(born.filter(first_seen_shop__isnull=False).values_list("pk", "first_seen_shop__group_id"))
    return bonuses_award(
        RuleKind.BIRTHDAY, [Occasion(cid, gid, f"birthday:{today.year}", now) for cid, gid in sorted(pairs)]
    )
