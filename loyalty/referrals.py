"""Referrals: every customer's referral code, a new customer arriving with one, and both
rewarded once the new customer's first paid order clears the return window.

Guards, in the order they apply:

- refused at once (400): an unknown code, a customer referring themselves, or the same
  mailbox under another address (``ann+1@gmail.com`` for ``ann@gmail.com``: case, ``+tags``
  and Gmail's dots ignored), and a customer who is not new (a paid order more than a day
  before the referral; a shop often sends the sign-up with the first order);
- held for review when the first order clears: the order ships to an address the referrer
  has shipped to (it may be a flatmate, or the referrer again), or the referrer has reached
  the programme's weekly cap. A marketer approves or rejects them in the admin; an approved
  one is paid at the next run.

Referrals stay within a shop group: a code is an account's, so it names a customer in one
group; it is accepted only through a key of that group, and both sides are paid into their
accounts there. A customer may be referred once per group.

Rewards are keyed ``referral:<id>:customer:<id>:rule:<id>``, so a re-run pays nothing twice.
"""

import secrets
from collections import Counter
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.chunks import chunk_run_ids
from core.errors import Conflict, DomainError
from customers.models import Customer, Order
from loyalty.earning import NET
from loyalty.ledger import Entry, accounts_ensure, accounts_lock, entries_post
from loyalty.models import Account, EarningRule, EntryKind, Referral, RuleKind
from loyalty.programme import Multipliers, programme_get, rule_in_force, rule_points
from loyalty.services import CODE_ALPHABET

NEW_CUSTOMER_GRACE = timedelta(days=1)
GMAIL = {"gmail.com", "googlemail.com"}


def referral_code_of(customer_id: int, group_id: int) -> str:
    """The customer's referral code in this shop group, made on first use (unique; retried on
    the rare clash)."""
    accounts_ensure([(customer_id, group_id)])
    account = Account.objects.filter(customer_id=customer_id, group_id=group_id)
    for _ in range(10):
        code = account.values_list("referral_code", flat=True).first()
        if code:
            return code
        try:
            with transaction.atomic():
                candidate = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
                account.filter(referral_code__isnull=True).update(referral_code=candidate)
        except IntegrityError:
            continue
    raise RuntimeError("Could not find a free referral code.")


def mailbox(email: str) -> str:
    """The mailbox an address delivers to: lower case, without a +tag, and for Gmail without dots."""
    local, _, domain = (email or "").strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local else ""


def referral_attach(*, referee: Customer, group_id: int, code: str, now: datetime | None = None) -> Referral:
    """Record that ``referee`` came with ``code`` in this shop group; refused with a 4xx naming
    the field. A code of another group is unknown here."""
    now = now or timezone.now()
    code = (code or "").strip().upper()
    referrer_id = (
        Account.objects.filter(referral_code=code, group_id=group_id).values_list("customer_id", flat=True).first()
        if code
        else None
    )
    if referrer_id is None:
        raise DomainError("No customer has this referral code.", field="referral_code")
    if referrer_id == referee.pk:
        raise DomainError("A customer cannot refer themselves.", field="referral_code")
    referrer = Customer.objects.get(pk=referrer_id)
    if referee.email and mailbox(referee.email) == mailbox(referrer.email):
        raise DomainError("This code belongs to the same mailbox as the customer's own.", field="referral_code")
    ordered_before = Order.objects.earning().filter(
        customer=referee,
        shop__group_id=group_id,
        placed_at__lt=now - NEW_CUSTOMER_GRACE,
    )
    if ordered_before.exists():
        raise DomainError("Only a new customer can be referred: this one has ordered before.", field="referral_code")
    try:
        with transaction.atomic():
            return Referral.objects.create(referrer_id=referrer_id, referee=referee, group_id=group_id)
    except IntegrityError:
        raise Conflict("This customer was already referred.", field="referral_code") from None


def referrals_settle(*, now: datetime | None = None) -> int:
    """Pay the referrals whose new customer's first paid order has cleared the return window,
    or hold them for review; returns the referrals paid."""
    programme = programme_get()
    rules = list(EarningRule.objects.filter(kind=RuleKind.REFERRAL, is_active=True))
    now = now or timezone.now()
    if not programme.is_active or not any(rule_in_force(r, now) for r in rules):
        return 0
    cleared = (
        Order.objects.earning()
        .filter(
            customer_id=OuterRef("referee_id"),
            shop__group_id=OuterRef("group_id"),
            placed_at__lte=now - timedelta(days=programme.pending_days),
            placed_at__gte=OuterRef("created_at") - NEW_CUSTOMER_GRACE,
        )
        .alias(net=NET)
    )
    due = list(
        Referral.objects.filter(status=Referral.Status.PENDING)
        .filter(Exists(cleared.filter(net__gt=0)))
        .order_by("created_at", "id")
    )
    if not due:
        return 0
    multipliers = Multipliers.load()

    def settle(referee_ids: list[int]) -> int:
        among = set(referee_ids)
        return _settle([r for r in due if r.referee_id in among], rules, multipliers, programme, now)

    # By new customer: one whose data cannot be settled is logged and left out, not the rest.
    return chunk_run_ids("referral settlement", [r.referee_id for r in due], settle)


def _settle(due: list[Referral], rules: list[EarningRule], multipliers: Multipliers, programme, now: datetime) -> int:
    """Pay or hold these referrals, in the caller's transaction; returns the referrals paid."""
    paid = 0
    pairs = [(r.referrer_id, r.group_id) for r in due] + [(r.referee_id, r.group_id) for r in due]
    ids = accounts_lock([], pairs=pairs)
    tiers = {
        (cid, gid): tier
        for cid, gid, tier in Account.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "group_id", "tier_id"
        )
    }
    week_ago = now - timedelta(days=7)
    this_week = _rewarded_since(week_ago, {r.referrer_id for r in due})
    entries, decided = [], []
    for referral in Referral.objects.select_for_update().filter(pk__in=[r.pk for r in due]):
        if referral.status != Referral.Status.PENDING:
            continue
        hold = None if referral.reviewed_by_id else _hold_reason(referral, this_week, programme)
        if hold:
            referral.status, referral.hold_reason = Referral.Status.REVIEW, hold
            decided.append(referral)
            continue
        for customer_id in (referral.referrer_id, referral.referee_id):
            for rule in rules:
                if not rule_in_force(rule, now):
                    continue
                entries.append(
                    Entry(
                        customer_id=customer_id,
                        group_id=referral.group_id,
                        kind=EntryKind.EARN,
                        key=f"referral:{referral.pk}:customer:{customer_id}:rule:{rule.id}",
                        source=f"referral:{referral.pk}",
                        available=rule_points(
                            rule, multiplier=multipliers.get(rule.id, tiers.get((customer_id, referral.group_id)))
                        ),
                        rule_id=rule.id,
                        reason=rule.name,
                    )
                )
        referral.status, referral.rewarded_at = Referral.Status.REWARDED, now
        decided.append(referral)
        this_week[referral.referrer_id] += 1
        paid += 1
    Referral.objects.bulk_update(decided, ["status", "hold_reason", "rewarded_at"])
    entries_post([e for e in entries if e.available > 0])
    return paid


def _rewarded_since(since: datetime, referrer_ids: set[int]) -> Counter:
    """Referrals paid to each of these referrers since then (the weekly cap)."""
    return Counter(
        Referral.objects.filter(
            referrer_id__in=referrer_ids, status=Referral.Status.REWARDED, rewarded_at__gte=since
        ).values_list("referrer_id", flat=True)
    )


def _hold_reason(referral: Referral, this_week: Counter, programme) -> str | None:
    orders = Order.objects.exclude(shipping_address_key="")
    referee_addresses = orders.filter(customer_id=referral.referee_id).values("shipping_address_key")
    if orders.filter(customer_id=referral.referrer_id, shipping_address_key__in=referee_addresses).exists():
        return "The new customer's order ships to an address the referrer has shipped to."
    if this_week[referral.referrer_id] >= programme.referral_weekly_cap:
        return f"The referrer has reached the cap of {programme.referral_weekly_cap} rewarded referrals a week."
    return None


def referrals_review(*, referral_ids, approve: bool, user) -> int:
    """A marketer's decision on held referrals: approved ones are paid at the next settlement
    (guards skipped), rejected ones never. Returns the referrals decided."""
    status = Referral.Status.PENDING if approve else Referral.Status.REJECTED
    return Referral.objects.filter(
        pk__in=referral_ids, status__in=[Referral.Status.REVIEW, Referral.Status.PENDING]
    ).update(status=status, reviewed_by=user)
