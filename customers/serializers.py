"""DRF serializers: validate a shop's JSON and translate it to service dataclasses (and back)."""

from decimal import Decimal

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from customers.models import Customer, Order, OrderLine, Refund
from customers.services.currency import CENT
from customers.services.customers import CustomerData
from customers.services.events import EventData
from customers.services.orders import LineData, OrderData
from customers.services.refunds import RefundData


def flatten_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as ``{"customer.email": [...], "lines[2].quantity": [...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "non_field_errors" and prefix:
                name = prefix
            elif isinstance(key, int):  # a list's item errors, keyed by index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(data, list) and any(isinstance(item, dict | list) for item in data):
        for i, item in enumerate(data):
            for k, v in flatten_errors(item, f"{prefix}[{i}]").items():
                out.setdefault(k, []).extend(v)
    elif isinstance(data, list):
        out[prefix or "non_field_errors"] = [str(item) for item in data]
    else:
        out[prefix or "non_field_errors"] = [str(data)]
    return out


MAX_MONEY = Decimal("999999999999.99")


def money(**kwargs) -> serializers.DecimalField:
    kwargs.setdefault("min_value", Decimal(0))
    return serializers.DecimalField(max_digits=14, decimal_places=2, max_value=MAX_MONEY, **kwargs)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its offset: a naive time is ambiguous, so it is refused."""

    default_error_messages = {
        "naive": "Include a time zone offset, e.g. 2026-01-02T10:00:00Z.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class CurrencyField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(r"^[A-Z]{3}$", max_length=3, **kwargs)
        self.error_messages["invalid"] = "Use a three-letter ISO 4217 code, e.g. USD."

    def to_internal_value(self, data):
        return super().to_internal_value(data.upper() if isinstance(data, str) else data)


def text(max_length: int, **kwargs) -> serializers.CharField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    kwargs.setdefault("default", "")
    return serializers.CharField(max_length=max_length, **kwargs)


class CustomerInSerializer(serializers.Serializer):
    external_id = text(255)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    first_name = text(150)
    last_name = text(150)
    phone = text(32)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, allow_blank=True, default="")
    birthday = serializers.DateField(required=False, allow_null=True, default=None)
    marketing_consent = serializers.BooleanField(required=False, allow_null=True, default=None)
    source = text(100)
    utm_source = text(100)
    utm_medium = text(100)
    utm_campaign = text(100)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50, required=False)

    def validate(self, attrs):
        if not attrs.get("external_id") and not attrs.get("email"):
            raise serializers.ValidationError({"external_id": "Give the customer an external_id or an email."})
        return attrs

    @staticmethod
    def to_data(attrs: dict) -> CustomerData:
        return CustomerData(
            **{**attrs, "country": attrs.get("country", "").upper(), "tags": tuple(attrs.get("tags", ()))}
        )


class OrderLineInSerializer(serializers.Serializer):
    sku = text(100)
    name = text(255)
    category = text(100)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_price = money()

    def validate(self, attrs):
        if not attrs.get("name") and not attrs.get("sku"):
            raise serializers.ValidationError({"name": "A line needs a name or a sku."})
        return attrs


class OrderInSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=255)
    placed_at = AwareDateTimeField()
    status = serializers.ChoiceField(choices=Order.Status.choices, default=Order.Status.PLACED)
    currency = CurrencyField()
    subtotal = money(required=False, allow_null=True, default=None)
    discount_total = money(required=False, default=Decimal("0.00"))
    shipping_total = money(required=False, default=Decimal("0.00"))
    tax_total = money(required=False, default=Decimal("0.00"))
    total = money()
    discount_code = text(100)
    source = text(100)
    utm_source = text(100)
    utm_medium = text(100)
    utm_campaign = text(100)
    customer = CustomerInSerializer()
    lines = OrderLineInSerializer(many=True, required=False, max_length=500)

    @staticmethod
    def to_data(attrs: dict) -> OrderData:
        lines = tuple(
            LineData(
                name=line["name"] or line["sku"],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                sku=line["sku"],
                category=line["category"],
            )
            for line in attrs.get("lines", ())
        )
        return OrderData(**{**attrs, "customer": CustomerInSerializer.to_data(attrs["customer"]), "lines": lines})


class OrderBulkInSerializer(serializers.Serializer):
    """The envelope only: each item is validated on its own, so one bad order fails alone."""

    orders = serializers.ListField(min_length=1, max_length=1000)


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


class RefundInSerializer(serializers.Serializer):
    amount = money(min_value=CENT)
    refunded_at = AwareDateTimeField(required=False)
    reason = text(255)
    external_id = text(255)

    @staticmethod
    def to_data(attrs: dict) -> RefundData:
        return RefundData(**{**attrs, "refunded_at": attrs.get("refunded_at") or timezone.now()})


class RefundOutSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField()
    order_status = serializers.CharField(source="order.status")

    class Meta:
        model = Refund
        fields = ["id", "order_id", "order_status", "external_id", "amount", "amount_base", "reason", "refunded_at"]


class EventInSerializer(serializers.Serializer):
    type = serializers.RegexField(r"^[a-z][a-z0-9_.:-]{0,63}$", max_length=64)
    occurred_at = AwareDateTimeField(required=False)
    customer = CustomerInSerializer()
    payload = serializers.DictField(required=False, default=dict)
    external_id = text(255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].error_messages["invalid"] = (
            "Use lower-case letters, digits and _ . : - (e.g. cart_abandoned)."
        )

    @staticmethod
    def to_data(attrs: dict) -> EventData:
        return EventData(
            type=attrs["type"],
            occurred_at=attrs.get("occurred_at") or timezone.now(),
            customer=CustomerInSerializer.to_data(attrs["customer"]),
            payload=attrs["payload"],
            external_id=attrs["external_id"],
        )


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
