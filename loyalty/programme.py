"""Reading the programme's settings: the settings row, the rules in force, and multipliers."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils import timezone

from loyalty.models import EarningRule, Programme, Rounding, RuleTierMultiplier, Tier

ROUNDING = {Rounding.DOWN: ROUND_FLOOR, Rounding.NEAREST: ROUND_HALF_UP, Rounding.UP: ROUND_CEILING}
ONE = Decimal(1)


def programme_get() -> Programme:
    """The programme's settings row, created (active, starting now) on first use."""
    programme = Programme.objects.filter(pk=1).first()
    if programme is None:
        programme, _ = Programme.objects.get_or_create(pk=1, defaults={"starts_at": timezone.now()})
    return programme


def rule_in_force(rule: EarningRule, at: datetime) -> bool:
    return (
        rule.is_active
        and (rule.valid_from is None or rule.valid_from <= at)
        and (rule.valid_until is None or at < rule.valid_until)
    )


@dataclass(frozen=True)
class Multipliers:
    """The multiplier for a rule and a tier: the rule's own for that tier, else the tier's."""

    by_tier: dict[int, Decimal]
    by_rule_tier: dict[tuple[int, int], Decimal]

    @classmethod
    def load(cls) -> "Multipliers":
        return cls(
            by_tier=dict(Tier.objects.values_list("id", "multiplier")),
            by_rule_tier={
                (r, t): m for r, t, m in RuleTierMultiplier.objects.values_list("rule_id", "tier_id", "multiplier")
            },
        )

    def get(self, rule_id: int, tier_id: int | None) -> Decimal:
        if tier_id is None:
            return ONE
        return self.by_rule_tier.get((rule_id, tier_id), self.by_tier.get(tier_id, ONE))


def rule_in_force_q(rule: EarningRule, field: str) -> Q:
    """``rule_in_force`` for the rows of a queryset, at the time in ``field`` (an active rule)."""
    in_force = Q()
    if rule.valid_from is not None:
        in_force &= Q(**{f"{field}__gte": rule.valid_from})
    if rule.valid_until is not None:
        in_force &= Q(**{f"{field}__lt": rule.valid_until})
    return in_force


def points_round(raw: Decimal, rounding: str) -> int:
    """Points in whole numbers, as a rounding mode says; never below zero."""
    return max(0, int(raw.quantize(ONE, rounding=ROUNDING[rounding])))


def rule_points(rule: EarningRule, *, amount: Decimal | None = None, multiplier: Decimal = ONE) -> int:
    """A rule's points: for spend, ``amount`` × points per unit, rounded as the rule says;
    for a bonus, its points. Either way times the multiplier (a bonus rounds down)."""
    if rule.kind == "spend":
        return points_round((amount or Decimal(0)) * rule.points_per_unit * multiplier, rule.rounding)
    return points_round(rule.points * multiplier, Rounding.DOWN)
