"""The programme: its settings, tiers and earning rules."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from customers.models import MONEY


def validity_errors(valid_from, valid_until) -> dict[str, str]:
    if valid_from and valid_until and valid_until <= valid_from:
        return {"valid_until": "The end of validity must come after its start."}
    return {}


class Rounding(models.TextChoices):
    DOWN = "down", "round down"
    NEAREST = "nearest", "round to nearest (halves up)"
    UP = "up", "round up"


class TierBasis(models.TextChoices):
    SPEND = "spend", "net spend (base currency)"
    POINTS = "points", "points earned"


class TierTerm(models.TextChoices):
    ROLLING_12_MONTHS = "rolling_12m", "the last 12 months"
    CALENDAR_YEAR = "calendar_year", "this calendar year"
    LIFETIME = "lifetime", "lifetime"


class ExpiryMode(models.TextChoices):
    NEVER = "never", "points never expire"
    INACTIVITY = "inactivity", "all points, after N months without an order"
    FIFO = "fifo", "each earned batch, N months after it became available (first in, first out)"


class Programme(models.Model):
    """The programme's settings: one row (pk 1), edited in the admin."""

    name = models.CharField(max_length=100, default="Rewards")
    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(
        help_text="Orders placed before this earn nothing (so switching the programme on does not pay out history). "
        "It moves later here; to let earlier orders earn, use “Credit past orders”, which shows what it credits.",
    )
    pending_days = models.PositiveSmallIntegerField(
        default=14,
        help_text="Points from an order become spendable this many days after the order (the return window).",
    )
    point_value = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0.01"),
        help_text="What one point is worth in the base currency: the points liability is outstanding points × this.",
    )
    tier_basis = models.CharField(max_length=10, choices=TierBasis.choices, default=TierBasis.SPEND)
    tier_term = models.CharField(max_length=16, choices=TierTerm.choices, default=TierTerm.ROLLING_12_MONTHS)
    tier_grace_days = models.PositiveSmallIntegerField(
        default=30, help_text="A customer below their tier's keep threshold keeps it this long before moving down."
    )
    expiry_mode = models.CharField(max_length=12, choices=ExpiryMode.choices, default=ExpiryMode.NEVER)
    expiry_months = models.PositiveSmallIntegerField(default=12)
    expiry_warning_days = models.PositiveSmallIntegerField(
        default=30, help_text="A 'points_expiring' event is recorded this many days before points expire."
    )
    refund_expired_codes = models.BooleanField(
        default=True, help_text="Give back the points of a reward code that expired unused."
    )
    referral_weekly_cap = models.PositiveSmallIntegerField(
        default=5, help_text="Referrals one referrer may be rewarded for per week; more wait for review."
    )

    class Meta:
        permissions = [("view_liability", "Can see the points liability")]
        constraints = [
            models.CheckConstraint(condition=Q(point_value__gte=0), name="programme_point_value_gte_0"),
            models.CheckConstraint(condition=Q(expiry_months__gte=1), name="programme_expiry_months_gte_1"),
        ]

    def __str__(self):
        return self.name


class Tier(models.Model):
    """A tier (Bronze, Silver, Gold …). Reaching ``enter_threshold`` over the programme's term
    moves a customer up; falling below ``keep_threshold`` moves them down after the grace."""

    name = models.CharField(max_length=50, unique=True)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="Higher is better.")
    enter_threshold = models.DecimalField(**MONEY)
    keep_threshold = models.DecimalField(**MONEY)
    multiplier = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal(1), help_text="Points earned are multiplied by this."
    )
    benefits = models.TextField(blank=True)
    priority_support = models.BooleanField(
        default=False,
        help_text="Members get the high-value support SLA, and their tickets are escalated when they open.",
    )

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(condition=Q(enter_threshold__gte=0), name="tier_enter_gte_0"),
            models.CheckConstraint(
                condition=Q(keep_threshold__gte=0) & Q(keep_threshold__lte=models.F("enter_threshold")),
                name="tier_keep_between_0_and_enter",
            ),
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="tier_multiplier_gt_0"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.keep_threshold is not None and self.enter_threshold is not None:
            if self.keep_threshold > self.enter_threshold:
                raise ValidationError(
                    {"keep_threshold": "The threshold to keep a tier cannot exceed the one to enter."}
                )


class RuleKind(models.TextChoices):
    SPEND = "spend", "points per unit spent"
    FIRST_ORDER = "first_order", "first order bonus"
    REVIEW = "review", "writing a review"
    BIRTHDAY = "birthday", "birthday"
    REFERRAL = "referral", "referral (to the referrer and the new customer)"
    EVENT = "event", "custom event"


class EarningRule(models.Model):
    """How points are earned. A spend rule gives ``points_per_unit`` for each unit of the
    base currency of an order's net amount (after discounts, without shipping and tax),
    rounded by ``rounding``; every other kind gives ``points`` once per occasion."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    points_per_unit = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal(0))
    rounding = models.CharField(max_length=8, choices=Rounding.choices, default=Rounding.DOWN)
    points = models.PositiveIntegerField(default=0, help_text="The bonus, for every kind but spend.")
    event_type = models.CharField(
        max_length=64, blank=True, help_text="For a custom event rule: the event type shops push (/api/v1/events)."
    )
    is_active = models.BooleanField(default=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=RuleKind.values), name="rule_kind_valid"),
            models.CheckConstraint(condition=Q(points_per_unit__gte=0), name="rule_points_per_unit_gte_0"),
            models.CheckConstraint(
                condition=~Q(kind=RuleKind.EVENT) | ~Q(event_type=""), name="rule_event_needs_event_type"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=models.F("valid_from")),
                name="rule_validity_ordered",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.kind == RuleKind.SPEND and not self.points_per_unit:
            errors["points_per_unit"] = "A spend rule needs points per unit."
        if self.kind != RuleKind.SPEND and not self.points:
            errors["points"] = "A bonus rule needs its points."
        if self.kind == RuleKind.EVENT and not self.event_type.strip():
            errors["event_type"] = "A custom event rule needs the event type."
        errors.update(validity_errors(self.valid_from, self.valid_until))
        if errors:
            raise ValidationError(errors)


class RuleTierMultiplier(models.Model):
    """A rule's own multiplier for one tier, instead of the tier's multiplier."""

    rule = models.ForeignKey(EarningRule, on_delete=models.CASCADE, related_name="tier_multipliers")
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+")
    multiplier = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "tier"], name="rule_tier_multiplier_uniq"),
            models.CheckConstraint(condition=Q(multiplier__gte=0), name="rule_tier_multiplier_gte_0"),
        ]

    def __str__(self):
        return f"{self.rule} × {self.multiplier} for {self.tier}"


class PastOrdersCredit(models.Model):
    """A manager's decision to credit the orders placed before the programme started: the
    programme's start moved back to ``since`` (from ``previous_start``), with what it was
    worked out to credit when they confirmed it. The record of who did it and when; the
    points themselves are the ledger's order entries (``loyalty.history``)."""

    since = models.DateTimeField()
    previous_start = models.DateTimeField()
    orders = models.PositiveIntegerField()
    customers = models.PositiveIntegerField()
    points = models.BigIntegerField()
    # The liability the points add, in the base currency (points × the point value then).
    value = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "past orders credit"
        constraints = [
            models.CheckConstraint(condition=Q(since__lt=models.F("previous_start")), name="credit_since_before_start"),
            models.CheckConstraint(condition=Q(points__gte=0), name="credit_points_gte_0"),
        ]

    def __str__(self):
        return f"orders since {self.since:%Y-%m-%d}: {self.points:,} points"
