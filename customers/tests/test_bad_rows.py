"""One bad row never stops a set-based pass (issue 16): rows planted straight into the
database (an order placed in year 1 BC, two orders whose sum overflows numeric(14,2)),
among good customers in the same chunk and in the next one. Every recompute path completes,
every good customer gets exact figures, the bad ones are logged by id, and a re-run
converges."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DataError, OperationalError
from django.utils import timezone

import customers.management.commands.recompute_customers as command
from core import chunks
from core.chunks import BadCustomers, chunk_run_ids, chunk_run_range
from customers import tasks
from customers.models import ClvModel, Customer, CustomerMetrics, StageChange
from customers.services.recompute import customers_refresh_changed
from customers.tests.bad_rows import plant_overflowing_orders, plant_placed_at, skipped
from customers.tests.factories import CustomerFactory, OrderFactory
from customers.tests.test_clv_fit_command import cdnow_orders, fit_json  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

NOW = timezone.now()
# Per good customer, (days ago, total) of each order.
GOOD_ORDERS = [
    [(40, "10.00"), (10, "25.50")],
    [(5, "99.99")],
    [(200, "12.00"), (100, "13.00"), (3, "14.00")],
    [],  # a prospect
]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of three customers, so the six below make two chunks of one bad customer each."""
    monkeypatch.setattr(chunks.chunked, "__defaults__", (3,))
    for module in (tasks, command):
        monkeypatch.setattr(module, "CHUNK_SIZE", 3)
        monkeypatch.setattr(module, "NIGHTLY_CHUNK_SIZE", 3)


def population(kind: str) -> tuple[list, list]:
    """Good, bad, good | good, bad, good, in id order: a bad customer in each chunk of three."""
    good, bad = [], []
    for i, slot in enumerate(["good", "bad", "good", "good", "bad", "good"]):
        customer = CustomerFactory()
        if slot == "good":
            orders = GOOD_ORDERS[len(good)]
            for days, total in orders:
                OrderFactory(customer=customer, placed_at=NOW - timedelta(days=days), total=Decimal(total))
            good.append((customer, orders))
            continue
        OrderFactory(customer=customer, placed_at=NOW - timedelta(days=20 + i), total=Decimal("30.00"))
        if kind == "year 1":
            plant_placed_at(OrderFactory(customer=customer), "year 1")
        else:
            plant_overflowing_orders(customer, OrderFactory, placed_at=NOW - timedelta(days=30))
        bad.append(customer)
    return good, bad


def figures(good) -> dict:
    """What the passes store for the good customers."""
    rows = {}
    for customer, _ in good:
        c = Customer.objects.get(pk=customer.pk)
        m = CustomerMetrics.objects.get(customer=c)
        rows[c.pk] = (c.orders_count, c.net_revenue, c.first_order_at, c.last_order_at, m.purchase_days, m.stage)
    return rows


def assert_exact(good) -> None:
    stored = figures(good)
    for customer, orders in good:
        count, net, first, last, purchase_days, stage = stored[customer.pk]
        assert count == len(orders) and purchase_days == len(orders)
        assert net == sum((Decimal(t) for _, t in orders), Decimal("0.00"))
        times = sorted(NOW - timedelta(days=d) for d, _ in orders)
        assert (first, last) == ((times[0], times[-1]) if times else (None, None))
        assert stage == ("prospect" if not orders else stage) and stage


def run_command(*args):
    call_command("recompute_customers", *args, verbosity=0)


PATHS = {
    "after an order (task)": lambda ids: tasks.recompute_customers.delay(ids),
    "nightly repair of recent changes": lambda ids: customers_refresh_changed(since=NOW - tasks.REPAIR_LOOKBACK),
    "nightly task (repair, refit, pass)": lambda ids: tasks.refit_and_recompute_all.delay(),
    "weekly rebuild task": lambda ids: tasks.rebuild_all_from_orders.delay(),
    "command": lambda ids: run_command(),
    "command --from-orders": lambda ids: run_command("--from-orders"),
    "command --full": lambda ids: run_command("--full"),
    "command --async": lambda ids: run_command("--async"),
    "command --async --from-orders": lambda ids: run_command("--async", "--from-orders"),
    "command --full --async": lambda ids: run_command("--full", "--async"),
}


@pytest.mark.parametrize("kind", ["year 1", "money"])
@pytest.mark.parametrize("path", list(PATHS))
def test_every_recompute_path_skips_only_the_bad_customers(path, kind, small_chunks, caplog):
    good, bad = population(kind)
    ids = [c.pk for c, _ in good] + [c.pk for c in bad]
    if path == "nightly repair of recent changes":
        good = [(c, orders) for c, orders in good if orders]  # it repairs those with orders

    PATHS[path](ids)

    assert_exact(good)
    assert {cid for _, cid in skipped(caplog)} == {c.pk for c in bad}
    # Never a value the columns cannot hold: the bad customers keep what they had.
    assert [(c.orders_count, c.net_revenue) for c in Customer.objects.filter(pk__in=[b.pk for b in bad])] == [
        (0, Decimal("0.00"))
    ] * 2

    before, changes = figures(good), StageChange.objects.count()
    caplog.clear()
    PATHS[path](ids)

    assert figures(good) == before and StageChange.objects.count() == changes
    assert {cid for _, cid in skipped(caplog)} == {c.pk for c in bad}


def test_the_nightly_pass_from_stored_summaries_carries_on_over_a_bad_customer(small_chunks, caplog):
    good, bad = population("money")
    run_command("--from-orders")
    before = figures(good)
    caplog.clear()

    run_command()  # every good customer has a stored summary now: the pass reads those

    assert figures(good) == before
    assert {(p, cid) for p, cid in skipped(caplog)} == {("nightly pass", c.pk) for c in bad}


def test_the_log_names_the_pass_and_the_customer(small_chunks, caplog):
    _, bad = population("money")

    run_command("--from-orders")

    messages = [r.getMessage() for r in caplog.records if getattr(r, "customer_id", None) == bad[0].pk]
    assert len(messages) == 1 and messages[0].startswith(f"rebuild from orders: customer {bad[0].pk} skipped")
    assert "numeric(14,2)" in messages[0]


# ------------------------------------------------------------------------------ the CLV fit


@pytest.mark.parametrize("kind", ["year 1", "money"])
def test_a_bad_customer_neither_crashes_nor_moves_the_clv_fit(cdnow_orders, kind, caplog):  # noqa: F811
    bad = CustomerFactory()
    OrderFactory(customer=bad, shop=cdnow_orders, placed_at=datetime(1997, 3, 1, 12, tzinfo=UTC))
    if kind == "year 1":
        plant_placed_at(OrderFactory(customer=bad, shop=cdnow_orders), "year 1")
    else:
        plant_overflowing_orders(bad, OrderFactory, shop=cdnow_orders, placed_at=datetime(1997, 5, 1, 12, tzinfo=UTC))

    result = fit_json("--until", "1997-09-30", "--time-unit", "weeks")

    bg, gg = result["bgnbd"], result["gamma_gamma"]  # the published CDNOW parameters, as without it
    assert [round(bg[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    assert [round(gg[k], 2) for k in ("p", "q", "v")] == [6.25, 3.74, 15.44]
    assert result["n_customers"] == 2357
    model = ClvModel.current()
    assert all(v == v for v in model.clv_percentiles)  # no NaN
    assert any(str(bad.pk) in r.getMessage() and r.name.endswith("clv_fitting") for r in caplog.records)


# ------------------------------------------------------------------------------ the runner


def test_a_chunk_is_split_down_to_its_bad_customers_and_every_other_one_runs_once(caplog):
    bad = {7, 8, 23}
    done: list[int] = []

    def run(lo: int, hi: int) -> int:
        part = [i for i in range(lo, hi + 1) if i % 5]  # ids with gaps, as after deletions
        if bad & set(part):
            raise DataError("numeric field overflow")
        done.extend(part)
        return len(part)

    assert chunk_run_range("test pass", 1, 40, run) == 32 - 3
    assert sorted(done) == sorted(i for i in range(1, 41) if i % 5 and i not in bad)
    assert skipped(caplog) == {("test pass", i) for i in bad}


def test_named_bad_customers_are_left_out_without_bisecting(caplog):
    calls: list[list[int]] = []

    def run(ids: list[int]) -> int:
        calls.append(ids)
        if 3 in ids:
            raise BadCustomers([3], "a sum beyond its column")
        return len(ids)

    assert chunk_run_ids("test pass", [5, 1, 3, 2, 4], run) == 4
    assert calls == [[1, 2, 3, 4, 5], [1, 2, 4, 5]]
    assert skipped(caplog) == {("test pass", 3)}


def test_an_error_in_every_customer_is_a_bug_and_stops_the_pass(caplog):
    def run(lo: int, hi: int) -> int:
        raise ValueError("a bug, not a bad row")

    with pytest.raises(ValueError, match="a bug"):
        chunk_run_range("test pass", 1, 5000, run)
    assert len(skipped(caplog)) == chunks.MAX_SKIPPED_PER_CHUNK + 1


def test_an_operational_error_is_not_a_bad_row():
    calls = []

    def run(ids: list[int]) -> int:
        calls.append(ids)
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        chunk_run_ids("test pass", [1, 2, 3], run)
    assert calls == [[1, 2, 3]]
