"""The in-process scheduler of the embedded default, and the record of scheduled runs.

Before it, nothing in CELERY_BEAT_SCHEDULE ran under `make demo` (no beat): a ticket past
its due time read "on track" for ever, and no one could tell when beat had last run.
"""

from datetime import timedelta

import pytest
from celery.schedules import crontab, schedule
from django.conf import settings
from django.utils import timezone

from crm.models import ScheduledRun
from crm.scheduler import Entry, InProcessScheduler, run_entry
from customers.models import Customer
from support.models import Ticket

pytestmark = pytest.mark.django_db


def _overdue_ticket() -> Ticket:
    customer = Customer.objects.create(email="ann@example.com", email_normalized="ann@example.com")
    now = timezone.now()
    return Ticket.objects.create(
        customer=customer,
        subject="Where is my parcel?",
        status="open",
        created_at=now - timedelta(days=2),
        resolution_due_at=now - timedelta(hours=1),
    )


def test_a_first_tick_runs_every_entry_once_and_a_ticket_past_due_reads_breached():
    ticket = _overdue_ticket()
    assert ticket.sla_state != Ticket.SlaState.BREACHED

    InProcessScheduler().tick()

    ticket.refresh_from_db()
    assert ticket.get_sla_state_display() == "Breached"
    runs = {run.name: run for run in ScheduledRun.objects.all()}
    assert sorted(runs) == sorted(settings.CELERY_BEAT_SCHEDULE)
    assert {run.last_status for run in runs.values()} == {"ok"}, {n: r.last_error for n, r in runs.items()}
    assert all(
        run.duration is not None and run.task == settings.CELERY_BEAT_SCHEDULE[run.name]["task"]
        for run in runs.values()
    )


def test_a_restart_continues_the_schedule_instead_of_running_everything_again():
    InProcessScheduler().tick()
    first = dict(ScheduledRun.objects.values_list("name", "last_run_at"))

    restarted = InProcessScheduler()  # a new process reads the recorded runs
    due, wait = restarted.due()
    restarted.tick()

    assert due == []
    assert 1 <= wait <= 60
    assert dict(ScheduledRun.objects.values_list("name", "last_run_at")) == first


def test_what_is_due_is_celerys_schedule_arithmetic():
    now = timezone.now()
    every_minute = Entry(name="sweep", task="support.tasks.sweep_sla", schedule=schedule(timedelta(seconds=60)))
    hourly = Entry(name="hourly", task="loyalty.tasks.mature_points", schedule=crontab(minute=(now.minute + 30) % 60))
    ScheduledRun.objects.create(name="sweep", task="t", last_run_at=now - timedelta(seconds=90), last_status="ok")
    ScheduledRun.objects.create(name="hourly", task="t", last_run_at=now - timedelta(seconds=5), last_status="ok")

    due, _ = InProcessScheduler([every_minute, hourly]).due()

    assert [entry.name for entry in due] == ["sweep"]
    assert every_minute.frequent and hourly.frequent
    assert not Entry(name="n", task="t", schedule=crontab(hour=3, minute=0)).frequent


def test_a_failing_task_is_recorded_with_its_error_and_the_next_one_still_runs():
    ticket = _overdue_ticket()
    broken = Entry(name="broken", task="crm.tasks.no_such_task", schedule=schedule(timedelta(minutes=1)))
    sweep = Entry(name="sweep-sla", task="support.tasks.sweep_sla", schedule=schedule(timedelta(minutes=1)))

    InProcessScheduler([broken, sweep]).tick()

    failed = ScheduledRun.objects.get(name="broken")
    assert failed.last_status == "failed" and "no_such_task" in failed.last_error
    assert ScheduledRun.objects.get(name="sweep-sla").last_status == "ok"
    ticket.refresh_from_db()
    assert ticket.sla_state == "breached"


def test_run_entry_records_the_start_time_of_the_run():
    before = timezone.now()
    entry = Entry(name="purge", task="crm.tasks.purge_idempotency_records", schedule=schedule(timedelta(hours=1)))

    run = run_entry(entry)

    assert before <= run.last_run_at <= timezone.now()
    assert run.last_status == "ok" and run.last_error == ""
