"""The customer profile the API returns: the customers app's fields and figures, with what
the other apps know of the customer (their loyalty points and tier). Composed here, in the
crm layer, because the customers app imports no other app."""

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.api.commerce.serializers import CustomerOutSerializer
from customers import selectors
from customers.models import Customer, Shop
from loyalty.models import Account


class LoyaltySummarySerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="Points available to spend")
    pending = serializers.IntegerField(help_text="Points waiting for their orders' return window")
    tier = serializers.CharField(allow_null=True)


class CustomerProfileSerializer(CustomerOutSerializer):
    """Needs ``shop`` in its context: the customers are shown as that shop's key sees them
    (instances from ``customer_profiles``)."""

    loyalty = serializers.SerializerMethodField()

    def to_representation(self, instance):
        return super().to_representation(selectors.customer_slice(instance, shop=self.context["shop"]))

    @extend_schema_field(LoyaltySummarySerializer)
    def get_loyalty(self, customer) -> dict:
        # The account in the key's shop's group only (``customer_profiles``): zeros when there
        # is none there, whatever the customer holds in another group.
        account = next(iter(getattr(customer, "shop_loyalty", [])), None)
        if account is None:
            return {"balance": 0, "pending": 0, "tier": None}
        return {
            "balance": account.balance,
            "pending": account.pending,
            "tier": account.tier.name if account.tier else None,
        }


def customer_profiles(*, shop: Shop) -> QuerySet[Customer]:
    accounts = Account.objects.filter(group_id=shop.group_id).select_related("tier")
    return selectors.customer_profiles_for_shop(shop=shop).prefetch_related(
        Prefetch("loyalty_accounts", queryset=accounts, to_attr="shop_loyalty")
    )
