"""DRF serializers for what the API returns. What shops send is read by ``customers.payloads``."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import Customer, CustomerMetrics, LifecycleSettings, Order, OrderLine, Refund


class OrderLineOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "name", "quantity", "unit_price", "product_id"]


class OrderOutSerializer(serializers.ModelSerializer):
    lines = OrderLineOutSerializer(many=True, read_only=True)
    customer_id = serializers.IntegerField()

    class Meta:
        model = Order
        fields = [
            "id",
            "external_id",
            "customer_id",
            "placed_at",
            "status",
            "currency",
            "subtotal",
            "discount_total",
            "shipping_total",
            "tax_total",
            "total",
            "total_base",
            "exchange_rate",
            "discount_code",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "lines",
            "created_at",
            "updated_at",
        ]


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error"])
    id = serializers.IntegerField(allow_null=True)
    customer_id = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()
    results = BulkItemResultSerializer(many=True)


class RefundOutSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField()
    order_status = serializers.CharField(source="order.status")

    class Meta:
        model = Refund
        fields = ["id", "order_id", "order_status", "external_id", "amount", "amount_base", "reason", "refunded_at"]


class EventOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    customer_id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    external_id = serializers.CharField()


class LifecycleOutSerializer(serializers.ModelSerializer):
    """A customer's stage (with its reason), RFM, P(alive) and CLV, as last recomputed."""

    stage_reason = serializers.SerializerMethodField(help_text="The stage and why, in plain English.")

    class Meta:
        model = CustomerMetrics
        fields = [
            "stage",
            "stage_reason",
            "stage_since",
            "rfm_r",
            "rfm_f",
            "rfm_m",
            "rfm_segment",
            "p_alive",
            "expected_purchases_30",
            "expected_purchases_90",
            "expected_purchases_365",
            "clv_predicted",
            "clv_simple",
            "purchase_days",
            "days_since_last",
            "gap_median_days",
            "computed_at",
        ]

    def get_stage_reason(self, metrics) -> str:
        if "thresholds" not in self.context:  # one settings read per response, not per customer
            self.context["thresholds"] = LifecycleSettings.load().thresholds()
        return metrics.reason(self.context["thresholds"])


class CustomerOutSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    external_ids = serializers.SerializerMethodField(help_text="This shop's references to the customer.")
    clv_historical = serializers.DecimalField(
        source="net_revenue", max_digits=14, decimal_places=2, read_only=True, help_text="Net revenue to date."
    )
    lifecycle = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_ids",
            "email",
            "first_name",
            "last_name",
            "phone",
            "country",
            "birthday",
            "tags",
            "marketing_consent",
            "marketing_consent_at",
            "first_seen_at",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "orders_count",
            "net_revenue",
            "avg_order_value",
            "first_order_at",
            "last_order_at",
            "aggregates_updated_at",
            "clv_historical",
            "lifecycle",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(LifecycleOutSerializer(allow_null=True))
    def get_lifecycle(self, customer) -> dict | None:
        try:
            metrics = customer.metrics
        except CustomerMetrics.DoesNotExist:
            return None
        return LifecycleOutSerializer(metrics, context=self.context).data

    def get_external_ids(self, customer) -> list[str]:
        return [identity.external_id for identity in customer.shop_identities]
