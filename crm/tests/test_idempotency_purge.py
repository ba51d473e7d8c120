from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from crm.models import IdempotencyRecord
from crm.tasks import purge_idempotency_records

pytestmark = pytest.mark.django_db


def test_records_older_than_a_day_are_purged_and_newer_ones_kept(shop):
    old = IdempotencyRecord.objects.create(
        shop=shop, key="old", request_fingerprint="x", status_code=201, response_body="{}"
    )
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyRecord.objects.create(shop=shop, key="new", request_fingerprint="x", status_code=201, response_body="{}")

    assert purge_idempotency_records.delay().get() == 1

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_the_purge_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-idempotency-records"]
    assert entry["task"] == purge_idempotency_records.name
