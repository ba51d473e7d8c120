from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from customers.models import Customer


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with any offset, as UTC. PostgreSQL refuses offsets beyond ±15:59,
    which ISO 8601 allows; and near year 1 or 9999 an offset can carry the time out of the
    years Python can hold: that is a 400 on the parameter, not a 500."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Out of range: give a time from year 1 to 9999 in UTC.") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class CustomerFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(field_name="email_normalized", method="filter_email")
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")
    marketing_consent = django_filters.BooleanFilter()
    updated_since = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    min_orders = django_filters.NumberFilter(field_name="orders_count", lookup_expr="gte", min_value=0)
    external_id = django_filters.CharFilter(method="filter_external_id", max_length=255)

    class Meta:
        model = Customer
        fields = ["email", "country", "marketing_consent", "updated_since", "min_orders", "external_id"]

    def filter_email(self, queryset, name, value):
        return queryset.filter(email_normalized=value.strip().lower())

    def filter_external_id(self, queryset, name, value):
        return queryset.filter(identities__shop=self.request.auth.shop, identities__external_id=value)
