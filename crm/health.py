"""The health endpoint (django-health-check): ``/health/`` for people and monitoring,
``/health/web/`` for a load balancer.

Which checks run is a setting (``HEALTH_CHECKS``, ``HEALTH_WEB_CHECKS``): the database,
the cache (Redis when ``REDIS_URL`` is set), a Celery worker answering a ping (only when a
broker is configured: the embedded default has no worker), and beat's last run (from
``ScheduledRun``, written by beat's worker or the in-process scheduler alike).

An anonymous GET gets only ``{"status": "ok"}`` (200) or ``{"status": "unavailable"}``
(503): nothing about the set-up, no error text. Signed-in staff get each check's result.

``OutboxAge``: the oldest customer waiting in the outbox of follow-up work (figures,
points, segments) was marked no longer ago than ``HEALTH_OUTBOX_MAX_AGE``, and no customer's
follow-up has failed ``HEALTH_OUTBOX_MAX_ATTEMPTS`` times.

Adding a check: write a dataclass subclassing
``health_check.base.HealthCheck`` whose ``run()`` raises
``health_check.exceptions.ServiceUnavailable("…")`` when unhealthy (the message is shown to
staff only; never put a secret in it), then add its dotted path to ``HEALTH_CHECKS`` in
``config/settings/base.py``, where a comment marks the place. For example::

    @dataclasses.dataclass
    class OutboxAge(HealthCheck):
        def run(self):
            oldest = ...  # the oldest undispatched outbox row's created_at
            if oldest and timezone.now() - oldest > settings.HEALTH_OUTBOX_MAX_AGE:
                raise ServiceUnavailable(f"oldest undispatched work is {age} old")

A synchronous ``run()`` is called in a worker thread: close the database connections it
opened there (``_closing_connections`` below), as ``BeatLastRun`` does.
"""

import asyncio
import dataclasses
from contextlib import contextmanager

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

from crm.models import ScheduledRun
from crm.scheduler import beat_entries
from customers.services.pending_updates import pending_updates_backlog


@contextmanager
def _closing_connections():
    try:
        yield
    finally:
        connections.close_all()  # this worker thread's connections only


@dataclasses.dataclass
class BeatLastRun(HealthCheck):
    """Beat (or the in-process scheduler) is running: no entry of ``CELERY_BEAT_SCHEDULE``
    that runs at least hourly is overdue by more than ``HEALTH_BEAT_MARGIN``, and none of
    them failed at its last run.

    Entries that never ran are not counted (beat runs an hourly crontab entry only when its
    minute comes), unless none of them ever ran: then the schedule has never run at all."""

    def run(self):
        with _closing_connections():
            frequent = [entry for entry in beat_entries() if entry.frequent]
            if not frequent:
                return
            runs = ScheduledRun.objects.filter(name__in=[e.name for e in frequent])
            last = {run.name: run.last_run_at for run in runs}
            failed = sorted(run.name for run in runs if run.last_status == ScheduledRun.Status.FAILED)
            if not last:
                raise ServiceUnavailable("no scheduled task has run yet: is beat (or the scheduler) running?")
            lateness = {e.name: e.overdue(last[e.name]) for e in frequent if e.name in last}
            name = max(lateness, key=lateness.get)
            if lateness[name] > settings.HEALTH_BEAT_MARGIN:
                minutes = int(lateness[name].total_seconds() // 60)
                raise ServiceUnavailable(f"{name} is {minutes} min overdue: is beat (or the scheduler) running?")
            if failed:
                raise ServiceUnavailable(f"failed at its last run: {', '.join(failed)} (see ScheduledRun in the admin)")


@dataclasses.dataclass
class OutboxAge(HealthCheck):
    """The follow-up work keeps up: nothing waits in the outbox longer than
    ``HEALTH_OUTBOX_MAX_AGE`` (workers down or far behind), and nothing keeps failing."""

    def run(self):
        with _closing_connections():
            backlog = pending_updates_backlog(failing_after=settings.HEALTH_OUTBOX_MAX_ATTEMPTS)
            age = backlog.age_seconds()
            if age > settings.HEALTH_OUTBOX_MAX_AGE.total_seconds():
                raise ServiceUnavailable(
                    f"the oldest of {backlog.customers:,} pending customer updates is {age:,.0f} s old: "
                    "are the workers running?"
                )
            if backlog.failing:
                raise ServiceUnavailable(
                    f"{backlog.failing:,} pending customer updates keep failing "
                    "(see Pending customer updates in the admin)"
                )


@dataclasses.dataclass
class WorkerPing(Ping):
    """A Celery worker answers a ping through the broker (the first answer is enough)."""

    limit: int | None = dataclasses.field(default=1, repr=False)

    def check_active_queues(self, *active_workers):
        return None  # one answering worker is the heartbeat; queues are the deployment's business


class HealthView(HealthCheckView):
    """Runs the checks of ``settings.<checks_setting>``; details for staff only; 503 when unhealthy."""

    checks_setting = "HEALTH_CHECKS"

    def get_checks(self):
        self.checks = getattr(settings, self.checks_setting)
        return super().get_checks()

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            self.results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
        healthy = not any(result.error for result in self.results)
        status = 200 if healthy else 503
        body = {"status": "ok" if healthy else "unavailable"}
        user = await request.auser()
        if user.is_active and user.is_staff:
            body["checked_at"] = timezone.now().isoformat()
            body["checks"] = {
                repr(result.check): {
                    "status": "ok" if not result.error else "unavailable",
                    "message": "" if not result.error else str(result.error),
                    "seconds": round(result.time_taken, 3),
                }
                for result in self.results
            }
            body["scheduled_runs"] = await _scheduled_runs()
        return JsonResponse(body, status=status)


async def _scheduled_runs() -> list[dict]:
    rows = []
    async for run in ScheduledRun.objects.order_by("name"):
        rows.append(
            {
                "name": run.name,
                "last_run_at": run.last_run_at.isoformat(),
                "last_status": run.last_status,
                "duration_seconds": run.duration.total_seconds() if run.duration else None,
            }
        )
    return rows
