"""What segment rules can test about loyalty: tier and points (read by
``campaigns.segments.registry``; see its docstring for the shape).

A customer has an account per shop group; a staff rule matches when any of their accounts
does (staff segments see the whole person), a rule run through a shop's key tests the
account in the key's group only ("rows")."""

from customers.models import Shop
from loyalty.models import Account, Tier


def _group_accounts(shops):
    """The accounts of the groups of ``shops`` (a subquery of shop ids)."""
    return Account.objects.filter(group_id__in=Shop.objects.filter(pk__in=shops).values("group_id"))


def _tiers():
    return [(t.pk, t.name) for t in Tier.objects.order_by("rank")]


SEGMENT_FIELDS = [
    {
        "name": "loyalty_tier",
        "label": "loyalty tier",
        "group": "Loyalty",
        "type": "choice",
        "path": "loyalty_accounts__tier",
        "slice": "rows",
        "rows": _group_accounts,
        "row_path": "tier",
        "choices": _tiers,
        "help": "'is not set': customers with no tier",
    },
    {
        "name": "points_balance",
        "label": "points balance",
        "group": "Loyalty",
        "type": "number",
        "path": "loyalty_accounts__balance",
        "slice": "rows",
        "rows": _group_accounts,
        "row_path": "balance",
        "help": "points available to spend; customers who never earned have none",
    },
    {
        "name": "points_pending",
        "label": "pending points",
        "group": "Loyalty",
        "type": "number",
        "path": "loyalty_accounts__pending",
        "slice": "rows",
        "rows": _group_accounts,
        "row_path": "pending",
    },
]
