"""What the nightly recommendations build stores (``campaigns.recommendations.build``).

Every row is rewritten for a whole shop in one transaction: a failed build leaves the
previous one in place. Whether a product may be offered (active, in stock) is read live
from ``Product`` when a list is made, never stored here, so a product that sells out at
noon stops being offered at noon.
"""

from django.db import models

from customers.models import Product, Shop


class ProductNeighbour(models.Model):
    """One of a product's top neighbours: bought by the same customers (cosine of their
    recency-weighted purchase vectors, shrunk for pairs seen rarely)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", db_index=False)
    neighbour = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", db_index=False)
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField(help_text="1 = the closest neighbour.")

    class Meta:
        constraints = [
            # Also the index of a customer's list (shop, the products they bought) and of the
            # build's delete of a shop's rows.
            models.UniqueConstraint(fields=["shop", "product", "rank"], name="reco_neighbour_uniq"),
            models.CheckConstraint(condition=models.Q(rank__gte=1), name="reco_neighbour_rank_gte_1"),
        ]

    def __str__(self):
        return f"{self.product_id} → {self.neighbour_id} ({self.score:.3f})"


class PopularProduct(models.Model):
    """A product among the most bought in its category of its shop (recency-weighted
    buyers): the fallback when a customer's history is thin."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", db_index=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", db_index=False)
    category = models.CharField(max_length=100, blank=True)
    score = models.FloatField()
    rank = models.PositiveSmallIntegerField(help_text="Within the category; 1 = the most bought.")
    # Within the whole shop, for the shop's top products; null below them.
    shop_rank = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # Also the index of "popular in the customer's categories" and of the build's delete.
            models.UniqueConstraint(fields=["shop", "category", "rank"], name="reco_popular_uniq"),
        ]
        indexes = [
            # "Popular in the shop": the shop's top products in order.
            models.Index(
                fields=["shop", "shop_rank"],
                name="reco_popular_shop_rank_idx",
                condition=models.Q(shop_rank__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.category or '-'} #{self.rank}: {self.product_id}"


class RecommendationBuild(models.Model):
    """A shop's last successful build: when, from how much, and how long it took."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="+")
    built_at = models.DateTimeField()
    lines = models.PositiveBigIntegerField(help_text="Order lines read.")
    customers = models.PositiveIntegerField()
    products = models.PositiveIntegerField(help_text="Products bought at least once.")
    neighbours = models.PositiveIntegerField(help_text="Neighbour rows stored.")
    seconds = models.FloatField()

    def __str__(self):
        return f"{self.shop_id} at {self.built_at:%Y-%m-%d %H:%M}"
