import time

from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from core.chunks import CHUNK_SIZE, NIGHTLY_CHUNK_SIZE, id_ranges
from customers.models import Customer
from customers.services.clv_fitting import clv_fit
from customers.services.recompute import (
    customers_recompute_range,
    customers_refresh_changed,
    customers_rescore_range,
    metrics_vacuum,
)
from customers.services.recompute_chunk import Context
from customers.tasks import REPAIR_LOOKBACK, enqueue_full_recompute, refit_and_recompute_all


class Command(BaseCommand):
    help = (
        "Recompute every customer's metrics, RFM, CLV and lifecycle stage, set-based, in primary-key "
        "chunks, from the purchase summaries kept at ingestion. --full first repairs the customers whose "
        "orders changed lately and refits the CLV model (what the nightly task does); --from-orders "
        "rebuilds every customer from their orders instead (the deep repair)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Repair recent changes and refit the CLV model first")
        parser.add_argument("--from-orders", action="store_true", help="Rebuild every customer from their orders")
        parser.add_argument(
            "--async", dest="run_async", action="store_true", help="Queue one Celery task per chunk instead"
        )

    def handle(self, full, from_orders, run_async, verbosity, **options):
        if run_async:
            if full and not from_orders:
                refit_and_recompute_all.delay()
                self.stdout.write("Queued the nightly repair, refit and recompute.")
            else:
                self.stdout.write(f"Queued {enqueue_full_recompute(from_orders=from_orders)} chunk tasks.")
            return
        start = time.perf_counter()
        if full:
            repaired = customers_refresh_changed(since=timezone.now() - REPAIR_LOOKBACK)
            self.stdout.write(f"Repaired {repaired} customers whose orders changed lately.")
            metrics_vacuum()
            model = clv_fit()
            self.stdout.write(f"CLV model: {model.get_status_display()}. {model.message}".strip())
        ctx = Context.load()
        step = customers_recompute_range if from_orders else customers_rescore_range
        ranges = id_ranges(Customer, CHUNK_SIZE if from_orders else NIGHTLY_CHUNK_SIZE)
        updated = 0
        for first_id, last_id in tqdm(ranges, desc="Chunks", unit=" chunks", disable=verbosity == 0):
            updated += step(first_id=first_id, last_id=last_id, ctx=ctx)
        self.stdout.write(f"Recomputed {updated} customers in {time.perf_counter() - start:.1f} s.")
