"""The health endpoint: status only for anyone, each check for staff, 503 when unhealthy."""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from crm.models import ScheduledRun

# The checks run in worker threads, with connections of their own: they see committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)

# The worker's ping is left out here (no worker runs in these tests); test_celery_worker
# checks it against a real worker.
CHECKS = ["health_check.checks.Database", "health_check.checks.Cache", "crm.health.BeatLastRun"]


def _ran(ago: timedelta, status: str = "ok") -> None:
    at = timezone.now() - ago
    for name, spec in settings.CELERY_BEAT_SCHEDULE.items():
        ScheduledRun.objects.update_or_create(
            name=name, defaults={"task": spec["task"], "last_run_at": at, "last_status": status}
        )


@override_settings(HEALTH_CHECKS=CHECKS)
def test_anyone_gets_ok_and_nothing_else_when_everything_runs(client):
    _ran(timedelta(seconds=10))

    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@override_settings(HEALTH_CHECKS=CHECKS)
def test_a_stalled_beat_is_503_with_the_reason_for_staff_only(client, admin_client):
    _ran(timedelta(seconds=10))
    late = timezone.now() - timedelta(minutes=30)
    ScheduledRun.objects.filter(name="sweep-sla").update(last_run_at=late)  # the every-minute sweep: 29 min late

    anonymous = client.get("/health/")
    staff = admin_client.get("/health/")

    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "unavailable"}
    assert staff.status_code == 503
    checks = staff.json()["checks"]
    assert checks["BeatLastRun()"]["status"] == "unavailable"
    assert "sweep-sla is 29 min overdue" in checks["BeatLastRun()"]["message"]
    assert checks["Database(alias='default')"] == {"status": "ok", "message": "", "seconds": pytest.approx(0, abs=5)}
    assert {run["name"] for run in staff.json()["scheduled_runs"]} == set(settings.CELERY_BEAT_SCHEDULE)


@override_settings(HEALTH_CHECKS=CHECKS)
def test_a_schedule_that_never_ran_is_unhealthy(admin_client):
    response = admin_client.get("/health/")

    assert response.status_code == 503
    assert "no scheduled task has run yet" in response.json()["checks"]["BeatLastRun()"]["message"]


@override_settings(HEALTH_CHECKS=CHECKS)
def test_a_frequent_task_that_failed_at_its_last_run_is_named(admin_client):
    _ran(timedelta(seconds=10))
    ScheduledRun.objects.filter(name="sweep-sla").update(last_status="failed", last_error="boom")

    response = admin_client.get("/health/")

    assert response.status_code == 503
    assert "failed at its last run: sweep-sla" in response.json()["checks"]["BeatLastRun()"]["message"]
    assert "boom" not in response.content.decode()


@override_settings(HEALTH_CHECKS=CHECKS)
def test_the_load_balancers_check_is_about_this_node_only(client):
    _ran(timedelta(hours=5))  # beat is down: not a reason to take web nodes out of rotation

    assert client.get("/health/web/").json() == {"status": "ok"}
    assert client.get("/health/").status_code == 503


@override_settings(HEALTH_CHECKS=CHECKS)
def test_no_setting_or_secret_is_in_any_answer(client, admin_client):
    _ran(timedelta(minutes=30))
    secrets = [settings.SECRET_KEY, settings.DATABASES["default"].get("PASSWORD") or "no-password-set"]
    if settings.REDIS_URL:
        secrets.append(settings.REDIS_URL)

    for answer in (client.get("/health/"), admin_client.get("/health/"), client.get("/health/web/")):
        body = answer.content.decode()
        assert all(secret not in body for secret in secrets)
        json.loads(body)  # JSON, never a debug page


@override_settings(HEALTH_CHECKS=[*CHECKS, "crm.health.OutboxAge"])
def test_follow_up_work_waiting_too_long_or_failing_is_named(client, admin_client):
    from customers.models import PendingUpdate
    from customers.services.pending_updates import pending_updates_mark
    from customers.tests.factories import CustomerFactory

    _ran(timedelta(seconds=10))
    ann, bob = CustomerFactory(), CustomerFactory()
    pending_updates_mark([ann.pk], now=timezone.now() - timedelta(seconds=30))
    assert client.get("/health/").status_code == 200  # seconds old: the workers keep up

    pending_updates_mark([bob.pk], now=timezone.now() - timedelta(minutes=20))
    stale = admin_client.get("/health/").json()["checks"]["OutboxAge()"]
    PendingUpdate.objects.filter(customer=bob).delete()
    PendingUpdate.objects.filter(customer=ann).update(attempts=5, last_error="OperationalError")
    failing = admin_client.get("/health/").json()["checks"]["OutboxAge()"]

    assert stale["status"] == "unavailable" and "oldest of 2 pending customer updates is 1,2" in stale["message"]
    assert failing["status"] == "unavailable" and "1 pending customer updates keep failing" in failing["message"]
    assert client.get("/health/").json() == {"status": "unavailable"}
