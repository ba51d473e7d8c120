"""Reads for the API, the admin and the 360 page: a customer's points at a glance."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from loyalty.models import Account, PointsEntry, Tier
from loyalty.programme import programme_get


@dataclass(frozen=True)
class TierProgress:
    """How far a customer is from the next tier, on the figure the tiers qualify on."""

    next_tier: Tier | None
    qualifying: Decimal
    needed: Decimal | None  # left to reach the next tier; None at the top

    @property
    def percent(self) -> int | None:
        if self.next_tier is None or not self.next_tier.enter_threshold:
            return None
        return min(100, int(self.qualifying * 100 / self.next_tier.enter_threshold))


def account_of(customer_id: int, group_id: int) -> Account:
    """The customer's account in this shop group; an unsaved empty one if they have none
    there (the same shape either way: whether they have points elsewhere does not show)."""
    account = Account.objects.select_related("tier").filter(customer_id=customer_id, group_id=group_id).first()
    return account or Account(customer_id=customer_id, group_id=group_id)


@dataclass(frozen=True)
class PointsTotal:
    """A customer's points over all their accounts, for staff (the 360 page, macros)."""

    balance: int
    pending: int
    tier: Tier | None  # the highest tier among the accounts
    accounts: list[Account]


def points_total(customer_id: int) -> PointsTotal:
    accounts = list(
        Account.objects.select_related("tier", "group").filter(customer_id=customer_id).order_by("group_id")
    )
    tiers = [a.tier for a in accounts if a.tier is not None]
    return PointsTotal(
        balance=sum(a.balance for a in accounts),
        pending=sum(a.pending for a in accounts),
        tier=max(tiers, key=lambda t: t.rank, default=None),
        accounts=accounts,
    )


def tier_progress(account: Account) -> TierProgress:
    current_rank = account.tier.rank if account.tier else -1
    next_tier = Tier.objects.filter(rank__gt=current_rank).order_by("rank").first()
    needed = None if next_tier is None else max(Decimal(0), next_tier.enter_threshold - account.tier_qualifying)
    return TierProgress(next_tier, account.tier_qualifying, needed)


def history(customer_id: int, group_id: int | None = None) -> QuerySet[PointsEntry]:
    """The customer's ledger, newest first: one account's (a group), or all of them."""
    entries = PointsEntry.objects.filter(customer_id=customer_id)
    if group_id is not None:
        entries = entries.filter(group_id=group_id)
    return entries.order_by("-id")


@dataclass(frozen=True)
class Liability:
    """What the programme owes: points customers can spend, and pending ones, at their value."""

    available_points: int
    pending_points: int
    point_value: Decimal

    @property
    def available_value(self) -> Decimal:
        return (self.available_points * self.point_value).quantize(Decimal("0.01"))

    @property
    def pending_value(self) -> Decimal:
        return (self.pending_points * self.point_value).quantize(Decimal("0.01"))


def points_liability() -> Liability:
    """One pass over the accounts; a negative balance (points reversed after being spent)
    owes nothing, so it does not lower the figure."""
    totals = Account.objects.aggregate(
        available=Sum("balance", filter=Q(balance__gt=0), default=0), pending=Sum("pending", default=0)
    )
    return Liability(totals["available"], totals["pending"], programme_get().point_value)
