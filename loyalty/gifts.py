"""Points and reward codes given, not earned or bought: what a marketing flow hands out
("here are 200 points for your birthday", "a free-shipping code to welcome you back").

Both go through the ledger like every other movement of points, keyed by the caller's
occasion (a flow's step and run), so the same gift is never given twice. A code given is a
code of the reward at no points: ``points_spent`` 0, nothing taken from the balance, and it
counts against the reward's total limit like any other.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import DomainError
from customers.models import Shop
from loyalty.ledger import Entry, accounts_lock, entries_post
from loyalty.models import EntryKind, Reward, RewardCode
from loyalty.services import MAX_ADJUST, new_code, rewards_available


def points_give(*, shop_id: int, gifts: Sequence[tuple[int, str]], points: int, reason: str) -> int:
    """Give ``points`` to each (customer id, key) in the account of the shop's group, once
    per key; returns the entries written (a key given before writes nothing)."""
    if not 0 < points <= MAX_ADJUST:
        raise DomainError(f"Give between 1 and {MAX_ADJUST:,} points.", field="points")
    if not gifts:
        return 0
    group_id = Shop.objects.values_list("group_id", flat=True).get(pk=shop_id)
    with transaction.atomic():
        accounts_lock([], pairs=[(c, group_id) for c, _ in gifts])
        entries = [
            Entry(
                customer_id=c,
                group_id=group_id,
                kind=EntryKind.EARN,
                key=key,
                source=key.rsplit(":", 2)[0][:60],
                available=points,
                reason=reason[:255],
            )
            for c, key in gifts
        ]
        return len(entries_post(entries))


def reward_codes_give(
    *, shop_id: int, reward_id: int, customer_ids: Sequence[int], now: datetime | None = None
) -> list[RewardCode]:
    """A code of the reward for each customer, at no points (the caller keeps them once per
    occasion). ``DomainError`` when the reward is not on offer in the shop, or the codes would
    pass its total limit."""
    now = now or timezone.now()
    if not customer_ids:
        return []
    shop = Shop.objects.get(pk=shop_id)
    with transaction.atomic():
        reward: Reward | None = rewards_available(shop=shop, at=now).select_for_update().filter(pk=reward_id).first()
        if reward is None:
            raise DomainError("No such reward on offer in this shop.", field="reward_id")
        if reward.total_limit is not None and reward.issued_count + len(customer_ids) > reward.total_limit:
            raise DomainError("These codes would pass the reward's total limit.", field="reward_id")
        codes = RewardCode.objects.bulk_create(
            [
                RewardCode(
                    code=new_code(),
                    reward=reward,
                    customer_id=c,
                    shop=shop,
                    points_spent=0,
                    expires_at=now + timedelta(days=reward.code_valid_days),
                )
                for c in customer_ids
            ]
        )
        Reward.objects.filter(pk=reward.pk).update(issued_count=F("issued_count") + len(codes))
        return codes
