"""Run the periodic tasks of CELERY_BEAT_SCHEDULE in this process (no beat, no worker)."""

import signal

from django.core.management.base import BaseCommand

from crm.scheduler import InProcessScheduler


class Command(BaseCommand):
    help = (
        "Run CELERY_BEAT_SCHEDULE in-process, one due task at a time, recording each run in "
        "ScheduledRun. For the embedded default (no Redis); with Redis run `make beat` and `make worker`."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run what is due now, then exit")

    def handle(self, once, **options):
        scheduler = InProcessScheduler()
        if once:
            due, _ = scheduler.due()
            scheduler.tick()
            self.stdout.write(f"Ran {len(due)} scheduled task(s): {', '.join(e.name for e in due) or 'none due'}.")
            return
        signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
        try:
            scheduler.run_forever()
        except KeyboardInterrupt:
            scheduler.stop()
