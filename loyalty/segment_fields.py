"""What segment rules can test about loyalty: tier and points (read by
``campaigns.segments.registry``; see its docstring for the shape).

A customer has an account per shop group; a rule matches when any of their accounts does
(staff segments see the whole person)."""

from loyalty.models import Tier


def _tiers():
    return [(t.pk, t.name) for t in Tier.objects.order_by("rank")]


SEGMENT_FIELDS = [
    {
        "name": "loyalty_tier",
        "label": "loyalty tier",
        "group": "Loyalty",
        "type": "choice",
        "path": "loyalty_accounts__tier",
        "choices": _tiers,
        "help": "'is not set': customers with no tier",
    },
    {
        "name": "points_balance",
        "label": "points balance",
        "group": "Loyalty",
        "type": "number",
        "path": "loyalty_accounts__balance",
        "help": "points available to spend; customers who never earned have none",
    },
    {
        "name": "points_pending",
        "label": "pending points",
        "group": "Loyalty",
        "type": "number",
        "path": "loyalty_accounts__pending",
    },
]
