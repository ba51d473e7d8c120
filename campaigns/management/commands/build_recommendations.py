import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campaigns.recommendations.build import recommendations_build
from campaigns.recommendations.evaluation import shop_hit_rate
from customers.models import Shop


class Command(BaseCommand):
    help = (
        "Build product recommendations (neighbours and popular products) for every active shop, or those "
        "named, from their order history: what the nightly task does. --evaluate also reports the held-out "
        "hit rate (each customer's last order hidden) against the most popular products."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", action="append", default=[], help="A shop's slug (repeatable)")
        parser.add_argument("--evaluate", action="store_true", help="Report the held-out hit rate at 5 and 10")

    def handle(self, shop, evaluate, verbosity, **options):
        shops = Shop.objects.filter(is_active=True).order_by("pk")
        if shop:
            shops = Shop.objects.filter(slug__in=shop).order_by("pk")
            missing = set(shop) - set(shops.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No shop called {', '.join(sorted(missing))}.")
        start = time.perf_counter()
        for one in tqdm(list(shops), desc="Shops", unit=" shops", disable=verbosity == 0):
            result = recommendations_build(shop_id=one.pk)
            self.stdout.write(
                f"{one.slug}: {result.lines:,} order lines, {result.customers:,} customers, "
                f"{result.products:,} products bought, {result.neighbours:,} neighbours in {result.seconds:.1f} s."
            )
            if evaluate:
                rate = shop_hit_rate(shop_id=one.pk)
                self.stdout.write(
                    f"{one.slug}: held-out hit rate over {rate.customers:,} customers: "
                    f"@5 {rate.hit_at_5:.1%} (most popular {rate.popular_hit_at_5:.1%}), "
                    f"@10 {rate.hit_at_10:.1%} (most popular {rate.popular_hit_at_10:.1%})."
                )
        self.stdout.write(f"Built in {time.perf_counter() - start:.1f} s.")
