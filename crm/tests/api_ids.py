"""The id a shop's key knows a customer by (``crm.api.customer_ids``), for tests that make
customers without the API."""

from customers.models import Customer, Shop
from customers.selectors import customer_refs


def api_id(shop: Shop, customer: Customer | int) -> int:
    pk = customer if isinstance(customer, int) else customer.pk
    shop = Shop.objects.get(pk=shop.pk)  # its group now: a test may have moved it
    return customer_refs(shop=shop, customer_ids=[pk])[pk]


def own_id(customer: Customer | int) -> int:
    """The API's id of a customer known to one shop group only (the single-shop tests)."""
    pk = customer if isinstance(customer, int) else customer.pk
    shops = Shop.objects.filter(identities__customer_id=pk).distinct()
    assert len({shop.group_id for shop in shops}) == 1, "known to several groups: use api_id(shop, ...)"
    return api_id(shops[0], pk)
