"""The periodic tasks beat runs: each exists, and the daily recompute repairs stale figures."""

from decimal import Decimal

import pytest
from django.conf import settings

from config.celery import app
from customers.models import Customer
from customers.tasks import refit_and_recompute_all
from customers.tests.factories import OrderFactory


@pytest.mark.django_db  # loading the task modules starts Django's Celery fixup
def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name


@pytest.mark.django_db
def test_the_daily_recompute_repairs_aggregates_that_missed_an_update():
    order = OrderFactory(total_base=Decimal("42.00"))  # written without the per-order update
    assert Customer.objects.get().orders_count == 0

    refit_and_recompute_all.delay()

    customer = Customer.objects.get(pk=order.customer_id)
    assert (customer.orders_count, customer.net_revenue) == (1, Decimal("42.00"))
