from datetime import UTC

import django_filters

from customers.models import Customer


class CustomerFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(field_name="email_normalized", method="filter_email")
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")
    marketing_consent = django_filters.BooleanFilter()
    updated_since = django_filters.IsoDateTimeFilter(method="filter_updated_since")
    min_orders = django_filters.NumberFilter(field_name="orders_count", lookup_expr="gte", min_value=0)
    external_id = django_filters.CharFilter(method="filter_external_id", max_length=255)

    class Meta:
        model = Customer
        fields = ["email", "country", "marketing_consent", "updated_since", "min_orders", "external_id"]

    def filter_email(self, queryset, name, value):
        return queryset.filter(email_normalized=value.strip().lower())

    def filter_updated_since(self, queryset, name, value):
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows.
        return queryset.filter(updated_at__gte=value.astimezone(UTC))

    def filter_external_id(self, queryset, name, value):
        return queryset.filter(identities__shop=self.request.auth.shop, identities__external_id=value)
