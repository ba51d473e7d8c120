"""The nightly build: each shop's product neighbours and popular products, set-based.

Per shop: its counted orders' lines are read in one statement (binary COPY on PostgreSQL),
the maths runs on sparse matrices (``scoring``), and the results replace the shop's rows in
one transaction (COPY through a staging table on PostgreSQL). A build that fails leaves the
previous one in place.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from campaigns.recommendations import scoring
from campaigns.recommendations.models import PopularProduct, ProductNeighbour, RecommendationBuild
from core.db.column_reader import Field, micros, read_columns
from core.db.column_writer import Column, insert_columns
from customers.models import Order, OrderLine, Product, Shop
from customers.services.order_days import counted_sql


@dataclass(frozen=True)
class BuildResult:
    shop_id: int
    lines: int
    customers: int
    products: int
    neighbours: int
    popular: int
    seconds: float


@dataclass(frozen=True)
class ShopLines:
    """A shop's purchases as columns: one entry per order line with a known product."""

    customer: np.ndarray
    order: np.ndarray
    product: np.ndarray  # the product's number in ``product_ids``
    placed_us: np.ndarray
    product_ids: np.ndarray  # the shop's products, sorted
    categories: list[str]  # category names by number
    category: np.ndarray  # per product number
    replenish_days: np.ndarray  # per product number; 0 = not consumable


def shop_lines(shop_id: int) -> ShopLines:
    """Read a shop's counted order lines and its catalogue (two statements)."""
    qn = connection.ops.quote_name
    rows = read_columns(
        [
            Field("customer", "o.customer_id"),
            Field("order", "o.id"),
            Field("product", "l.product_id"),
            Field("placed", "o.placed_at", "micros"),
        ],
        f"FROM {qn(OrderLine._meta.db_table)} l JOIN {qn(Order._meta.db_table)} o ON o.id = l.order_id "
        f"WHERE o.shop_id = %s AND l.product_id IS NOT NULL AND {counted_sql('o')}",
        [shop_id],
    )
    catalogue = list(
        Product.objects.filter(shop_id=shop_id).order_by("pk").values_list("pk", "category", "replenish_days")
    )
    product_ids = np.array([pk for pk, _, _ in catalogue], dtype=np.int64)
    names = sorted({category for _, category, _ in catalogue})
    number = {name: i for i, name in enumerate(names)}
    category = np.array([number[c] for _, c, _ in catalogue], dtype=np.int64)
    return ShopLines(
        customer=rows["customer"],
        order=rows["order"],
        product=np.searchsorted(product_ids, rows["product"]),
        placed_us=rows["placed"],
        product_ids=product_ids,
        categories=names,
        category=category,
        replenish_days=np.array([days or 0 for _, _, days in catalogue], dtype=np.int64),
    )


def recommendations_build(*, shop_id: int, now: datetime | None = None) -> BuildResult:
    """Rebuild one shop's neighbours and popular products from its order history."""
    start = time.perf_counter()
    now = now or timezone.now()
    lines = shop_lines(shop_id)
    customer_ids, customer_row = np.unique(lines.customer, return_inverse=True)
    purchases = scoring.Purchases.latest(customer_row, lines.product, lines.placed_us)
    matrix = purchases.matrix((len(customer_ids), len(lines.product_ids)), micros(now))
    neighbours = scoring.similarity(matrix)
    popular = scoring.popularity(matrix, lines.category)
    shop_rank = popular.shop_rank.astype(np.float64)
    shop_rank[shop_rank < 0] = np.nan  # NULL
    with transaction.atomic():
        ProductNeighbour.objects.filter(shop_id=shop_id).delete()
        PopularProduct.objects.filter(shop_id=shop_id).delete()
        insert_columns(
            ProductNeighbour,
            [
                Column("shop_id", "int8", np.full(len(neighbours.row), shop_id)),
                Column("product_id", "int8", lines.product_ids[neighbours.row]),
                Column("neighbour_id", "int8", lines.product_ids[neighbours.col]),
                Column("score", "float8", neighbours.score.astype(np.float64)),
                Column("rank", "int2", neighbours.rank + 1),
            ],
        )
        insert_columns(
            PopularProduct,
            [
                Column("shop_id", "int8", np.full(len(popular.product), shop_id)),
                Column("product_id", "int8", lines.product_ids[popular.product]),
                Column("category", "text", np.array(lines.categories, dtype=object)[popular.category]),
                Column("score", "float8", popular.score),
                Column("rank", "int2", popular.rank + 1),
                Column("shop_rank", "int2", shop_rank + 1),
            ],
        )
        result = BuildResult(
            shop_id=shop_id,
            lines=len(lines.product),
            customers=len(customer_ids),
            products=int(np.count_nonzero(np.diff(matrix.tocsc().indptr))),
            neighbours=len(neighbours.row),
            popular=len(popular.product),
            seconds=time.perf_counter() - start,
        )
        RecommendationBuild.objects.update_or_create(
            shop_id=shop_id,
            defaults={
                "built_at": now,
                "lines": result.lines,
                "customers": result.customers,
                "products": result.products,
                "neighbours": result.neighbours,
                "seconds": result.seconds,
            },
        )
    return result


def recommendations_build_all(
    *, now: datetime | None = None, progress: Callable[[BuildResult], None] | None = None
) -> list[BuildResult]:
    """Every active shop, each in its own transaction (one failing leaves the others built)."""
    results = []
    for shop_id in Shop.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True):
        result = recommendations_build(shop_id=shop_id, now=now)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
