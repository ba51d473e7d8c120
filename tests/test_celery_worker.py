"""The Celery path with a real worker consuming from a real Redis (not eager mode)."""

import time

import pytest

from customers.models import Customer, CustomerIdentity
from tests.live_worker import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def crm_id(api_id: int) -> int:
    """The CRM's customer id behind the id a shop's key sees (its group's identity of them)."""
    return CustomerIdentity.objects.get(pk=api_id).customer_id


def test_an_ingested_order_has_its_aggregates_computed_by_the_worker(worker, api, order_payload):
    response = api.post("/api/v1/orders", order_payload, format="json")
    assert response.status_code == 201
    customer_id = crm_id(response.json()["customer_id"])

    assert wait_for(lambda: Customer.objects.get(pk=customer_id).orders_count == 1)
    customer = Customer.objects.get(pk=customer_id)
    assert str(customer.net_revenue) == "59.90"
    assert customer.aggregates_updated_at is not None


def test_a_full_recompute_is_split_into_range_tasks_that_the_worker_runs(worker, api, order_payload):
    from customers.tasks import enqueue_full_recompute

    api.post("/api/v1/orders", order_payload, format="json")
    Customer.objects.update(orders_count=0, net_revenue=0)

    assert enqueue_full_recompute() == 1
    assert wait_for(lambda: Customer.objects.get().orders_count == 1)


def test_a_new_order_reaches_the_customers_stage_and_clv_within_two_seconds(worker, api, order_payload):
    from datetime import timedelta

    from django.utils import timezone

    from customers.models import CustomerMetrics

    order_payload["placed_at"] = (timezone.now() - timedelta(days=1)).isoformat()
    response = api.post("/api/v1/orders", order_payload, format="json")
    answered = time.monotonic()
    assert response.status_code == 201
    customer_id = crm_id(response.json()["customer_id"])

    assert wait_for(lambda: CustomerMetrics.objects.filter(customer_id=customer_id, stage="new").exists(), 2.0)
    assert time.monotonic() - answered <= 2.0
    assert "first purchase" in CustomerMetrics.objects.get(customer_id=customer_id).reason()


def test_the_worker_records_a_scheduled_tasks_run_and_answers_the_health_ping(worker):
    from django.test import Client, override_settings

    from crm.models import ScheduledRun
    from crm.tasks import purge_idempotency_records

    purge_idempotency_records.delay()  # as beat sends it

    assert wait_for(lambda: ScheduledRun.objects.filter(name="purge-idempotency-records", last_status="ok").exists())
    run = ScheduledRun.objects.get(name="purge-idempotency-records")
    assert run.task == "crm.tasks.purge_idempotency_records" and run.duration is not None
    with override_settings(HEALTH_CHECKS=["crm.health.WorkerPing"]):
        assert Client().get("/health/").json() == {"status": "ok"}


def test_the_dashboards_first_refresh_queues_a_rebuild_that_the_worker_runs_as_a_chain(worker, api, order_payload):
    from django.core.cache import cache

    from crm.dashboard.models import DailySales, RollupState
    from crm.tasks import REBUILD_QUEUED, refresh_dashboard

    api.post("/api/v1/orders", order_payload, format="json")
    cache.delete(REBUILD_QUEUED)
    refresh_dashboard.delay()  # as beat sends it: never built, so a rebuild (steps, then the rest)

    assert wait_for(lambda: RollupState.objects.filter(rebuilt_at__isnull=False).exists())
    assert DailySales.objects.get().orders == 1
    version = RollupState.objects.get().version
    refresh_dashboard.delay()  # built: the recent days
    assert wait_for(lambda: RollupState.objects.get().version == version + 1)


def test_a_rebuild_of_the_suggested_duplicates_asked_for_on_the_page_is_built_by_the_worker(worker, django_user_model):
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import reverse

    from crm.merging.models import DuplicateSuggestion, SuggestionBuild
    from crm.roles import SUPPORT_AGENT
    from customers.tests.factories import CustomerFactory

    a, b = CustomerFactory(phone="+1 555 0100 200"), CustomerFactory(phone="1-555-0100-200")
    agent = django_user_model.objects.create_user("agent", is_staff=True)
    agent.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    client = Client()
    client.force_login(agent)

    response = client.post(reverse("admin:customers_customermerge_suggestions_rebuild"))

    assert response.status_code == 302
    assert wait_for(lambda: SuggestionBuild.objects.filter(built_at__isnull=False, requested_at=None).exists())
    assert list(DuplicateSuggestion.objects.values_list("first_id", "second_id")) == [(a.pk, b.pk)]
