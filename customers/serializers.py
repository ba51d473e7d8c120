"""DRF serializers for what the API returns. What shops send is read by ``customers.payloads``."""

from rest_framework import serializers

from customers.models import Customer, Order, OrderLine, Refund


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


class CustomerOutSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    external_ids = serializers.SerializerMethodField(help_text="This shop's references to the customer.")

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
            "created_at",
            "updated_at",
        ]

    def get_external_ids(self, customer) -> list[str]:
        return [identity.external_id for identity in customer.shop_identities]
