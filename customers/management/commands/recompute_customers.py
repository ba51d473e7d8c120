import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from customers.services.chunks import customer_id_ranges
from customers.services.clv_fitting import clv_fit
from customers.services.lifecycle import Context
from customers.services.recompute import customers_recompute_range
from customers.tasks import enqueue_full_recompute


class Command(BaseCommand):
    help = (
        "Recompute every customer's aggregates, metrics, RFM, CLV and lifecycle stage, set-based, "
        "in primary-key chunks. --full refits the CLV model first (what the nightly task does)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Refit the CLV model first")
        parser.add_argument(
            "--async", dest="run_async", action="store_true", help="Queue one Celery task per chunk instead"
        )

    def handle(self, full, run_async, verbosity, **options):
        if full:
            model = clv_fit()
            self.stdout.write(f"CLV model: {model.get_status_display()}. {model.message}".strip())
        if run_async:
            self.stdout.write(f"Queued {enqueue_full_recompute()} chunk tasks.")
            return
        start = time.perf_counter()
        ctx = Context.load()
        updated = 0
        for first_id, last_id in tqdm(customer_id_ranges(), desc="Chunks", unit=" chunks", disable=verbosity == 0):
            updated += customers_recompute_range(first_id=first_id, last_id=last_id, ctx=ctx)
        self.stdout.write(f"Recomputed {updated} customers in {time.perf_counter() - start:.1f} s.")
