"""Customers' recommended products, from the last build and their own purchases.

Four queries for any number of customers: their purchases (with what the list needs of
each product), the neighbours of what they bought, the popular products of their shops, and
the chosen products' details. What may be offered (active, in stock) is read live. The
maths is ``scoring.recommend``, the same the held-out evaluation measures.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from django.db.models import Max, Q
from django.utils import timezone
from scipy import sparse

from campaigns.recommendations import scoring
from campaigns.recommendations.models import PopularProduct, ProductNeighbour
from core.db.column_reader import micros
from customers.models import Order, OrderLine, Product

LIMIT = 10
MAX_LIMIT = 50


@dataclass(frozen=True)
class Recommendation:
    product_id: int
    sku: str
    name: str
    category: str
    price: Decimal
    currency: str
    url: str
    reason: str  # scoring.REASONS: due_again, bought_together, popular_in_category, popular
    score: float

    def for_template(self) -> dict:
        """What ``{{ recommended_products }}`` holds for one product: plain values."""
        item = {"name": self.name, "sku": self.sku, "price": f"{self.price:.2f}", "currency": self.currency}
        if self.url:
            item["url"] = self.url
        return item


def popular_score(rank: np.ndarray) -> np.ndarray:
    """A popular product's rank (1 = first) as a score in (0, 1), higher first."""
    return (scoring.POPULAR + 1 - rank) / (scoring.POPULAR + 2)


def recommendations_for(
    *, customer_ids: Iterable[int], shop_id: int | None = None, limit: int = LIMIT, now: datetime | None = None
) -> dict[int, list[Recommendation]]:
    """Each customer's list, best first: ``shop_id``'s products, from their purchases there.

    Without ``shop_id`` (email templates), each customer's list is from the shop of their
    latest purchase. A customer with no purchase there gets that shop's most popular
    products; one with no purchase anywhere (and no ``shop_id``), an empty list."""
    customer_ids = sorted(set(customer_ids))
    lists: dict[int, list[Recommendation]] = {pk: [] for pk in customer_ids}
    if not customer_ids:
        return lists
    now_us = micros(now or timezone.now())
    # Counted orders (``Order.objects.counted()``), on the join rather than as a subquery.
    lines = OrderLine.objects.filter(order__customer_id__in=customer_ids, product__isnull=False).exclude(
        order__status__in=Order.NOT_COUNTED
    )
    if shop_id is not None:
        lines = lines.filter(order__shop_id=shop_id)
    bought = list(
        lines.order_by()
        .values("order__customer_id", "order__shop_id", "product_id")
        .annotate(last=Max("order__placed_at"))
        .values_list(
            "order__customer_id",
            "order__shop_id",
            "product_id",
            "last",
            "product__category",
            "product__replenish_days",
            "product__is_active",
            "product__in_stock",
        )
    )
    # Each customer's shop: the one asked for, or that of their latest purchase.
    shop_of: dict[int, int] = {}
    if shop_id is not None:
        shop_of = dict.fromkeys(customer_ids, shop_id)
    else:
        latest: dict[int, datetime] = {}
        for customer, shop, _, last, *_ in bought:
            if customer not in latest or last > latest[customer]:
                latest[customer], shop_of[customer] = last, shop
    bought = [row for row in bought if shop_of.get(row[0]) == row[1]]
    if not shop_of:
        return lists
    shops = sorted(set(shop_of.values()))
    categories = {(row[1], row[4]) for row in bought}

    offerable = Q(neighbour__is_active=True, neighbour__in_stock=True)
    neighbours = list(
        ProductNeighbour.objects.filter(offerable, shop_id__in=shops, product_id__in={row[2] for row in bought})
        .order_by()
        .values_list("product_id", "neighbour_id", "score", "neighbour__category", "neighbour__replenish_days")
    )
    in_categories = Q()
    for shop in shops:
        names = sorted(category for of, category in categories if of == shop)
        if names:
            in_categories |= Q(shop_id=shop, category__in=names)
    popular = list(
        PopularProduct.objects.filter(Q(shop_rank__isnull=False) | in_categories, shop_id__in=shops)
        .filter(product__is_active=True, product__in_stock=True)
        .order_by()
        .values_list("shop_id", "product_id", "category", "rank", "shop_rank", "product__replenish_days")
    )

    chosen = _rank(customer_ids, shop_of, bought, neighbours, popular, now_us, limit)
    details = Product.objects.order_by().in_bulk({product for ranked in chosen.values() for product, _ in ranked})
    for customer, ranked in chosen.items():
        for product_id, score in ranked:
            product = details[product_id]
            lists[customer].append(
                Recommendation(
                    product_id=product_id,
                    sku=product.sku,
                    name=product.name,
                    category=product.category,
                    price=product.price,
                    currency=product.currency,
                    url=product.url,
                    reason=scoring.REASONS[int(score)],
                    score=round(float(score), 6),
                )
            )
    return lists


def _rank(customer_ids, shop_of, bought, neighbours, popular, now_us: int, limit: int):
    """The rows read, numbered, through ``scoring.recommend``: {customer: [(product, score)]}."""
    customers = [pk for pk in customer_ids if pk in shop_of]
    row_of = {pk: i for i, pk in enumerate(customers)}
    shop_numbers = {shop: i for i, shop in enumerate(sorted(set(shop_of.values())))}
    # Every product the lists may touch, numbered; what is known of each.
    known: dict[int, tuple[int, str, int, bool]] = {}  # product: (shop, category, replenish days, offerable)
    for _, shop, product, _, category, replenish, active, in_stock in bought:
        known[product] = (shop, category, replenish or 0, bool(active and in_stock))
    shop_of_product = {product: shop for _, shop, product, *_ in bought}
    for product, neighbour, _, category, replenish in neighbours:
        known.setdefault(neighbour, (shop_of_product[product], category, replenish or 0, True))
    for shop, product, category, _, _, replenish in popular:
        known.setdefault(product, (shop, category, replenish or 0, True))
    products = sorted(known)
    number = {pk: i for i, pk in enumerate(products)}
    groups: dict[tuple[int, str], int] = {}
    group = np.array([groups.setdefault(known[pk][:2], len(groups)) for pk in products], dtype=np.int64)
    n = len(products)

    purchases = scoring.Purchases(
        row=np.array([row_of[r[0]] for r in bought], dtype=np.int64),
        product=np.array([number[r[2]] for r in bought], dtype=np.int64),
        last_us=np.array([micros(r[3]) for r in bought], dtype=np.int64),
    )
    similar = sparse.csr_matrix(
        (
            np.array([s for _, _, s, _, _ in neighbours], dtype=np.float64),
            ([number[p] for p, *_ in neighbours], [number[q] for _, q, *_ in neighbours]),
        ),
        shape=(n, n),
    )
    in_category = [r for r in popular if (r[0], r[2]) in groups]
    category_popular = sparse.csr_matrix(
        (
            popular_score(np.array([r[3] for r in in_category], dtype=np.float64)),
            ([groups[(r[0], r[2])] for r in in_category], [number[r[1]] for r in in_category]),
        ),
        shape=(max(len(groups), 1), n),
    )
    top = [r for r in popular if r[4] is not None]
    shop_popular = sparse.csr_matrix(
        (
            popular_score(np.array([r[4] for r in top], dtype=np.float64)),
            ([shop_numbers[r[0]] for r in top], [number[r[1]] for r in top]),
        ),
        shape=(len(shop_numbers), n),
    )
    candidates = scoring.Candidates(
        neighbours=similar,
        category_popular=category_popular,
        shop_popular=shop_popular,
        offerable=np.array([known[pk][3] for pk in products], dtype=bool),
        replenish_days=np.array([known[pk][2] for pk in products], dtype=np.int64),
        category=group,
        shop=np.array([shop_numbers[known[pk][0]] for pk in products], dtype=np.int64),
    )
    customer_shop = np.array([shop_numbers[shop_of[pk]] for pk in customers], dtype=np.int64)
    ranked = scoring.recommend(purchases, len(customers), customer_shop, candidates, now_us, limit)
    chosen: dict[int, list[tuple[int, float]]] = {pk: [] for pk in customers}
    for row, col, score in zip(ranked.row.tolist(), ranked.col.tolist(), ranked.score.tolist(), strict=True):
        chosen[customers[row]].append((products[col], score))
    return chosen


def recommended_products(customer_ids: list[int]) -> dict[int, list[dict]]:
    """``{{ recommended_products }}`` in email templates: up to ``LIMIT`` products per
    customer, from the shop of their latest purchase, as plain dicts (name, sku, price,
    currency, and url when the product has one)."""
    lists = recommendations_for(customer_ids=customer_ids)
    return {pk: [item.for_template() for item in items] for pk, items in lists.items()}
