"""The id a shop's key knows a customer by: its shop group's, never the CRM's customer id.

The CRM numbers customers in one sequence for every shop, so a person another shop brought
in long ago has an id far below the latest: shown to a key, it would tell that the person
is known elsewhere (docs/architecture.md, "Per-shop profiles"). Through a key, a customer
is named by the group's earliest identity of them (``customers.selectors.group_refs``):
allotted when the group first knew the person, whoever knew them before. Every response
body and every path of the API uses it; lists of customers are in its order, newest first.
"""

from collections.abc import Iterable

from django.db.models import QuerySet
from rest_framework import serializers

from customers import selectors
from customers.models import Customer, CustomerIdentity, Shop


class CustomerIdField(serializers.IntegerField):
    """A customer's id as the key's shop group knows it, from the CRM's (``source``).

    Reads the serializer's context (``ids_context``). Null only for a customer no longer
    linked to the group."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "The customer's id through this key (its shop group's, not the CRM's).")
        super().__init__(allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value):
        return self.context["customer_ids"].get(value)


def ids_context(*, shop: Shop, customer_ids: Iterable[int]) -> dict:
    """The serializer context ``CustomerIdField`` reads (one query)."""
    return {"customer_ids": selectors.customer_refs(shop=shop, customer_ids=customer_ids)}


def customer_id(*, shop: Shop, customer_pk: int) -> int | None:
    """One customer's id through ``shop``'s key."""
    return selectors.customer_refs(shop=shop, customer_ids=[customer_pk]).get(customer_pk)


def customers_in_ref_order(refs: Iterable[CustomerIdentity], customers: QuerySet[Customer]) -> list[Customer]:
    """The ``customers`` of ``refs`` (rows of ``group_refs``, a page of them), in their order,
    each with ``api_id`` set: the id the key knows them by. One query (and its prefetches)."""
    refs = list(refs)
    found = customers.in_bulk([ref.customer_id for ref in refs])
    page = []
    for ref in refs:
        customer = found.get(ref.customer_id)
        if customer is not None:  # not deleted since the page was read
            customer.api_id = ref.pk
            page.append(customer)
    return page
