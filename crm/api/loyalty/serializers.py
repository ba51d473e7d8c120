"""What the API returns about points, rewards and codes (DRF)."""

from rest_framework import serializers

from crm.api.customer_ids import CustomerIdField
from loyalty.models import PointsEntry, Referral, Reward, RewardCode, Tier


class TierOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "name", "rank", "enter_threshold", "keep_threshold", "multiplier", "benefits"]


class EntryOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = PointsEntry
        fields = ["id", "kind", "available", "pending", "source", "reason", "created_at", "matures_at"]


class ProgressOutSerializer(serializers.Serializer):
    basis = serializers.CharField(help_text="What tiers qualify on: spend or points")
    qualifying = serializers.DecimalField(max_digits=14, decimal_places=2)
    next_tier = TierOutSerializer(allow_null=True)
    needed = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    percent = serializers.IntegerField(allow_null=True)


class LoyaltyOutSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(help_text="The customer's id through this key (its shop group's).")
    balance = serializers.IntegerField(help_text="Points available to spend")
    pending = serializers.IntegerField(help_text="Points waiting for their orders' return window")
    tier = TierOutSerializer(allow_null=True)
    tier_since = serializers.DateTimeField(allow_null=True)
    referral_code = serializers.CharField(help_text="The code this customer shares to refer friends.")
    progress = ProgressOutSerializer()
    history = EntryOutSerializer(many=True)


class RewardOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reward
        fields = [
            "id",
            "name",
            "kind",
            "value",
            "product_sku",
            "points_cost",
            "valid_from",
            "valid_until",
            "code_valid_days",
            "per_customer_limit",
        ]


class CodeOutSerializer(serializers.ModelSerializer):
    reward = RewardOutSerializer(read_only=True)
    customer_id = CustomerIdField()

    class Meta:
        model = RewardCode
        fields = [
            "code",
            "status",
            "customer_id",
            "points_spent",
            "expires_at",
            "consumed_at",
            "order_external_id",
            "reward",
        ]


class AccountOutSerializer(serializers.Serializer):
    customer_id = CustomerIdField()
    balance = serializers.IntegerField()
    pending = serializers.IntegerField()


class ReferralOutSerializer(serializers.ModelSerializer):
    referee_id = CustomerIdField()

    class Meta:
        model = Referral
        fields = ["referee_id", "status", "created_at", "rewarded_at"]
