"""Reads for the API and the admin."""

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from customers.models import Customer, CustomerIdentity, Shop


def customers_for_shop(*, shop: Shop) -> QuerySet[Customer]:
    """Customers linked to ``shop`` by at least one identity: all a shop's key may see."""
    linked = CustomerIdentity.objects.filter(customer=OuterRef("pk"), shop=shop)
    return Customer.objects.filter(Exists(linked))


def customer_profiles_for_shop(*, shop: Shop) -> QuerySet[Customer]:
    """Customers of ``shop`` with what the API profile shows: tags and this shop's identities."""
    return (
        customers_for_shop(shop=shop)
        .select_related("metrics")
        .prefetch_related(
            "tags",
            Prefetch("identities", queryset=CustomerIdentity.objects.filter(shop=shop), to_attr="shop_identities"),
        )
    )
