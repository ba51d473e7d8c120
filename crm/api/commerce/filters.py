from datetime import UTC

import django_filters
from django import forms
from django.db.models import Exists, OuterRef
from django_filters.fields import IsoDateTimeField

from customers import selectors
from customers.models import CustomerIdentity


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
    """Filters of a key's customer list. Each reads the key's shop group's slice (its
    identities' profile, its orders), never what another group sent. The list is of rows of
    ``group_refs`` (one identity per customer, with ``slice_orders``), so each filter names
    the customers it keeps by ``customer_id``."""

    email = django_filters.CharFilter(method="filter_email")
    country = django_filters.CharFilter(method="filter_country")
    marketing_consent = django_filters.BooleanFilter(method="filter_marketing_consent")
    updated_since = UtcDateTimeFilter(method="filter_updated_since")
    min_orders = django_filters.NumberFilter(field_name="slice_orders", lookup_expr="gte", min_value=0)
    external_id = django_filters.CharFilter(method="filter_external_id", max_length=255)

    class Meta:
        model = CustomerIdentity
        fields = ["email", "country", "marketing_consent", "updated_since", "min_orders", "external_id"]

    def _identities(self):
        return selectors.group_identities(shop=self.request.auth.shop)

    def filter_email(self, queryset, name, value):
        # The unifying email finds at most one customer (indexed); the group must have sent it.
        value = value.strip().lower()
        sent = self._identities().filter(customer=OuterRef("customer_id"), email__iexact=value)
        return queryset.filter(Exists(sent), customer__email_normalized=value)

    def filter_country(self, queryset, name, value):
        return queryset.filter(customer_id__in=self._identities().filter(country__iexact=value).values("customer_id"))

    def filter_marketing_consent(self, queryset, name, value):
        sent = self._identities().filter(marketing_consent=value)
        return queryset.filter(customer_id__in=sent.values("customer_id"))

    def filter_updated_since(self, queryset, name, value):
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows.
        changed = self._identities().filter(updated_at__gte=value.astimezone(UTC))
        return queryset.filter(customer_id__in=changed.values("customer_id"))

    def filter_external_id(self, queryset, name, value):
        linked = CustomerIdentity.objects.filter(shop=self.request.auth.shop, external_id=value)
        return queryset.filter(customer_id__in=linked.values("customer_id"))
