"""Merges at the same moment, on a real PostgreSQL: both customers are locked, so two staff
merging one pair (either way round) end with one merge, and the points are moved once."""

import threading

import pytest

from core.errors import DomainError
from crm.merging.services import customers_merge
from crm.tests.merge_data import two_records
from customers.models import CustomerMerge
from loyalty.models import Account
from loyalty.tests.conftest import programme  # noqa: F401 (a fixture shared with loyalty)
from loyalty.verify import balances_verify
from tests.test_concurrency import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_merges_of_one_pair_at_once_make_one(programme):  # noqa: F811
    pair = two_records()
    total = sum(a.balance + a.pending for a in Account.objects.all())
    ids = iter([(pair.survivor.pk, pair.duplicate.pk), (pair.duplicate.pk, pair.survivor.pk)])
    lock = threading.Lock()

    def merge():
        with lock:
            survivor, merged = next(ids)
        try:
            return customers_merge(survivor_id=survivor, merged_id=merged).pk
        except DomainError as error:
            return str(error)

    results = _race(2, merge)
    assert CustomerMerge.objects.count() == 1
    assert sum(isinstance(r, int) for r in results) == 1
    assert any("merge into that customer instead" in str(r) or "already merged" in str(r) for r in results)
    assert sum(a.balance + a.pending for a in Account.objects.all()) == total
    assert balances_verify()[1] == []
