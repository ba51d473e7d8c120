"""Rewards, the single-use codes they issue, and referrals."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from customers.models import MONEY, Customer, Shop, ShopGroup
from loyalty.models.programme import validity_errors


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
