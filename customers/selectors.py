"""Reads for the API and the admin."""

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from customers.models import Customer, CustomerIdentity, Order, Shop


def customers_for_shop(*, shop: Shop) -> QuerySet[Customer]:
    """Customers linked to ``shop`` by at least one identity: all a shop's key may see."""
    linked = CustomerIdentity.objects.filter(customer=OuterRef("pk"), shop=shop)
    return Customer.objects.filter(Exists(linked))


def customer_profiles_for_shop(*, shop: Shop) -> QuerySet[Customer]:
    """Customers of ``shop`` with what the API profile shows: tags and this shop's identities."""
    return customers_for_shop(shop=shop).prefetch_related(
        "tags",
        Prefetch("identities", queryset=CustomerIdentity.objects.filter(shop=shop), to_attr="shop_identities"),
    )


def orders_for_shop(*, shop: Shop) -> QuerySet[Order]:
    return Order.objects.filter(shop=shop)


def order_with_lines(*, order_id: int) -> Order:
    return Order.objects.prefetch_related("lines").get(pk=order_id)
