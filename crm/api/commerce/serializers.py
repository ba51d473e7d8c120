"""DRF serializers for what the API returns. What shops send is read by ``crm.api.commerce.payloads``."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.api.customer_ids import CustomerIdField
from customers.models import CustomerMetrics, LifecycleSettings, Order, OrderLine, Refund
from customers.services.currency import base_currency


class OrderLineOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "name", "quantity", "unit_price", "product_id"]


class OrderOutSerializer(serializers.ModelSerializer):
    lines = OrderLineOutSerializer(many=True, read_only=True)
    # Filled in by the view: the customer's id through the key (``crm.api.customer_ids``).
    customer_id = serializers.IntegerField(
        allow_null=True, help_text="The customer's id through this key (its shop group's, not the CRM's)."
    )

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
    customer_id = serializers.IntegerField(
        allow_null=True, help_text="The customer's id through this key (its shop group's, not the CRM's)."
    )
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
    customer_id = CustomerIdField()
    occurred_at = serializers.DateTimeField()
    external_id = serializers.CharField()


def _money(help_text: str, **kwargs) -> serializers.DecimalField:
    """Money in the base currency (the profile's ``currency``) as a decimal string, "59.90"."""
    return serializers.DecimalField(max_digits=14, decimal_places=2, help_text=help_text, **kwargs)


class LifecycleOutSerializer(serializers.ModelSerializer):
    """A customer's stage (with its reason), RFM, P(alive) and CLV, as last recomputed."""

    stage_reason = serializers.SerializerMethodField(
        help_text="Why the customer is at this stage, in plain English (the stage itself is `stage`)."
    )
    p_alive = serializers.FloatField(
        allow_null=True,
        help_text="The BG/NBD model's probability (0 to 1) that the customer is still buying; null without a "
        "fitted model. Always 1 for one-time buyers (`purchase_days` 1): the model lets a customer drop out "
        "only after a repeat purchase, so it is not informative for them.",
    )
    # Stored as floats (the model's output); returned as money, like every amount.
    clv_predicted = _money(
        "Predicted CLV of the next 12 months (BG/NBD + Gamma-Gamma), discounted; null without a fitted model.",
        allow_null=True,
    )
    clv_simple = _money("Simple CLV: average order value × orders per year × the lifespan setting.", allow_null=True)

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


class CustomerOutSerializer(serializers.Serializer):
    """A customer as a shop's key sees it: a ``customers.selectors.CustomerSlice`` (its
    group's profile and figures), never the merged ``Customer`` row the staff see."""

    id = serializers.IntegerField(
        help_text="The customer's id through this key: its shop group's, allotted when the group first knew "
        "the person (not the CRM's, which is shared by every shop)."
    )
    external_ids = serializers.ListField(
        child=serializers.CharField(), help_text="This shop's references to the customer."
    )
    email = serializers.CharField(help_text="The email this shop's group sent; empty if none.")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    country = serializers.CharField()
    birthday = serializers.DateField(allow_null=True)
    time_zone = serializers.CharField(
        help_text="IANA name (e.g. Europe/Berlin) this shop's group sent; empty if none: campaigns then use "
        "the CRM's time zone."
    )
    tags = serializers.ListField(child=serializers.CharField(), help_text="The tags this shop's group sent.")
    marketing_consent = serializers.BooleanField(allow_null=True, help_text="null: this shop never said.")
    marketing_consent_at = serializers.DateTimeField(allow_null=True)
    first_seen_at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField()
    utm_source = serializers.CharField()
    utm_medium = serializers.CharField()
    utm_campaign = serializers.CharField()
    orders_count = serializers.IntegerField(help_text="Orders with this shop's group (not cancelled or refunded).")
    currency = serializers.SerializerMethodField(
        help_text="The currency of every money figure of the profile: the CRM's base currency (ISO 4217)."
    )
    net_revenue = _money("Net revenue: counted orders minus their refunds, each converted at its rate.")
    avg_order_value = _money("Net revenue ÷ orders_count.")
    first_order_at = serializers.DateTimeField(allow_null=True)
    last_order_at = serializers.DateTimeField(allow_null=True)
    aggregates_updated_at = serializers.DateTimeField(allow_null=True)
    clv_historical = _money("Historical CLV: net revenue to date.")
    lifecycle = serializers.SerializerMethodField(
        help_text="As last recomputed for the person; null unless all their orders are this shop group's."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_currency(self, customer) -> str:
        return base_currency()

    @extend_schema_field(LifecycleOutSerializer(allow_null=True))
    def get_lifecycle(self, customer) -> dict | None:
        if customer.metrics is None:
            return None
        return LifecycleOutSerializer(customer.metrics, context=self.context).data


class ProductsOutSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.CharField(), help_text="The skus added.")
    updated = serializers.ListField(child=serializers.CharField(), help_text="The skus that were known already.")
