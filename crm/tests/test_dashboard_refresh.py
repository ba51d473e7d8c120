"""The rollups kept up to date: after orders are added, cancelled, refunded and imported
with a date in the past, and new answers, stage changes and points arrive, the ten-minute
refresh leaves exactly what a rebuild from scratch gives. And the refresh runs on the
schedule, on the embedded default too."""

import os
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from crm.dashboard import id_sets
from crm.dashboard import models as rollups
from crm.dashboard import refresh as refreshing
from crm.dashboard.refresh import dashboard_rebuild, dashboard_refresh, rebuild_months
from crm.scheduler import beat_entries, run_entry
from crm.tests import dashboard_data as data
from customers.models import Order, StageChange
from customers.services.refunds import RefundData, refund_create
from customers.tests.factories import OrderFactory
from loyalty.ledger import Entry, entries_post
from support.models import NpsResponse

pytestmark = pytest.mark.django_db

RollupState, DailySales = rollups.RollupState, rollups.DailySales
ROLLUPS = [
    getattr(rollups, name)
    for name in ("DailySales", "DailyStageFlow", "DailyFeedback", "DailyResponseTimes", "DailyPoints")
    + ("PointsLiability", "CohortMonth")
]


def snapshot() -> dict:
    """Every rollup row, comparable: the id sets read back, the row ids left out."""
    out = {}
    for model in ROLLUPS:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        out[model.__name__] = sorted(tuple(str(v) for v in row) for row in model.objects.values_list(*fields))
    out["DailyBuyers"] = sorted(
        (str(r.day), r.shop_id, r.buyers, r.new, tuple(id_sets.unpack(r.buyer_ids)), tuple(id_sets.unpack(r.new_ids)))
        for r in rollups.DailyBuyers.objects.all()
    )
    out["ClvBand"] = sorted(
        tuple(map(str, r)) for r in rollups.ClvBand.objects.values_list("shop_id", "low", "high", "customers")
    )
    return out


@pytest.fixture
def history(settings, django_user_model):
    settings.TIME_ZONE = data.TIME_ZONE
    staff = django_user_model.objects.create_user("boss", is_staff=True)
    history = data.build(staff)
    Order.objects.update(updated_at=timezone.now() - timedelta(hours=1))  # written well before the rebuild
    return history


def test_the_refresh_after_changes_old_and_new_gives_what_a_rebuild_gives(history):
    t0 = timezone.now()
    dashboard_rebuild(now=t0)
    later = t0 + timedelta(days=2)  # the refresh runs three days on: these are its recent days
    ann, bob, ivy = (history.people[n] for n in ("ann", "bob", "ivy"))

    first = ann.orders.get(placed_at=data.at("2025-02-10 12:00"))
    first.status = Order.Status.CANCELLED  # ann's first order: her first day and cohort move to March
    first.save()
    OrderFactory(customer=ivy, shop=history.web, placed_at=data.at("2025-01-15 10:00"), total=Decimal(5))  # imported
    fulfilled = ann.orders.get(placed_at=data.at("2025-03-20 12:00"))
    refund_create(
        shop=history.web,
        order_external_id=fulfilled.external_id,
        data=RefundData(amount=Decimal("5.00"), refunded_at=data.at("2025-03-22 10:00")),
    )
    OrderFactory(
        customer=bob, shop=history.eu, placed_at=later, currency="EUR", total=Decimal(9), total_base=Decimal(10)
    )
    StageChange.objects.create(customer=bob, from_stage="new", to_stage="active", changed_at=later, reason="test")
    NpsResponse.objects.create(customer=bob, shop=history.web, score=9, created_at=later)
    entries_post([Entry(bob.pk, history.eu.group_id, "earn", "late", "test", available=7)], at=later)

    result = dashboard_refresh(now=t0 + timedelta(days=3))
    changed = {"2025-01-15", "2025-02-10", "2025-03-03", "2025-03-05", "2025-03-20"}  # and the 3 recent days
    assert {day.isoformat() for day in result.days} - changed == {
        (t0 + timedelta(days=n)).astimezone(ZoneInfo(data.TIME_ZONE)).date().isoformat() for n in (1, 2, 3)
    }
    refreshed = snapshot()
    dashboard_rebuild(now=t0 + timedelta(days=3))
    assert snapshot() == refreshed


def test_too_many_old_days_changed_are_rebuilt_by_the_month(history, monkeypatch):
    t0 = timezone.now()
    dashboard_rebuild(now=t0)
    monkeypatch.setattr(refreshing, "MAX_CHANGED_DAYS", 1)
    for day in (5, 6, 7):  # an import of old orders
        OrderFactory(customer=history.people["dan"], shop=history.eu, placed_at=data.at(f"2025-01-{day:02d} 10:00"))

    result = dashboard_refresh(now=t0)
    assert [m.isoformat() for m in result.months_apart] == ["2025-01-01", "2025-02-01"]  # and his next order
    rebuild_months(result.months_apart, now=t0)
    refreshed = snapshot()
    dashboard_rebuild(now=t0)
    assert snapshot() == refreshed


def test_the_recent_ledger_is_read_from_the_id_a_refresh_saw_before_it(history):
    t0 = timezone.now()
    dashboard_rebuild(now=t0)
    state = RollupState.load()
    assert refreshing.points_mark(state, before=t0 + timedelta(seconds=1)) == state.points_marks[-1][1] > 0
    assert refreshing.points_mark(state, before=t0 - timedelta(seconds=1)) == 0  # none that old: the whole ledger


def test_the_refresh_is_scheduled_every_ten_minutes_and_runs_in_the_scheduler(history):
    entry = next(e for e in beat_entries() if e.task == "crm.tasks.refresh_dashboard")
    assert entry.schedule.run_every == timedelta(minutes=10) and entry.frequent
    assert any(e.task == "crm.tasks.rebuild_dashboard" for e in beat_entries())
    dashboard_rebuild()
    version = RollupState.load().version

    assert run_entry(entry).last_status == "ok"
    assert RollupState.load().version == version + 1


@pytest.mark.skipif(
    bool(os.environ.get("REDIS_URL")), reason="the embedded default: no Redis (with it: test_celery_worker)"
)
def test_on_the_embedded_default_the_first_scheduled_refresh_builds_everything_in_process(history):
    assert settings.CELERY_TASK_ALWAYS_EAGER
    entry = next(e for e in beat_entries() if e.task == "crm.tasks.refresh_dashboard")

    assert run_entry(entry).last_status == "ok"
    state = RollupState.load()
    assert state.refreshed_at is not None and state.rebuilt_at is not None
    assert DailySales.objects.filter(day=data.FIRST).exists()
