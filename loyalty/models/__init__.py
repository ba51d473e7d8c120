"""The loyalty programme: its settings and rules, tiers, each customer's points account and
the append-only ledger behind it, rewards and the codes they issue, and referrals.

Points are money-like. Every change of a balance is a ledger row (``PointsEntry``); the
account's ``balance`` and ``pending`` are a cache of the ledger's sums, moved with the row
in the same transaction (``loyalty.ledger``) and checked by ``manage.py loyalty_verify``.
"""

from loyalty.models.ledger import (
    Account,
    EntryKind,
    PointsEntry,
    TierChange,
)
from loyalty.models.programme import (
    EarningRule,
    ExpiryMode,
    PastOrdersCredit,
    Programme,
    Rounding,
    RuleKind,
    RuleTierMultiplier,
    Tier,
    TierBasis,
    TierTerm,
    validity_errors,
)
from loyalty.models.rewards import (
    CodeStatus,
    Referral,
    ReferralStatus,
    Reward,
    RewardCode,
    RewardKind,
)

__all__ = [
    "validity_errors",
    "Rounding",
    "TierBasis",
    "TierTerm",
    "ExpiryMode",
    "Programme",
    "PastOrdersCredit",
    "Tier",
    "RuleKind",
    "EarningRule",
    "RuleTierMultiplier",
    "Account",
    "EntryKind",
    "PointsEntry",
    "TierChange",
    "RewardKind",
    "Reward",
    "CodeStatus",
    "RewardCode",
    "ReferralStatus",
    "Referral",
]
