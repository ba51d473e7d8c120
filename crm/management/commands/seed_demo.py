from datetime import UTC, date, datetime, time, timedelta
from time import monotonic

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from tqdm import tqdm

from core.chunks import id_ranges
from crm.demo import seed_apps
from customers.models import Customer, Shop
from customers.services.clv_fitting import clv_fit
from customers.services.demo_data import SHOPS, seed
from customers.services.recompute import customers_recompute_range
from customers.services.recompute_chunk import Context


class Command(BaseCommand):
    help = (
        "Fill the CRM with realistic synthetic shop history (deterministic for a seed and end date), "
        "then seed every app on it: loyalty, support, reviews, NPS, segments."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--end", type=date.fromisoformat, default=None, help="Last day of the history, YYYY-MM-DD (default: today)"
        )
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if the demo shops exist already")

    def handle(self, customers, end, if_empty, verbosity, **options):
        rng_seed = options["seed"]
        if customers < 1 or customers > 10_000_000:
            raise CommandError("--customers must be between 1 and 10,000,000.")
        if Shop.objects.filter(slug__in=[s[0] for s in SHOPS]).exists():
            if if_empty:
                self.stdout.write("Demo data is already there; nothing to do.")
                return
            raise CommandError("The demo shops exist already. Seed an empty database, or pass --if-empty.")
        # The history ends now, or at the end of the day given (its last day), never later
        # than now: no order is dated after the moment of seeding.
        now = datetime.now(UTC).replace(microsecond=0)
        end_at = min(datetime.combine(end, time(0), tzinfo=UTC) + timedelta(days=1), now) if end else now
        quiet = verbosity == 0
        started = monotonic()
        # One transaction: an interrupted seed leaves nothing behind. PostgreSQL checks the
        # (deferred) foreign keys at COMMIT, which is a large part of the time on big seeds.
        with transaction.atomic():
            with tqdm(total=customers, desc="Customers", unit=" customers", disable=quiet) as bar:
                stats = seed(customers=customers, rng_seed=rng_seed, end=end_at, progress=bar.update)
            if not quiet:
                self.stdout.write("Committing (the database checks every foreign key now)…")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # fresh statistics, or the planner guesses wrong
                cursor.execute("ANALYZE")
        model = clv_fit(until=(end_at - timedelta(seconds=1)).date())
        if not quiet:
            self.stdout.write(f"CLV model: {model.get_status_display()}. {model.message}".strip())
        ctx = Context.load()
        for first_id, last_id in tqdm(id_ranges(Customer), desc="Customers' figures", unit=" chunks", disable=quiet):
            customers_recompute_range(first_id=first_id, last_id=last_id, ctx=ctx)
        self.stdout.write(
            f"Seeded {stats.customers} customers, {stats.orders} orders, {stats.lines} lines, "
            f"{stats.refunds} refunds, {stats.events} events."
        )
        seed_apps(rng_seed=rng_seed, now=end_at, report=lambda line: quiet or self.stdout.write(line))
        self.stdout.write(f"Seeding took {monotonic() - started:.1f} s.")
