from datetime import date

from django.core.management.base import BaseCommand

from crm.dashboard.refresh import dashboard_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the dashboard's rollups from the orders, stage changes, tickets, answers and "
        "points ledger (the scheduled refresh keeps the recent days up to date; this redoes all)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=date.fromisoformat,
            default=None,
            help="Rebuild the order rollups from this day (YYYY-MM-DD) only; the rest is always whole.",
        )
        parser.add_argument("--async", action="store_true", dest="queue", help="Queue it for the workers instead.")

    def handle(self, since, queue, verbosity, **options):
        if queue:
            from crm.tasks import rebuild_dashboard

            rebuild_dashboard.delay(since.isoformat() if since else None)
            self.stdout.write("Queued.")
            return
        report = self.stdout.write if verbosity > 0 else None
        result = dashboard_rebuild(since=since, report=report)
        self.stdout.write(f"Dashboard rollups rebuilt in {result.seconds:.1f} s.")
