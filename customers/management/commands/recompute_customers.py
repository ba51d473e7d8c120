import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from customers.services.aggregates import aggregates_recompute_range, customer_id_ranges
from customers.tasks import enqueue_full_recompute


class Command(BaseCommand):
    help = "Recompute every customer's aggregates, set-based, in primary-key chunks."

    def add_arguments(self, parser):
        parser.add_argument(
            "--async", dest="run_async", action="store_true", help="Queue one Celery task per chunk instead"
        )

    def handle(self, run_async, verbosity, **options):
        if run_async:
            self.stdout.write(f"Queued {enqueue_full_recompute()} chunk tasks.")
            return
        start = time.perf_counter()
        updated = 0
        for first_id, last_id in tqdm(customer_id_ranges(), desc="Chunks", unit=" chunks", disable=verbosity == 0):
            updated += aggregates_recompute_range(first_id=first_id, last_id=last_id)
        self.stdout.write(f"Recomputed {updated} customers in {time.perf_counter() - start:.1f} s.")
