"""Lifecycle and CLV benchmark (`make bench-lifecycle`) on a seeded PostgreSQL database.

Needs a database seeded with `seed_demo` (default: crm_big, 1,000,000 customers) in
BENCH_LIFECYCLE_DATABASE_URL, and Redis for the Celery phase. Measures, in one run:
1. the bare aggregate over all orders (the reference the full recompute is compared to);
2. loading the fit's inputs, the BG/NBD and Gamma-Gamma fits, and predicting P(alive),
   expected purchases and 12-month CLV for every customer;
3. the full recompute (the nightly pass, from the stored purchase summaries) in one process,
   then through Celery with 1 and with 2 workers; the rebuild of everyone from orders in one
   process; the recompute from orders of one day's buyers (the per-order path and the
   nightly repair);
4. a straightforward per-customer ORM loop on a 10,000-customer slice, per customer, against
   both set-based paths on the same slice;
5. with LIFETIMES_PYTHON set (a venv with `lifetimes` and `setuptools<82`), the same fit
   and predictions by the lifetimes package, side by side.
Results go to bench/out/lifecycle.json and are printed as Markdown.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from harness import ROOT, django_setup

DB_URL = os.environ.get("BENCH_LIFECYCLE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_big")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
django_setup(database_url=DB_URL, redis_url=REDIS_URL)

import numpy as np  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from workers import celery_workers  # noqa: E402

from core.chunks import CHUNK_SIZE, NIGHTLY_CHUNK_SIZE, id_ranges  # noqa: E402
from customers.metrics import bgnbd, clv, gamma_gamma  # noqa: E402
from customers.models import ClvModel, Customer, CustomerMetrics, Order  # noqa: E402
from customers.services.clv_fitting import clv_fit, load_inputs  # noqa: E402
from customers.services.recompute import (  # noqa: E402
    customers_recompute,
    customers_recompute_range,
    customers_rescore_range,
    metrics_vacuum,
)
from customers.services.recompute_chunk import Context  # noqa: E402
from customers.tasks import rescore_customers_range  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


BARE_AGGREGATE = (
    "SELECT customer_id, count(*), sum(total_base), min(placed_at), max(placed_at) FROM customers_order "
    "GROUP BY customer_id"
)


def bare_aggregate() -> tuple[float, float, float]:
    """The issue's reference query, best of three: computed by the database alone (its rows
    counted there); with its million rows streamed to the client as binary COPY (the
    fastest way a client can receive them); and fetched into Python tuples."""
    server, streamed, fetched = [], [], []
    for _ in range(3):
        with connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute(f"SELECT count(*) FROM ({BARE_AGGREGATE}) s")
            cursor.fetchone()
            server.append(time.perf_counter() - start)
            start = time.perf_counter()
            with cursor.cursor.copy(f"COPY ({BARE_AGGREGATE}) TO STDOUT (FORMAT BINARY)") as copy:
                for _block in copy:
                    pass
            streamed.append(time.perf_counter() - start)
            start = time.perf_counter()
            cursor.execute(BARE_AGGREGATE)
            cursor.fetchall()
            fetched.append(time.perf_counter() - start)
    return min(server), min(streamed), min(fetched)


def fit_phase() -> dict:
    load_s, inputs = timed(lambda: load_inputs(until=timezone.localdate(), time_unit="weeks"))
    x, t_x, T = inputs.x_tx_T()
    m = inputs.summary.monetary
    bg_s, bg = timed(lambda: bgnbd.fit(x, t_x, T))
    gg_s, gg = timed(lambda: gamma_gamma.fit(x, m))

    def predict():  # as the recompute does it
        spend = gamma_gamma.expected_spend(gg.params, x, m)
        return clv.predict(bg.params, spend, x, t_x, T, horizons=np.array([30, 90, 365]) / 7, days_per_unit=7)

    predict_s = min(timed(predict)[0] for _ in range(3))  # best of three, as for the aggregate
    arrays = Path(tempfile.gettempdir()) / "crm_lifecycle_inputs.npz"
    np.savez(arrays, x=x, t_x=t_x, T=T, m=m)
    return {
        "customers": int(x.size),
        "load_s": load_s,
        "bgnbd_fit_s": bg_s,
        "gamma_gamma_fit_s": gg_s,
        "fit_s": bg_s + gg_s,
        "predict_s": predict_s,
        "bgnbd": bg.params.as_dict(),
        "gamma_gamma": gg.params.as_dict(),
        "arrays": str(arrays),
    }


def in_process(*flags: str) -> float:
    """``manage.py recompute_customers`` (the nightly pass, or with ``--from-orders`` the
    rebuild) in a process of its own, as an operator runs it: its own timing of the work."""
    metrics_vacuum()  # autovacuum is off here; the nightly task vacuums before its pass too
    out = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "recompute_customers", "-v0", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(re.search(r"in ([0-9.]+) s", out).group(1))


def one_day_of_buyers() -> tuple[int, float]:
    """The recompute from orders of everyone who ordered in the last 24 hours: what the
    per-order updates do over a day, and the nightly repair at most."""
    ids = list(
        Order.objects.filter(placed_at__gte=timezone.now() - timedelta(days=1))
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )
    seconds, _ = timed(lambda: customers_recompute(customer_ids=ids))
    return len(ids), seconds


def celery_recompute(workers: int) -> float:
    """Queue every chunk of the nightly pass as the nightly task does, let ``workers`` worker
    processes run them, and wait for every chunk's result (asked for here only)."""
    metrics_vacuum()  # autovacuum is off here; the nightly task vacuums before its pass too
    with celery_workers(workers):
        start = time.perf_counter()
        ranges = id_ranges(Customer, NIGHTLY_CHUNK_SIZE)
        results = [rescore_customers_range.apply_async(r, ignore_result=False) for r in ranges]
        for result in results:
            result.get(timeout=600)
        return time.perf_counter() - start


SLICE = (200_000, 10_000)  # the 10,000 customers after the first 200,000, by id


def slice_ids() -> list[int]:
    start, size = SLICE
    return list(Customer.objects.order_by("pk").values_list("pk", flat=True)[start : start + size])


def set_based_slice(step, size: int) -> float:
    """``step`` over the same 10,000 customers (a contiguous id range, in chunks of at most
    ``size``, as the nightly task runs it): seconds per customer."""
    ids = slice_ids()
    ctx = Context.load()
    metrics_vacuum()  # autovacuum is off here; the nightly task vacuums before its pass too
    start = time.perf_counter()
    for first in range(0, len(ids), size):
        step(first_id=ids[first], last_id=ids[min(first + size - 1, len(ids) - 1)], ctx=ctx)
    return (time.perf_counter() - start) / len(ids)


def naive_orm_loop() -> float:
    """What the set-based path replaces: one customer at a time through the ORM. Returns
    seconds per customer. Same formulas, so only the data access pattern differs."""
    model = ClvModel.current()
    params = bgnbd.BgNbd(model.r, model.alpha, model.a, model.b)
    spend_params = gamma_gamma.GammaGamma(model.p, model.q, model.v)
    today = timezone.localdate()
    customers = slice_ids()
    start = time.perf_counter()
    for customer_id in customers:
        orders = Order.objects.filter(customer_id=customer_id).exclude(status__in=["cancelled", "refunded"])
        by_day: dict = {}
        for placed_at, total, refunded in orders.values_list("placed_at", "total_base", "refunded_base"):
            day = timezone.localtime(placed_at).date()
            by_day[day] = by_day.get(day, 0.0) + max(float(total - refunded), 0.0)
        values = {"computed_at": timezone.now(), "stage_since": timezone.now(), "purchase_days": len(by_day)}
        if by_day:
            days = sorted(by_day)
            x = len(days) - 1
            t_x, T = (days[-1] - days[0]).days / 7, (today - days[0]).days / 7
            m = sum(by_day[d] for d in days[1:]) / x if x else 0.0
            values["p_alive"] = float(bgnbd.p_alive(params, x, t_x, T))
            values["expected_purchases_90"] = float(bgnbd.expected_purchases(params, 90 / 7, x, t_x, T))
            spend = gamma_gamma.expected_spend(spend_params, x, m)
            values["clv_predicted"] = float(clv.predicted_clv(params, spend, x, t_x, T, days_per_unit=7))
        CustomerMetrics.objects.update_or_create(customer_id=customer_id, defaults=values)
    return (time.perf_counter() - start) / len(customers)


def lifetimes_side_by_side(arrays: str) -> dict | None:
    python = os.environ.get("LIFETIMES_PYTHON")
    if not python:
        return None
    script = ROOT / "bench/lifetimes_compare.py"
    out = subprocess.run([python, str(script), arrays], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> None:
    results: dict = {"customers": Customer.objects.count(), "orders": Order.objects.count()}
    aggregate = bare_aggregate()
    results["bare_aggregate_s"], results["bare_aggregate_streamed_s"], results["bare_aggregate_fetched_s"] = aggregate
    clv_fit(with_holdout=False)  # the model the recompute uses
    results["fit"] = fit_phase()
    results["recompute_in_process_s"] = in_process()
    results["recompute_celery_1_worker_s"] = celery_recompute(1)
    results["recompute_celery_2_workers_s"] = celery_recompute(2)
    results["rebuild_from_orders_s"] = in_process("--from-orders")
    results["one_day_buyers"], results["one_day_buyers_s"] = one_day_of_buyers()
    results["naive_orm_s_per_customer"] = naive_orm_loop()
    results["set_based_slice_s_per_customer"] = set_based_slice(customers_rescore_range, NIGHTLY_CHUNK_SIZE)
    results["from_orders_slice_s_per_customer"] = set_based_slice(customers_recompute_range, CHUNK_SIZE)
    results["set_based_s_per_customer"] = results["recompute_in_process_s"] / results["customers"]
    results["lifetimes"] = lifetimes_side_by_side(results["fit"]["arrays"])
    (ROOT / "bench/out").mkdir(exist_ok=True)
    (ROOT / "bench/out/lifecycle.json").write_text(json.dumps(results, indent=2))
    fit = results["fit"]
    rows = [
        ("customers / orders", f"{results['customers']:,} / {results['orders']:,}"),
        (
            "bare aggregate (reference): in the database / streamed to the client / fetched into Python",
            f"{results['bare_aggregate_s']:.2f} s / {results['bare_aggregate_streamed_s']:.2f} s / "
            f"{results['bare_aggregate_fetched_s']:.2f} s",
        ),
        ("full recompute (nightly pass), one process", f"{results['recompute_in_process_s']:.1f} s"),
        ("full recompute, Celery, 1 worker", f"{results['recompute_celery_1_worker_s']:.1f} s"),
        ("full recompute, Celery, 2 workers", f"{results['recompute_celery_2_workers_s']:.1f} s"),
        ("rebuild of everyone from orders, one process", f"{results['rebuild_from_orders_s']:.1f} s"),
        (
            "recompute from orders of one day's buyers",
            f"{results['one_day_buyers']:,} customers: {results['one_day_buyers_s']:.2f} s",
        ),
        (
            "per customer, same 10,000-customer slice: ORM loop vs nightly pass vs from orders",
            f"{results['naive_orm_s_per_customer'] * 1e3:.2f} ms vs "
            f"{results['set_based_slice_s_per_customer'] * 1e6:.0f} µs "
            f"({results['naive_orm_s_per_customer'] / results['set_based_slice_s_per_customer']:.0f}×) vs "
            f"{results['from_orders_slice_s_per_customer'] * 1e6:.0f} µs "
            f"({results['naive_orm_s_per_customer'] / results['from_orders_slice_s_per_customer']:.0f}×)",
        ),
        (
            "per customer: ORM loop vs the whole set-based run (one process)",
            f"{results['set_based_s_per_customer'] * 1e6:.0f} µs "
            f"({results['naive_orm_s_per_customer'] / results['set_based_s_per_customer']:.0f}×)",
        ),
        ("fit inputs loaded (5 M orders → summaries)", f"{fit['load_s']:.2f} s"),
        (
            "BG/NBD + Gamma-Gamma fit",
            f"{fit['fit_s']:.2f} s ({fit['bgnbd_fit_s']:.2f} + {fit['gamma_gamma_fit_s']:.2f})",
        ),
        ("P(alive), 3 horizons, 12-month CLV for all", f"{fit['predict_s']:.2f} s"),
    ]
    if results["lifetimes"]:
        lt = results["lifetimes"]
        rows.append(("lifetimes: fit (BG/NBD + Gamma-Gamma)", f"{lt['fit_s']:.1f} s"))
        rows.append(("lifetimes: P(alive), 3 horizons, 12-month CLV", f"{lt['predict_s']:.1f} s"))
    print("| measure | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
