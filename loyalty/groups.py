"""Moving a shop into another shop group, with its customers' points.

Shops share a points balance only within a group. When a manager puts a shop that is alone
in its group into another group, its customers' accounts there are merged into their
accounts in the new group, by the ledger: per account, a ``transfer`` entry takes its
available and pending points out, and another puts them into the account in the new group
(created if missing). The shop's orders then belong to the new group, so their later
entries (maturation, refunds) move the account that now holds their points. The old group is
left empty; its referral codes no longer refer (the customers get new ones in the new group);
its referrals not yet paid move with it. Tiers are evaluated again at the next nightly pass,
on the new group's orders.

A shop that shares its group with other shops is moved only while that group has no points
accounts: its points cannot be told apart from theirs. Such a move is refused.

Everything is one transaction; on PostgreSQL the accounts table is locked for it (reads go
on, writes wait), so no award or redemption runs against a half-merged group.
"""

import uuid

from django.db import connection, transaction
from django.utils import timezone

from core.errors import DomainError
from customers.models import ApiKey, Shop, ShopGroup
from customers.services.api_keys import api_keys_forget
from loyalty.models import Account, Referral


def shop_group_join(*, shop_id: int, group_id: int) -> int:
    """Put the shop into the group, merging its customers' points there; returns the accounts
    merged. Refused (``DomainError`` on ``group``) for a shop whose group has other shops and
    points accounts."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE loyalty_account IN EXCLUSIVE MODE")
        shop = Shop.objects.select_for_update().get(pk=shop_id)
        target = ShopGroup.objects.get(pk=group_id)
        source = shop.group_id
        if source == target.pk:
            return 0
        alone = not Shop.objects.filter(group_id=source).exclude(pk=shop.pk).exists()
        has_accounts = Account.objects.filter(group_id=source).exists()
        if has_accounts and not alone:
            raise DomainError(
                "This shop shares its group with other shops and their customers have points there: "
                "its points cannot be told apart from theirs. Move the whole group's shops instead.",
                field="group",
            )
        merged = _accounts_merge(source=source, target=target.pk) if has_accounts else 0
        if merged or has_accounts:
            taken = Referral.objects.filter(group_id=target.pk).values("referee_id")
            Referral.objects.filter(group_id=source).exclude(referee_id__in=taken).update(group_id=target.pk)
        shop.group = target
        shop.save(update_fields=["group", "updated_at"])
        # The keys' cached shop carries its group: drop it, so they see the new group at once.
        prefixes = list(ApiKey.objects.filter(shop_id=shop.pk).values_list("prefix", flat=True))
        transaction.on_commit(lambda: api_keys_forget(prefixes=prefixes))
        return merged


def _accounts_merge(*, source: int, target: int) -> int:
    """Move every account of group ``source`` into the same customer's account in ``target``,
    by ``transfer`` entries; set-based, a fixed number of statements."""
    now = timezone.now()
    merge = uuid.uuid4().hex[:12]
    reason = f"shop group {source} merged into group {target}"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_account (customer_id, group_id, balance, pending, tier_qualifying, updated_at) "
            "SELECT customer_id, %s, 0, 0, 0, %s FROM loyalty_account WHERE group_id = %s "
            "ON CONFLICT (customer_id, group_id) DO NOTHING",
            [target, now, source],
        )
        for group, sign, side in ((source, -1, "out"), (target, 1, "in")):
            cursor.execute(
                "INSERT INTO loyalty_pointsentry (customer_id, group_id, kind, available, pending, key, source, "
                "reason, created_at) "
                "SELECT customer_id, %s, 'transfer', %s * balance, %s * pending, "
                "'merge:' || %s || ':customer:' || customer_id || ':' || %s, 'merge:' || %s, %s, %s "
                "FROM loyalty_account WHERE group_id = %s AND (balance <> 0 OR pending <> 0)",
                [group, sign, sign, merge, side, merge, reason, now, source],
            )
        cursor.execute(
            "UPDATE loyalty_account SET "
            "balance = balance + (SELECT s.balance FROM loyalty_account s "
            "    WHERE s.customer_id = loyalty_account.customer_id AND s.group_id = %s), "
            "pending = pending + (SELECT s.pending FROM loyalty_account s "
            "    WHERE s.customer_id = loyalty_account.customer_id AND s.group_id = %s), "
            "updated_at = %s "
            "WHERE group_id = %s AND customer_id IN (SELECT customer_id FROM loyalty_account WHERE group_id = %s)",
            [source, source, now, target, source],
        )
        cursor.execute(
            "UPDATE loyalty_account SET balance = 0, pending = 0, referral_code = NULL, updated_at = %s "
            "WHERE group_id = %s",
            [now, source],
        )
        return cursor.rowcount
