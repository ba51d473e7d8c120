"""The ready-made segments: present, valid under today's registry, and matching what their
names promise."""

import importlib
from datetime import date, timedelta

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from campaigns.models import Segment
from campaigns.segments.compiler import matching
from campaigns.segments.rules import parse
from campaigns.segments.sentence import sentence
from customers.metrics import clv, rfm
from customers.models import CustomerMetrics
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory, fitted_model

pytestmark = pytest.mark.django_db


def members(name: str) -> set[int]:
    version = Segment.objects.get(name=name).current_version
    return set(matching(parse(version.rule)).values_list("pk", flat=True))


SHIPPED_NAMES = {
    *(f"RFM: {label}" for label in rfm.SEGMENT_LABELS.values()),
    "First-time buyers",
    "Win-back: no order for 6 months",
    "High CLV (top decile)",
    "Lifecycle: at risk",
    "Birthday this month",
    "Abandoned cart in the last 24 hours",
}


def test_every_ready_made_segment_is_there_and_reads_as_stored():
    shipped = Segment.objects.filter(versions__number=1, versions__created_by=None).distinct()

    assert set(shipped.values_list("name", flat=True)) == SHIPPED_NAMES
    for segment in shipped:
        version = segment.current_version
        assert sentence(parse(version.rule)) == version.sentence, segment.name


def test_each_ready_made_segment_says_who_is_in_it_and_what_it_is_for():
    descriptions = dict(Segment.objects.filter(name__in=SHIPPED_NAMES).values_list("name", "description"))

    for name, description in descriptions.items():
        assert "Use for" in description or "Leave out" in description, name
        assert "(see docs/metrics.md)" not in description, name
    # The two "at risk" lists each say when to use the other.
    assert "“RFM: At risk”" in descriptions["Lifecycle: at risk"]
    assert "“Lifecycle: at risk”" in descriptions["RFM: At risk"]
    assert "win-back" in descriptions["Win-back: no order for 6 months"]


def test_the_renaming_migration_leaves_a_segment_a_marketer_changed_alone():
    """Migration 0004 run again on the state before it: the shipped segments get their new
    names and descriptions, one a marketer described keeps its words, and a win-back segment
    is there either way."""
    migration = importlib.import_module("campaigns.migrations.0004_shipped_segments_named_for_use")
    migration.backwards(django_apps, None)
    assert Segment.objects.filter(name__in=["At risk", "Inactive for 6 months", "RFM: At risk"]).count() == 3
    Segment.objects.filter(name="Inactive for 6 months").update(description="Our own sleepers list")

    migration.forwards(django_apps, None)

    assert Segment.objects.get(name="Lifecycle: at risk").description.startswith("Customers overdue by their own")
    assert Segment.objects.get(name="Inactive for 6 months").description == "Our own sleepers list"
    win_back = Segment.objects.get(name="Win-back: no order for 6 months")
    assert win_back.current_version.sentence == "customers where days since the last order > 182"
    assert not Segment.objects.filter(name="At risk").exists()


def test_high_clv_is_the_top_decile_by_predicted_clv_at_the_last_fit():
    customers = [CustomerFactory() for _ in range(20)]
    now = timezone.now()
    values = [value * 10.0 for value in range(20)]
    for value, customer in zip(values, customers, strict=True):
        CustomerMetrics.objects.create(customer=customer, computed_at=now, stage_since=now, clv_predicted=value)
    CustomerFactory()  # no prediction: not ranked
    assert members("High CLV (top decile)") == set()  # no model yet: nobody

    fitted_model(clv_percentiles=clv.percentiles(values))

    assert members("High CLV (top decile)") == {customers[-1].pk, customers[-2].pk}


def test_birthdays_this_month_and_customers_to_win_back_after_six_months():
    today = timezone.localdate()
    this_month = CustomerFactory(birthday=date(1990, today.month, 1))
    CustomerFactory(birthday=date(1990, today.month % 12 + 1, 1))
    CustomerFactory(birthday=None)
    sleeper, regular = CustomerFactory(), CustomerFactory()
    OrderFactory(customer=sleeper, placed_at=timezone.now() - timedelta(days=200))
    OrderFactory(customer=regular, placed_at=timezone.now() - timedelta(days=20))
    customers_recompute(customer_ids=[sleeper.pk, regular.pk])

    assert members("Birthday this month") == {this_month.pk}
    assert members("Win-back: no order for 6 months") == {sleeper.pk}
    assert members("First-time buyers") == {sleeper.pk, regular.pk}
