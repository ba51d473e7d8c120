"""Reads for the API, the admin and the 360 page: a customer's points at a glance."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

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


def account_of(customer_id: int) -> Account:
    """The customer's account; an unsaved empty one if they have none yet."""
    account = Account.objects.select_related("tier").filter(pk=customer_id).first()
    return account or Account(customer_id=customer_id)


def tier_progress(account: Account) -> TierProgress:
    current_rank = account.tier.rank if account.tier else -1
    next_tier = Tier.objects.filter(rank__gt=current_rank).order_by("rank").first()
    needed = None if next_tier is None else max(Decimal(0), next_tier.enter_threshold - account.tier_qualifying)
    return TierProgress(next_tier, account.tier_qualifying, needed)


def history(customer_id: int) -> QuerySet[PointsEntry]:
    return PointsEntry.objects.filter(customer_id=customer_id).order_by("-id")


def tier_basis() -> str:
    return programme_get().tier_basis
