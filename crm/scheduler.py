"""The periodic tasks of ``CELERY_BEAT_SCHEDULE``, run in-process for the embedded default,
and the record of their last runs for both set-ups.

With Redis, ``celery beat`` sends each entry to a worker when it is due. The embedded
default (SQLite, no Redis, ``make demo``) has no beat and no worker, so nothing scheduled
ever ran there: SLA states, segment members, points, tiers and stages stood still.
``InProcessScheduler`` reads the same schedule and asks each entry's Celery schedule
(``schedule`` or ``crontab``) whether it is due (``is_due``: Celery's own arithmetic, not a
second copy of it), then runs the due tasks here, one at a time, in schedule order.

Each entry's last run is a ``ScheduledRun`` row, so a restart continues the schedule
instead of running everything again. An entry with no row has never run: it is due at
once, which on a freshly seeded demo runs every daily and hourly job once, promptly, in the
background. Under Celery the worker writes the same rows when a task of the schedule
finishes (``record_beat_task``, on Celery's task signals), so the health check reads
"beat's last run" in one place whichever set-up runs.
"""

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from celery import signals
from celery.schedules import BaseSchedule, crontab, maybe_schedule
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from crm.models import ScheduledRun

logger = logging.getLogger(__name__)

# The longest the loop sleeps between looks at the schedule; the shortest entry is a minute.
MAX_SLEEP = 30.0


@dataclass(frozen=True)
class Entry:
    name: str
    task: str
    schedule: BaseSchedule
    args: tuple = ()
    kwargs: dict | None = None

    @property
    def frequent(self) -> bool:
        """Runs at least hourly: the entries whose lateness says beat has stopped."""
        if isinstance(self.schedule, crontab):
            return (
                len(self.schedule.hour) == 24
                and len(self.schedule.day_of_week) == 7
                and len(self.schedule.day_of_month) == 31
                and len(self.schedule.month_of_year) == 12
            )
        run_every = getattr(self.schedule, "run_every", None)
        return run_every is not None and run_every <= timedelta(hours=1)

    def overdue(self, last_run_at: datetime) -> timedelta:
        """How long past its next due time (after ``last_run_at``) the entry is; ≤ 0 if not due."""
        return -self.schedule.remaining_estimate(last_run_at)


def beat_entries() -> list[Entry]:
    """``CELERY_BEAT_SCHEDULE`` as Celery's schedule objects, in the order it declares them."""
    from config.celery import app

    return [
        Entry(
            name=name,
            task=spec["task"],
            schedule=maybe_schedule(spec["schedule"], app=app),
            args=tuple(spec.get("args", ())),
            kwargs=spec.get("kwargs"),
        )
        for name, spec in settings.CELERY_BEAT_SCHEDULE.items()
    ]


def _record(*, name: str, task: str, started: datetime, status: str, error: str = "", duration=None) -> None:
    ScheduledRun.objects.update_or_create(
        name=name,
        defaults={
            "task": task,
            "last_run_at": started,
            "last_status": status,
            "last_error": error[-4000:],
            "duration": duration,
        },
    )


def run_entry(entry: Entry) -> ScheduledRun:
    """Run one entry's task here and now (its sub-tasks too: eager on the embedded default)
    and record the run. A failure is recorded and logged, never raised: the next entry runs."""
    from config.celery import app

    started = timezone.now()
    _record(name=entry.name, task=entry.task, started=started, status=ScheduledRun.Status.RUNNING)
    clock = time.monotonic()
    try:
        # A worker imports every app's tasks module at start; this process may not have yet.
        import_module(entry.task.rpartition(".")[0])
        app.tasks[entry.task].apply(args=entry.args, kwargs=entry.kwargs or {}, throw=True)
    except Exception:
        logger.exception("Scheduled task %s (%s) failed", entry.name, entry.task)
        status, error = ScheduledRun.Status.FAILED, traceback.format_exc()
    else:
        status, error = ScheduledRun.Status.OK, ""
    duration = timedelta(seconds=time.monotonic() - clock)
    _record(name=entry.name, task=entry.task, started=started, status=status, error=error, duration=duration)
    return ScheduledRun.objects.get(name=entry.name)


class InProcessScheduler:
    """Runs ``CELERY_BEAT_SCHEDULE`` in this process, one due task at a time."""

    def __init__(self, entries: list[Entry] | None = None):
        self.entries = entries if entries is not None else beat_entries()
        self.stopping = threading.Event()

    def due(self) -> tuple[list[Entry], float]:
        """The entries due now, and the seconds until the next one is (at most MAX_SLEEP)."""
        last = dict(ScheduledRun.objects.values_list("name", "last_run_at"))
        due, wait = [], MAX_SLEEP
        for entry in self.entries:
            if entry.name not in last:  # never ran here: now
                due.append(entry)
                continue
            is_due, next_in = entry.schedule.is_due(last[entry.name])
            if is_due:
                due.append(entry)
            else:
                wait = min(wait, max(next_in, 1.0))
        return due, wait

    def tick(self) -> float:
        """Run what is due; return how long to sleep."""
        try:
            due, wait = self.due()
            for entry in due:
                if self.stopping.is_set():
                    break
                logger.info("Running scheduled task %s (%s)", entry.name, entry.task)
                run_entry(entry)
            if due:
                wait = 0.0  # look again: time has passed while they ran
        except Exception:
            logger.exception("The in-process scheduler failed to read or record its schedule")
            wait = MAX_SLEEP
        return wait

    def run_forever(self) -> None:
        logger.info("In-process scheduler started: %d entries", len(self.entries))
        while not self.stopping.is_set():
            wait = self.tick()
            close_old_connections()  # as after a request: a broken or old connection is not reused
            self.stopping.wait(wait)
        connections.close_all()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="crm-scheduler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()


# Under Celery: the worker records the runs of the schedule's tasks.

_runs: dict[str, tuple[datetime, float]] = {}


def _entry_names_by_task() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for name, spec in settings.CELERY_BEAT_SCHEDULE.items():
        names.setdefault(spec["task"], []).append(name)
    return names


@signals.task_prerun.connect(dispatch_uid="crm.scheduler.prerun")
def _task_started(task_id=None, task=None, **kwargs) -> None:
    if task is not None and not task.request.is_eager and task.name in _entry_names_by_task():
        _runs[task_id] = (timezone.now(), time.monotonic())


@signals.task_postrun.connect(dispatch_uid="crm.scheduler.postrun")
def record_beat_task(task_id=None, task=None, state=None, retval=None, **kwargs) -> None:
    """Record the run of a task that ``CELERY_BEAT_SCHEDULE`` names, keyed by the entry's
    name, when a worker finishes it (eager runs are the in-process scheduler's to record)."""
    started = _runs.pop(task_id, None)
    if started is None:
        return
    ok = state == "SUCCESS"
    for name in _entry_names_by_task()[task.name]:
        try:
            _record(
                name=name,
                task=task.name,
                started=started[0],
                status=ScheduledRun.Status.OK if ok else ScheduledRun.Status.FAILED,
                error="" if ok else repr(retval),
                duration=timedelta(seconds=time.monotonic() - started[1]),
            )
        except Exception:
            logger.exception("Could not record the run of %s", name)
