"""Rows read as numpy columns (one array per field over binary COPY on PostgreSQL) come back
exactly, aligned and in the query's order, NULLs as each field's ``missing``."""

from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest

from core.db.column_reader import Field, read_columns
from customers.models import Customer
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

FIELDS = [
    Field("id", "c.id"),
    Field("revenue", "c.net_revenue", "float"),
    Field("birthday", "c.birthday", "day", missing=-1),
    Field("seen", "c.first_seen_at", "micros", missing=-7),
    Field("country", "c.country", "choice", choices=("DE", "FR")),
]


def read(where: str = "1 = 1", params=()):
    table = Customer._meta.db_table
    return read_columns(FIELDS, f"FROM {table} c WHERE {where} ORDER BY c.id DESC", list(params))


def test_every_kind_reads_back_exactly_in_the_querys_order():
    when = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    a = CustomerFactory(net_revenue=Decimal("12.50"), birthday=date(1990, 5, 17), first_seen_at=when, country="FR")
    b = CustomerFactory(net_revenue=Decimal("0.25"), birthday=None, first_seen_at=None, country="US")
    Customer.objects.filter(pk=b.pk).update(first_seen_at=None)

    got = read("c.id IN (%s, %s)", [a.pk, b.pk])

    assert got["id"].tolist() == [b.pk, a.pk]
    assert got["revenue"].tolist() == [0.25, 12.5]
    assert got["birthday"].tolist() == [-1, (date(1990, 5, 17) - date(1970, 1, 1)).days]
    assert got["seen"].tolist() == [-7, int(when.timestamp()) * 1_000_000 + 891011]
    assert got["country"].tolist() == [0, 2]  # not among the choices, then the second
    assert all(v.dtype in (np.int64, np.float64) for v in got.values())


def test_no_rows_give_empty_columns():
    got = read("c.id < 0")
    assert set(got) == {f.name for f in FIELDS} and all(len(v) == 0 for v in got.values())


def test_many_rows_stay_aligned():
    customers = CustomerFactory.create_batch(300, country="DE")
    got = read()
    assert got["id"].tolist() == sorted((c.pk for c in customers), reverse=True)
    by_id = {c.pk: float(c.net_revenue) for c in customers}
    assert got["revenue"].tolist() == [by_id[i] for i in got["id"].tolist()]
    assert set(got["country"].tolist()) == {1}
