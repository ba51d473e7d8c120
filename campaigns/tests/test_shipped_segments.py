"""The ready-made segments: present, valid under today's registry, and matching what their
names promise."""

from datetime import date, timedelta

import pytest
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


def test_every_ready_made_segment_is_there_and_reads_as_stored():
    shipped = Segment.objects.filter(versions__number=1, versions__created_by=None).distinct()
    names = set(shipped.values_list("name", flat=True))

    assert {f"RFM: {label}" for label in rfm.SEGMENT_LABELS.values()} <= names
    assert {
        "First-time buyers",
        "Inactive for 6 months",
        "High CLV (top decile)",
        "At risk",
        "Birthday this month",
        "Abandoned cart in the last 24 hours",
    } <= names
    for segment in shipped:
        version = segment.current_version
        assert sentence(parse(version.rule)) == version.sentence, segment.name


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


def test_birthdays_this_month_and_customers_inactive_for_six_months():
    today = timezone.localdate()
    this_month = CustomerFactory(birthday=date(1990, today.month, 1))
    CustomerFactory(birthday=date(1990, today.month % 12 + 1, 1))
    CustomerFactory(birthday=None)
    sleeper, regular = CustomerFactory(), CustomerFactory()
    OrderFactory(customer=sleeper, placed_at=timezone.now() - timedelta(days=200))
    OrderFactory(customer=regular, placed_at=timezone.now() - timedelta(days=20))
    customers_recompute(customer_ids=[sleeper.pk, regular.pk])

    assert members("Birthday this month") == {this_month.pk}
    assert members("Inactive for 6 months") == {sleeper.pk}
    assert members("First-time buyers") == {sleeper.pk, regular.pk}
