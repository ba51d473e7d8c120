"""runserver with the in-process scheduler: what `make demo` runs."""

from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand

from crm.scheduler import InProcessScheduler


class Command(RunserverCommand):
    help = (
        "Serve with the development server and run CELERY_BEAT_SCHEDULE in a background thread "
        "of the same process (the embedded default has no beat). Options as runserver's."
    )

    def on_bind(self, server_port):
        super().on_bind(server_port)
        # Called in the serving process once its socket listens (with the autoreloader, in the
        # child that serves, not the parent that watches files), so the first page never waits
        # for the first run of the schedule, and a code reload restarts the thread with the code.
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write("REDIS_URL is set: the schedule is beat's (make beat, make worker); not run here.")
            return
        InProcessScheduler().start_thread()
        self.stdout.write("In-process scheduler started (CELERY_BEAT_SCHEDULE, one task at a time).")
