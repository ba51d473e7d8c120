"""The loyalty programme: its settings and rules, tiers, each customer's points account and
the append-only ledger behind it, rewards and the codes they issue, and referrals.

Points are money-like. Every change of a balance is a ledger row (``PointsEntry``); the
account's ``balance`` and ``pending`` are a cache of the ledger's sums, moved with the row
in the same transaction (``loyalty.ledger``) and checked by ``manage.py loyalty_verify``.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from customers.models import MONEY, ApiKey, Customer, Order, Shop, ShopGroup


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
        help_text="Orders placed before this earn nothing (so switching the programme on does not pay out history)."
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


class Account(models.Model):
    """A customer's points in one shop group: the cached sums of the ledger's entries for
    (customer, group), their tier there and their referral code there.

    Shops share points only within a group (a manager puts them in one; by default each shop
    is alone in its own), so a customer has one account per group they earned or spent in,
    and a shop's key sees only its group's account.

    ``balance`` may go below zero only when points already spent are reversed (a refund
    after the return window); a redemption never takes it below zero.

    Every ledger write updates these rows, so they carry few indexes (each one is written
    again on an update that cannot stay in its page), and on PostgreSQL the table leaves a
    tenth of each page free (migration ``0005``), so a balance update usually can."""

    id = models.BigAutoField(primary_key=True)
    # Found through the (customer, group) constraint's index, which leads with the customer.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="loyalty_accounts", db_index=False)
    group = models.ForeignKey(ShopGroup, on_delete=models.PROTECT, related_name="loyalty_accounts", db_index=False)
    balance = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts", db_index=False
    )
    tier_since = models.DateTimeField(null=True, blank=True)
    # Set while the customer is below their tier's keep threshold: the day they move down.
    tier_grace_until = models.DateTimeField(null=True, blank=True)
    # The figure the tier was last evaluated on (spend or points in this group over the term).
    tier_qualifying = models.DecimalField(**MONEY, default=Decimal(0))
    # Unique by a constraint, not ``unique=True`` (which adds a LIKE-ready index on PostgreSQL);
    # NULL until first used, as the accounts without one must not clash. A code names an
    # account, so it refers within that account's group.
    referral_code = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One account per customer and group; every ledger write finds its account by it.
            models.UniqueConstraint(fields=["customer", "group"], name="account_customer_group_uniq"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="account_pending_gte_0"),
            models.UniqueConstraint(fields=["referral_code"], name="account_referral_code_uniq"),
        ]
        indexes = [models.Index(fields=["tier"], name="account_tier_idx")]

    def __str__(self):
        return f"{self.customer} in {self.group}: {self.balance} points"


class EntryKind(models.TextChoices):
    EARN = "earn", "earned"
    MATURE = "mature", "pending → available"
    CANCEL = "cancel", "pending cancelled (refund in the return window)"
    REDEEM = "redeem", "redeemed"
    EXPIRE = "expire", "expired"
    REVERSE = "reverse", "reversed (refund after the return window)"
    REFUND = "refund", "reward code expired unused: points given back"
    ADJUST = "adjust", "manual adjustment"
    TRANSFER = "transfer", "moved between accounts (shop groups merged)"


class PointsEntry(models.Model):
    """One change to a customer's points: append-only (no update, no delete; on PostgreSQL a
    trigger refuses both). ``available`` and ``pending`` are the changes to each figure.

    ``key`` makes every write idempotent: an earn's key is its (source, rule), so replaying an
    order or re-running a task awards nothing twice (the insert does nothing on a clash)."""

    Kind = EntryKind

    # Indexes are few on purpose: each one is paid on every insert (the award writes 150,000
    # rows for 100,000 orders). The customer is found through ``entry_customer_idx``; the
    # staff and key through nothing (an audit question, asked rarely); the key through its
    # unique constraint (not ``unique=True``, which adds a second, LIKE-ready index on PostgreSQL).
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="points_entries", db_index=False)
    # With the customer, the account the entry moves (``Account`` of (customer, group)).
    group = models.ForeignKey(ShopGroup, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    available = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    key = models.CharField(max_length=120)
    # What the points came from: "order:12", "review:5", "birthday:2026", "event:9",
    # "referral:3", "code:7", "adjust:…".
    source = models.CharField(max_length=60)
    # Both looked up through the (order, rule) index below; an index on the rule alone (a
    # handful of values) misleads the planner into scanning a rule's every entry.
    rule = models.ForeignKey(
        EarningRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    # An order earn's net amount (base currency): a partial refund reverses points in proportion.
    basis = models.DecimalField(**MONEY, null=True, blank=True)
    # A pending earn's date to become available.
    matures_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    # Who adjusted by hand: a staff user in the admin, or a manager-role API key.
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "points entries"
        permissions = [("adjust_points", "Can adjust a customer's points by hand")]
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="entry_key_uniq"),
            models.CheckConstraint(condition=Q(kind__in=EntryKind.values), name="entry_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.EARN) | (Q(available__gte=0) & Q(pending__gte=0)),
                name="entry_earn_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[EntryKind.REDEEM, EntryKind.EXPIRE, EntryKind.REVERSE])
                | (Q(available__lte=0) & Q(pending=0)),
                name="entry_debit_from_available",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.CANCEL) | (Q(pending__lte=0) & Q(available=0)),
                name="entry_cancel_from_pending",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.MATURE) | Q(available=-models.F("pending")),
                name="entry_mature_moves_pending",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.ADJUST)
                | (~Q(reason="") & (Q(staff__isnull=False) | Q(api_key__isnull=False))),
                name="entry_adjust_has_reason_and_staff",
            ),
        ]
        indexes = [
            # A customer's history, newest first; the verify and expiry sums per customer.
            models.Index(fields=["customer", "id"], name="entry_customer_idx"),
            # An order's points per rule: refunds reverse them, maturation moves them.
            models.Index(fields=["order", "rule"], name="entry_order_rule_idx"),
            # The maturation sweep: pending earns whose date has come.
            models.Index(fields=["matures_at"], condition=Q(kind="earn"), name="entry_earn_matures_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.available:+}/{self.pending:+} ({self.source})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("The points ledger is append-only: entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("The points ledger is append-only: entries are never deleted.")


class TierChange(models.Model):
    """A customer's move between tiers, with the figures behind it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tier_changes")
    # The account's group (empty for moves recorded before accounts were per group).
    group = models.ForeignKey(ShopGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "created_at"], name="tier_change_customer_idx")]

    def __str__(self):
        return f"{self.customer}: {self.from_tier or '—'} → {self.to_tier or '—'}"


class RewardKind(models.TextChoices):
    FIXED_AMOUNT = "fixed_amount", "fixed discount"
    PERCENTAGE = "percentage", "percentage discount"
    FREE_SHIPPING = "free_shipping", "free shipping"
    FREE_PRODUCT = "free_product", "free product"


class Reward(models.Model):
    """Something points buy. Redeeming it issues a single-use code the shop checks out with."""

    Kind = RewardKind

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=RewardKind.choices)
    value = models.DecimalField(
        **MONEY, default=Decimal(0), help_text="The discount: an amount in the base currency, or a percentage."
    )
    product_sku = models.CharField(max_length=100, blank=True, help_text="For a free product reward.")
    points_cost = models.PositiveIntegerField()
    # Empty: offered in every shop.
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="rewards")
    is_active = models.BooleanField(default=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    code_valid_days = models.PositiveSmallIntegerField(default=30, help_text="A code issued for it is valid this long.")
    per_customer_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    total_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Codes in all; empty: no limit.")
    issued_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["points_cost", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=RewardKind.values), name="reward_kind_valid"),
            models.CheckConstraint(condition=Q(points_cost__gte=1), name="reward_points_cost_gte_1"),
            models.CheckConstraint(condition=Q(value__gte=0), name="reward_value_gte_0"),
            models.CheckConstraint(
                condition=~Q(kind=RewardKind.PERCENTAGE) | Q(value__lte=100), name="reward_percentage_lte_100"
            ),
            models.CheckConstraint(
                condition=Q(total_limit__isnull=True) | Q(issued_count__lte=models.F("total_limit")),
                name="reward_issued_within_limit",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.points_cost} points)"

    def clean(self):
        errors = {}
        if self.kind in (RewardKind.FIXED_AMOUNT, RewardKind.PERCENTAGE) and not self.value:
            errors["value"] = "A discount reward needs its value."
        if self.kind == RewardKind.PERCENTAGE and self.value and self.value > 100:
            errors["value"] = "A percentage cannot exceed 100."
        if self.kind == RewardKind.FREE_PRODUCT and not self.product_sku.strip():
            errors["product_sku"] = "A free product reward needs the product's sku."
        errors.update(validity_errors(self.valid_from, self.valid_until))
        if errors:
            raise ValidationError(errors)


class CodeStatus(models.TextChoices):
    ISSUED = "issued"
    CONSUMED = "consumed"
    EXPIRED = "expired"


class RewardCode(models.Model):
    """A single-use code issued by a redemption, for the shop whose key redeemed it."""

    Status = CodeStatus

    code = models.CharField(max_length=32, unique=True)
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="codes")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="reward_codes")
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="reward_codes")
    points_spent = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=CodeStatus.choices, default=CodeStatus.ISSUED)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    order_external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CodeStatus.values), name="code_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=CodeStatus.CONSUMED) | Q(consumed_at__isnull=False), name="code_consumed_has_time"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "reward"], name="code_customer_reward_idx"),
            # The nightly pass over codes that expired unused.
            models.Index(fields=["expires_at"], condition=Q(status="issued"), name="code_issued_expiry_idx"),
        ]

    def __str__(self):
        return self.code


class ReferralStatus(models.TextChoices):
    PENDING = "pending", "waiting for the first order to clear"
    REVIEW = "review", "held for review"
    REWARDED = "rewarded"
    REJECTED = "rejected"


class Referral(models.Model):
    """A new customer who came with an existing customer's referral code."""

    Status = ReferralStatus

    referrer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="referrals_made")
    referee = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="referred_by", db_index=False)
    # The shop group the code was used in: both are paid into their accounts there.
    group = models.ForeignKey(ShopGroup, on_delete=models.PROTECT, related_name="+", db_index=False)
    status = models.CharField(max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING)
    hold_reason = models.CharField(max_length=255, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rewarded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A customer is referred once per shop group (the groups share nothing).
            models.UniqueConstraint(fields=["referee", "group"], name="referral_referee_group_uniq"),
            models.CheckConstraint(condition=~Q(referrer=models.F("referee")), name="referral_not_self"),
            models.CheckConstraint(condition=Q(status__in=ReferralStatus.values), name="referral_status_valid"),
        ]
        indexes = [
            models.Index(fields=["referrer", "created_at"], name="referral_referrer_idx"),
            models.Index(fields=["status"], name="referral_status_idx"),
        ]

    def __str__(self):
        return f"{self.referrer} → {self.referee}"
