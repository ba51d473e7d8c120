"""Flows benchmark (`make bench-flows`), on PostgreSQL.

1. A fresh database (BENCH_FLOWS_DATABASE_URL, default crm_bench_flows), migrated.
2. Seeded with COPY: 1,000,000 customers (BENCH_FLOWS_CUSTOMERS), 10 % of them in Germany;
   three flows of one shop, each with one run per customer due now:
   - "wait": every run at a one-day wait step;
   - "condition": every run at "country is DE" (yes: on to a wait; no: exit);
   - and a segment-entry flow ("entered Germany", one add-tag step), switched on after the
     segment's first fill.
3. Timed, in-process (one worker):
   - the pass over the wait flow: 1,000,000 due runs taken (recorded, moved on a day);
   - the same on a third flow by two passes at once (two workers sharing the batches);
   - the pass over the condition flow: 1,000,000 runs split by one query per batch;
   - the segment-entry trigger: 1,000 customers move to Germany; the time from their
     membership change (committed) to the end of the pass that enrolled them and took
     their first step, with the beat's 30 s interval as the worst wait before that pass.
Printed as Markdown, for docs/benchmarks.md.
"""

import os
import threading
import time
from datetime import timedelta

from harness import django_setup

DB_URL = os.environ.get("BENCH_FLOWS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_flows")
CUSTOMERS = int(os.environ.get("BENCH_FLOWS_CUSTOMERS", "1000000"))
ENTRANTS = 1_000
CHUNK = 100_000

django_setup(database_url=DB_URL, fresh=True, redis_url="")

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from campaigns.flows.engine import flow_activate, flows_pass  # noqa: E402
from campaigns.models import Flow, FlowRun, FlowStep, FlowStepRun, RunStatus, StepKind, TriggerKind  # noqa: E402
from campaigns.services import segment_create, segment_refresh, segments_refresh_customers  # noqa: E402
from core.db import bulk_writer as bw  # noqa: E402
from customers.models import Customer, CustomerIdentity, Shop  # noqa: E402

CUSTOMER_COLUMNS = [
    "id", "email", "email_normalized", "first_name", "last_name", "phone", "country", "marketing_consent",
    "source", "utm_source", "utm_medium", "utm_campaign", "orders_count", "net_revenue", "avg_order_value",
    "time_zone", "created_at", "updated_at",
]  # fmt: skip
RUN_COLUMNS = [
    "id", "flow_id", "customer_id", "trigger_key", "triggered_at", "entered_at", "step_id", "due_at", "status",
    "exit_reason",
]  # fmt: skip
GERMANY = {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}


def seed(now):
    shop = Shop.objects.create(slug="bench", name="Bench shop")
    wait = Flow.objects.create(shop=shop, name="wait", trigger=TriggerKind.FIRST_ORDER, active=True)
    wait_step = FlowStep.objects.create(flow=wait, position=0, kind=StepKind.WAIT, params={"minutes": 1440})
    FlowStep.objects.create(flow=wait, position=1, kind=StepKind.ADD_TAG, params={"tag": "waited"})
    cond = Flow.objects.create(shop=shop, name="condition", trigger=TriggerKind.FIRST_ORDER, active=True)
    cond_step = FlowStep.objects.create(
        flow=cond, position=0, kind=StepKind.CONDITION, params={"rule": GERMANY, "no": "exit"}
    )
    FlowStep.objects.create(flow=cond, position=1, kind=StepKind.WAIT, params={"minutes": 1440})
    pair = Flow.objects.create(shop=shop, name="wait, two workers", trigger=TriggerKind.FIRST_ORDER, active=True)
    pair_step = FlowStep.objects.create(flow=pair, position=0, kind=StepKind.WAIT, params={"minutes": 1440})
    FlowStep.objects.create(flow=pair, position=1, kind=StepKind.ADD_TAG, params={"tag": "waited"})
    now_s = int(now.timestamp())
    ts = bw.timestamps([now_s])[0]
    due = bw.timestamps([now_s - 60])[0]
    run_id = 0
    for first in range(1, CUSTOMERS + 1, CHUNK):
        last = min(first + CHUNK - 1, CUSTOMERS)
        bw.write_rows(
            Customer,
            CUSTOMER_COLUMNS,
            (
                (i, f"c{i}@example.com", f"c{i}@example.com", "", "", "", "DE" if i % 10 == 0 else "FR", False)
                + ("", "", "", "", 0, "0.00", "0.00", "UTC", ts, ts)
                for i in range(first, last + 1)
            ),
        )
        for flow, step in ((wait, wait_step), (cond, cond_step), (pair, pair_step)):
            bw.write_rows(
                FlowRun,
                RUN_COLUMNS,
                (
                    (run_id + i, flow.pk, i, f"seed:{i}", ts, ts, step.pk, due, "active", "")
                    for i in range(first, last + 1)
                ),
            )
            run_id += CUSTOMERS
        run_id -= 3 * CUSTOMERS
        print(f"  seeded {last:,} customers", flush=True)
    entrants = list(range(1, 10 * ENTRANTS, 10))[:ENTRANTS]  # customers in France: 1, 11, 21 …
    bw.write_rows(
        CustomerIdentity,
        ["shop_id", "customer_id", "external_id", "email", "first_name", "last_name", "phone", "country"]
        + ["source", "utm_source", "utm_medium", "utm_campaign", "marketing_consent", "created_at", "updated_at"],
        ((shop.pk, c, f"c{c}", "", "", "", "", "", "", "", "", "", True, ts, ts) for c in entrants),
    )
    bw.reset_sequences(Customer, FlowRun, CustomerIdentity)
    return shop, wait, cond, pair, entrants


def two_workers(now, flow_id: int) -> int:
    """Two passes of one flow at once, as two Celery workers would run them: the batches
    are shared out by SKIP LOCKED."""
    taken = []

    def work():
        try:
            taken.append(flows_pass(now=now, flow_ids=[flow_id]).steps_taken)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(taken)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main():
    call_command("migrate", verbosity=0)
    now = timezone.now()
    seconds, (shop, wait, cond, pair, entrants) = timed(lambda: seed(now))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"\nSeeded in {seconds:.0f} s: {Customer.objects.count():,} customers, {FlowRun.objects.count():,} runs\n")

    print("| measure | time | result |\n| --- | --- | --- |")
    seconds, result = timed(lambda: flows_pass(now=now, flow_ids=[wait.pk]))
    print(f"| flow pass: {CUSTOMERS:,} due runs at a wait step | {seconds:.1f} s | {result.steps_taken:,} steps "
          f"taken, {result.steps_taken / seconds:,.0f} runs/s |", flush=True)  # fmt: skip
    seconds, taken = timed(lambda: two_workers(now, pair.pk))
    print(f"| the same, two workers at once (threads, each its own connection) | {seconds:.1f} s | {taken:,} steps "
          f"taken, {taken / seconds:,.0f} runs/s |", flush=True)  # fmt: skip
    seconds, result = timed(lambda: flows_pass(now=now, flow_ids=[cond.pk]))
    yes = FlowStepRun.objects.filter(step__flow=cond, outcome="yes").count()
    print(f"| flow pass: {CUSTOMERS:,} due runs at a condition step (country is DE) | {seconds:.1f} s | "
          f"{result.steps_taken:,} steps taken (the condition, then the wait after it for the yes), "
          f"{yes:,} yes |", flush=True)  # fmt: skip
    seconds, result = timed(lambda: flows_pass(now=now, flow_ids=[wait.pk, cond.pk]))
    print(f"| the next pass, nothing due ({2 * CUSTOMERS:,} active or finished runs) | {seconds * 1000:.0f} ms | "
          f"{result.steps_taken} taken |", flush=True)  # fmt: skip

    segment = segment_create(name="Germany", rule=GERMANY)
    seconds, _ = timed(lambda: segment_refresh(segment=segment))
    print(f"| (the segment's first fill, {CUSTOMERS // 10:,} members) | {seconds:.1f} s | |", flush=True)
    entry = Flow.objects.create(
        shop=shop,
        name="entered Germany",
        trigger=TriggerKind.SEGMENT_ENTERED,
        trigger_params={"segment_id": segment.pk},
    )
    FlowStep.objects.create(flow=entry, position=0, kind=StepKind.ADD_TAG, params={"tag": "welcome-de"})
    flow_activate(flow=entry, active=True)
    Customer.objects.filter(pk__in=entrants).update(country="DE")
    seconds, _ = timed(lambda: segments_refresh_customers(customer_ids=entrants))
    changed = time.perf_counter()
    print(f"| (refresh of the {ENTRANTS:,} changed customers' memberships) | {seconds * 1000:.0f} ms | |", flush=True)
    result = flows_pass(flow_ids=[entry.pk])
    latency = time.perf_counter() - changed
    done = FlowRun.objects.filter(flow=entry, status=RunStatus.COMPLETED).count()
    print(f"| segment entry → enrolled and first step taken, {ENTRANTS:,} customers | {latency * 1000:.0f} ms "
          f"(+ at most 30 s until the next pass) | {result.enrolled:,} enrolled, {done:,} completed |",
          flush=True)  # fmt: skip
    assert now < timezone.now() + timedelta(days=1)


if __name__ == "__main__":
    main()
