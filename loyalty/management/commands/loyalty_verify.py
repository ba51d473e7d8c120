from django.core.management.base import BaseCommand, CommandError

from loyalty.verify import balances_verify


class Command(BaseCommand):
    help = "Recompute every points balance from the ledger and report any account that differs."

    def add_arguments(self, parser):
        parser.add_argument("--show", type=int, default=20, help="List at most this many differences (default 20).")

    def handle(self, *args, show, **options):
        checked, differences = balances_verify(limit=max(show, 1))
        if not differences:
            self.stdout.write(self.style.SUCCESS(f"{checked:,} accounts checked: every balance matches the ledger."))
            return
        for d in differences[:show]:
            self.stdout.write(
                f"customer {d.customer_id} in group {d.group_id}: "
                f"balance {d.cached_balance} (ledger {d.ledger_balance}), "
                f"pending {d.cached_pending} (ledger {d.ledger_pending})"
            )
        more = "or more " if len(differences) >= show else ""
        raise CommandError(f"{len(differences)} {more}of {checked:,} accounts differ from the ledger.")
