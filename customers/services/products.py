"""The catalogue as shops send it: what recommendations may offer (active, in stock), when a
consumable is due again, and each product's page. Products also appear on their own when an
order names an unknown sku (``orders._products_resolve``); this is how a shop says more."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from customers.models import Product, Shop
from customers.services.currency import rates_for

# The fields a shop may set; a field left out of an item keeps its value (or the default).
FIELDS = ("name", "category", "price", "currency", "url", "is_active", "in_stock", "replenish_days")


@dataclass(frozen=True)
class ProductData:
    sku: str
    values: dict[str, Any] = field(default_factory=dict)  # of FIELDS: only those sent


@dataclass(frozen=True)
class ProductsResult:
    created: list[str]
    updated: list[str]


def products_upsert(*, shop: Shop, items: Sequence[ProductData]) -> ProductsResult:
    """Add or change these products of ``shop`` (skus unique in ``items``), in one
    transaction and a fixed number of queries: lock the known ones, insert the new ones
    (a concurrent insert of the same sku is then updated instead), update."""
    by_sku = {item.sku: item for item in items}
    if len(by_sku) != len(items):
        raise ValueError("Each sku once per call.")
    currencies = {item.values["currency"] for item in items if item.values.get("currency")}
    known_rates = rates_for(currencies)
    for i, item in enumerate(items):
        currency = item.values.get("currency")
        if currency and currency not in known_rates:
            raise DomainError(
                f"No exchange rate from {currency} to the base currency; add one first.",
                field=f"products[{i}].currency",
            )
    with transaction.atomic():
        rows = Product.objects.filter(shop_id=shop.pk).order_by("sku").select_for_update()
        known = {product.sku: product for product in rows.filter(sku__in=by_sku)}
        new = sorted(set(by_sku) - set(known))
        if new:
            Product.objects.bulk_create(
                [Product(shop=shop, sku=sku, **({"name": sku} | by_sku[sku].values)) for sku in new],
                ignore_conflicts=True,  # another request added it meanwhile: updated below
            )
            known |= {product.sku: product for product in rows.filter(sku__in=new)}
        now = timezone.now()
        changed = [known[sku] for sku in sorted(known)]
        for product in changed:
            for name, value in by_sku[product.sku].values.items():
                setattr(product, name, value)
            product.updated_at = now
        fields = sorted({name for item in items for name in item.values})
        Product.objects.bulk_update(changed, [*fields, "updated_at"])
    return ProductsResult(created=new, updated=sorted(set(known) - set(new)))
