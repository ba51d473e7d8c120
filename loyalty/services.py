"""Spending and correcting points: redeem a reward for a code, consume the code at checkout,
adjust a balance by hand. Each acts on one account: the customer's points in one shop group
(a key's shop's group, or the account a staff member picked), never another group's. Each
is one transaction that either happens whole or not at all; a refusal is a ``DomainError``
naming the field at fault, and changes nothing."""

import secrets
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import Conflict, DomainError, Gone, NotFound
from customers.models import ApiKey, Customer, Shop
from loyalty.ledger import Entry, accounts_lock, entries_post
from loyalty.models import Account, EntryKind, Reward, RewardCode

MAX_ADJUST = 1_000_000
# Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_code() -> str:
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"RW-{body[:4]}-{body[4:8]}-{body[8:]}"


def rewards_available(*, shop: Shop, at=None):
    """The rewards a shop's customers can redeem now."""
    at = at or timezone.now()
    return (
        Reward.objects.filter(is_active=True)
        .filter(Q(shop__isnull=True) | Q(shop=shop))
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=at))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .filter(Q(total_limit__isnull=True) | Q(issued_count__lt=F("total_limit")))
    )


def reward_redeem(*, customer: Customer, shop: Shop, reward_id: int) -> RewardCode:
    """Spend the customer's points in this shop's group on a reward: a single-use code for
    this shop. Points earned in another group are not there to spend.

    The account row is locked first, so two redemptions at once are taken one after the
    other, and the second sees what the first spent: the balance is never overspent."""
    with transaction.atomic():
        # The group as stored now, not as the key's cached shop says (a regrouping may have
        # moved the balance since; one in progress holds the accounts' table until it ends).
        group_id = Shop.objects.values_list("group_id", flat=True).get(pk=shop.pk)
        accounts_lock([customer.pk], pairs=[(customer.pk, group_id)])
        reward = rewards_available(shop=shop).select_for_update().filter(pk=reward_id).first()
        if reward is None:
            raise DomainError("No such reward on offer in this shop.", field="reward_id")
        balance = Account.objects.get(customer=customer, group_id=group_id).balance
        if balance < reward.points_cost:
            raise DomainError(
                f"Not enough points: the balance is {balance} and this reward costs {reward.points_cost}.",
                field="reward_id",
            )
        if reward.per_customer_limit is not None:
            taken = RewardCode.objects.filter(customer=customer, reward=reward, shop__group_id=group_id).count()
            if taken >= reward.per_customer_limit:
                raise DomainError(
                    f"This customer has already redeemed this reward {taken} times, the limit.", field="reward_id"
                )
        now = timezone.now()
        code = RewardCode.objects.create(
            code=new_code(),
            reward=reward,
            customer=customer,
            shop=shop,
            points_spent=reward.points_cost,
            expires_at=now + timedelta(days=reward.code_valid_days),
        )
        Reward.objects.filter(pk=reward.pk).update(issued_count=F("issued_count") + 1)
        entries_post(
            [
                Entry(
                    customer_id=customer.pk,
                    group_id=group_id,
                    kind=EntryKind.REDEEM,
                    key=f"code:{code.pk}:redeem",
                    source=f"code:{code.pk}",
                    available=-reward.points_cost,
                    reason=reward.name,
                )
            ]
        )
        return code


def code_for_shop(*, shop: Shop, code: str) -> RewardCode:
    found = RewardCode.objects.select_related("reward").filter(shop=shop, code=code.strip().upper()).first()
    if found is None:
        raise NotFound("No such reward code in this shop.", field="code")
    return found


def code_consume(*, shop: Shop, code: str, order_external_id: str = "") -> RewardCode:
    """Use a code at checkout, once. A used code gets 409, an expired one 410."""
    found = code_for_shop(shop=shop, code=code)
    now = timezone.now()
    used = RewardCode.objects.filter(pk=found.pk, status=RewardCode.Status.ISSUED, expires_at__gt=now).update(
        status=RewardCode.Status.CONSUMED, consumed_at=now, order_external_id=order_external_id
    )
    found.refresh_from_db()
    if not used:
        if found.status == RewardCode.Status.CONSUMED:
            raise Conflict(f"This code was already used on {found.consumed_at:%Y-%m-%d %H:%M} UTC.", field="code")
        raise Gone(f"This code expired on {found.expires_at:%Y-%m-%d}.", field="code")
    return found


def points_adjust(
    *,
    customer: Customer,
    group_id: int,
    points: int,
    reason: str,
    staff_id: int | None = None,
    api_key: ApiKey | None = None,
) -> Account:
    """Add or take points by hand in the customer's account in this shop group, with the
    reason and who did it. A deduction never takes the balance below zero."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the points change.", field="reason")
    if not points or abs(points) > MAX_ADJUST:
        raise DomainError(
            f"Give a whole number of points, not zero, at most {MAX_ADJUST:,} either way.", field="points"
        )
    if staff_id is None and api_key is None:
        raise DomainError("An adjustment needs the staff user or key making it.", field="staff")
    with transaction.atomic():
        accounts_lock([customer.pk], pairs=[(customer.pk, group_id)])
        balance = Account.objects.get(customer=customer, group_id=group_id).balance
        if balance + points < 0:
            raise DomainError(
                f"The balance is {balance}: a deduction of {-points} would take it below zero.", field="points"
            )
        entries_post(
            [
                Entry(
                    customer_id=customer.pk,
                    group_id=group_id,
                    kind=EntryKind.ADJUST,
                    key=f"adjust:{uuid.uuid4().hex}",
                    source="adjust",
                    available=points,
                    reason=reason[:255],
                    staff_id=staff_id,
                    api_key_id=api_key.pk if api_key else None,
                )
            ]
        )
        return Account.objects.get(customer=customer, group_id=group_id)
