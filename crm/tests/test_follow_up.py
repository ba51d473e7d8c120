"""The outbox of follow-up work: a write and its follow-up commit together, marks coalesce,
a drain removes only what it finished, and a failure keeps the work for a retry."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.task_policy import RETRYABLE, crm_task
from crm.follow_up import pending_updates_drain, pending_updates_run
from crm.models import TaskFailure
from customers.models import Customer, Order, PendingUpdate
from customers.services.pending_updates import (
    pending_updates_backlog,
    pending_updates_claim,
    pending_updates_done,
    pending_updates_failed,
    pending_updates_mark,
)
from customers.tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def test_marks_of_one_customer_are_worked_once_and_the_first_gives_the_age():
    ann = CustomerFactory()
    first = timezone.now() - timedelta(minutes=5)

    pending_updates_mark([ann.pk, ann.pk], now=first)
    pending_updates_mark([ann.pk])

    backlog = pending_updates_backlog()
    assert backlog.customers == 1 and backlog.age_seconds() >= 300
    claim = pending_updates_claim(limit=10)
    assert claim.customer_ids == [ann.pk] and len(claim.row_ids) == 2


def test_a_batch_takes_every_mark_of_its_customers_so_a_backlog_works_each_customer_once():
    ann, bob, cat = CustomerFactory(), CustomerFactory(), CustomerFactory()
    for _ in range(3):  # three bulks, each naming all three; oldest first: ann, bob, cat
        pending_updates_mark([ann.pk, bob.pk, cat.pk])

    claim = pending_updates_claim(limit=2)  # the two oldest rows are Ann's and Bob's first

    assert claim.customer_ids == [ann.pk, bob.pk] and len(claim.row_ids) == 6
    left = PendingUpdate.objects.filter(claimed_until=None).values_list("customer_id", flat=True)
    assert sorted(left) == [cat.pk] * 3


def test_a_mark_made_while_a_drain_works_survives_the_drain():
    ann, bob = CustomerFactory(), CustomerFactory()
    pending_updates_mark([ann.pk, bob.pk])
    claim = pending_updates_claim(limit=10)

    pending_updates_mark([ann.pk])  # a new order for Ann arrives while the drain works
    pending_updates_done(claim)

    (left,) = PendingUpdate.objects.all()
    assert left.customer_id == ann.pk and left.claimed_until is None  # free for the next drain


def test_a_claimed_batch_is_not_claimed_twice_until_its_lease_runs_out():
    ann = CustomerFactory()
    pending_updates_mark([ann.pk])

    assert pending_updates_claim(limit=10).customer_ids == [ann.pk]
    assert pending_updates_claim(limit=10) is None
    assert pending_updates_claim(limit=10, now=timezone.now() + timedelta(minutes=3)).customer_ids == [ann.pk]


def test_a_failed_batch_is_kept_with_its_error_and_waits_before_the_next_try():
    ann = CustomerFactory()
    pending_updates_mark([ann.pk])
    claim = pending_updates_claim(limit=10)

    pending_updates_failed(claim, error="OperationalError: server closed the connection")

    row = PendingUpdate.objects.get()
    assert row.attempts == 1 and "server closed" in row.last_error
    assert pending_updates_claim(limit=10) is None  # backing off
    assert pending_updates_claim(limit=10, now=timezone.now() + timedelta(minutes=3)).customer_ids == [ann.pk]


def test_an_order_and_its_mark_commit_together_and_a_refused_one_leaves_neither(api, order_payload):
    with transaction.atomic():
        api.post("/api/v1/orders", order_payload, format="json")
        assert PendingUpdate.objects.filter(customer__email="ann@example.com").exists()
        transaction.set_rollback(True)
    assert not Order.objects.exists() and not PendingUpdate.objects.exists()

    order_payload["total"] = "-1"
    assert api.post("/api/v1/orders", order_payload, format="json").status_code == 400
    assert not PendingUpdate.objects.exists()


def test_a_drain_brings_every_marked_customer_up_to_date_and_empties_the_outbox():
    customers = CustomerFactory.create_batch(3)
    for c in customers:
        OrderFactory(customer=c, total=Decimal("20.00"))
    pending_updates_mark([c.pk for c in customers])

    assert pending_updates_drain() == 3

    assert not PendingUpdate.objects.exists()
    assert set(Customer.objects.values_list("orders_count", "net_revenue")) == {(1, Decimal("20.00"))}


def test_a_drain_that_fails_keeps_the_marks_and_says_why(monkeypatch):
    ann = CustomerFactory()
    pending_updates_mark([ann.pk])

    def broken(**kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr("crm.follow_up.customers_recompute", broken)
    with pytest.raises(ConnectionError):
        pending_updates_run()

    row = PendingUpdate.objects.get()
    assert row.attempts == 1 and "database went away" in row.last_error


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_orders_arriving_while_drains_run_are_all_reflected(shop):
    """Four writers add orders for the same ten customers while two drains run; once the
    writers stop and a last drain ends, every customer's figures match their orders."""
    from customers.services.customers import CustomerData
    from customers.services.orders import OrderData, orders_ingest

    stop = threading.Event()
    errors = []

    def writer(n):
        try:
            for i in range(20):
                orders_ingest(
                    shop=shop,
                    orders=[
                        OrderData(
                            external_id=f"w{n}-{i}",
                            placed_at=timezone.now() - timedelta(days=1),
                            currency="USD",
                            status="paid",
                            total=Decimal("10.00"),
                            customer=CustomerData(external_id=f"c{i % 10}", email=f"c{i % 10}@example.com"),
                        )
                    ],
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def drainer():
        try:
            while not stop.is_set():
                pending_updates_drain(seconds=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    drains = [threading.Thread(target=drainer) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in [*drains, *writers]:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in drains:
        t.join()
    pending_updates_drain()

    assert errors == []
    assert not PendingUpdate.objects.exists()
    for customer in Customer.objects.all():
        orders = Order.objects.filter(customer=customer)
        assert customer.orders_count == orders.count() == 8  # 2 from each writer
        assert customer.net_revenue == Decimal("80.00")


def test_every_task_retries_what_an_outage_raises_and_has_a_time_limit():
    from config.celery import app

    app.loader.import_default_modules()
    ours = {
        name: task
        for name, task in app.tasks.items()
        if name.split(".")[0] in {"crm", "customers", "loyalty", "campaigns", "support"}
    }

    assert "crm.tasks.drain_pending_updates" in ours
    for name, task in ours.items():
        assert task.time_limit and task.soft_time_limit < task.time_limit, name
    import django.db
    import kombu.exceptions
    import psycopg
    import redis.exceptions

    for error in (
        django.db.OperationalError,
        django.db.InterfaceError,
        redis.exceptions.ConnectionError,
        kombu.exceptions.OperationalError,
    ):
        assert issubclass(error, RETRYABLE)
    assert not issubclass(psycopg.OperationalError, RETRYABLE)  # Django wraps it in its own


@crm_task()
def always_fails(customer_ids: list[int]) -> None:
    raise ValueError(f"cannot handle {customer_ids}")


def test_a_task_that_fails_for_good_is_recorded_for_the_staff_with_what_it_was_for():
    always_fails.apply(args=([7, 8],), throw=False)

    failure = TaskFailure.objects.get()
    assert failure.task.endswith("always_fails")
    assert failure.arguments == {"args": [[7, 8]], "kwargs": {}}
    assert "ValueError: cannot handle [7, 8]" in failure.error and "Traceback" in failure.traceback


@pytest.mark.django_db(transaction=True)  # the follow-up runs on commit, after the response
def test_a_customer_sent_without_an_order_is_a_prospect_at_once(api):
    response = api.post("/api/v1/customers", {"email": "new@example.com"}, format="json")

    assert response.status_code == 201
    metrics = Customer.objects.get(email_normalized="new@example.com").metrics
    assert metrics.stage == "prospect" and metrics.purchase_days == 0
    assert not PendingUpdate.objects.exists()
