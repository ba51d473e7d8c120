"""Rows written from numpy columns (binary COPY on PostgreSQL) read back exactly, NULLs included."""

from datetime import UTC, date, datetime

import numpy as np
import pytest

from core.db.column_writer import Column, upsert_columns
from customers.models import CustomerMetrics
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_values_nulls_text_dates_and_times_round_trip_and_a_second_write_overwrites():
    a, b = CustomerFactory(), CustomerFactory()
    when = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    day = (date(2025, 12, 31) - date(1970, 1, 1)).days

    def write(p_alive, stage):
        upsert_columns(
            CustomerMetrics,
            [
                Column("customer_id", "int8", np.array([a.pk, b.pk])),
                Column("computed_at", "timestamptz", np.array([when.timestamp() * 1e6] * 2)),
                Column("stage_since", "timestamptz", np.array([when.timestamp() * 1e6] * 2)),
                Column("purchase_days", "int4", np.array([3, 0])),
                Column("last_purchase_on", "date", np.array([day, np.nan])),
                Column("rfm_r", "int2", np.array([5, np.nan])),
                Column("p_alive", "float8", np.array([p_alive, np.inf])),
                Column("promoter", "bool", np.array([True, False])),
                Column("detractor", "bool", np.array([False, False])),
                Column("stage", "text", np.array([stage, "prospect"])),
                Column("stage_rule", "text", np.array(["on_cadence", ""])),
                Column("rfm_segment", "text", np.array(["", ""])),
            ],
        )

    write(0.123456789, "active")
    write(0.5, "advocate")

    first, second = CustomerMetrics.objects.get(pk=a.pk), CustomerMetrics.objects.get(pk=b.pk)
    assert (first.stage, first.p_alive, first.rfm_r, first.promoter) == ("advocate", 0.5, 5, True)
    assert first.last_purchase_on == date(2025, 12, 31)
    assert first.computed_at == when and first.stage_since == when
    assert (second.last_purchase_on, second.rfm_r, second.p_alive, second.stage_rule) == (None, None, None, "")
    assert CustomerMetrics.objects.count() == 2


def test_non_ascii_text_is_written_whole():
    customer = CustomerFactory()
    now = datetime.now(UTC).timestamp() * 1e6
    upsert_columns(
        CustomerMetrics,
        [
            Column("customer_id", "int8", np.array([customer.pk])),
            Column("computed_at", "timestamptz", np.array([now])),
            Column("stage_since", "timestamptz", np.array([now])),
            Column("stage_rule", "text", np.array(["rüle-ß→✓"])),
            Column("stage", "text", np.array(["new"])),
            Column("rfm_segment", "text", np.array([""])),
            Column("purchase_days", "int4", np.array([1])),
            Column("promoter", "bool", np.array([False])),
            Column("detractor", "bool", np.array([False])),
        ],
    )

    assert CustomerMetrics.objects.get().stage_rule == "rüle-ß→✓"


def test_text_given_as_positions_in_labels_reads_back_as_the_labels():
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    now = datetime.now(UTC).timestamp() * 1e6
    upsert_columns(
        CustomerMetrics,
        [
            Column("customer_id", "int8", np.array([a.pk, b.pk, c.pk])),
            Column("computed_at", "timestamptz", np.array([now] * 3)),
            Column("stage_since", "timestamptz", np.array([now] * 3)),
            # Labels repeat and are not sorted: each row takes the one at its position.
            Column("stage", "text", np.array([2, 0, 2]), labels=("lapsed", "new", "active")),
            Column("stage_rule", "text", np.array([0, 0, 0]), labels=("",)),
            Column("rfm_segment", "text", np.array([1, 0, 1]), labels=("x", "x")),
            Column("purchase_days", "int4", np.array([1, 1, 1])),
            Column("promoter", "bool", np.array([False] * 3)),
            Column("detractor", "bool", np.array([False] * 3)),
        ],
    )

    rows = dict(CustomerMetrics.objects.values_list("customer_id", "stage"))
    assert rows == {a.pk: "active", b.pk: "lapsed", c.pk: "active"}
    assert set(CustomerMetrics.objects.values_list("rfm_segment", flat=True)) == {"x"}
