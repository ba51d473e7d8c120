"""Support desk benchmark (`make bench-support`), on PostgreSQL.

1. A fresh database (BENCH_SUPPORT_DATABASE_URL, default crm_bench_support), migrated.
2. Seeded: 20,000 customers with 100,000 open tickets (one message each) whose due times
   spread from two days ago to five days ahead; and one customer with 1,000 orders
   (2 lines each), 50 refunds and 200 tickets with 3 messages each (one an internal note).
3. Timed in-process through Django's test client (server time: middleware, views,
   queries, templates; no network):
   - that customer's 360 page, first page and a filtered page: p50 / p95 of 100 requests;
   - the ticket queue (100,000 open tickets), its first page and the breached filter;
   - the SLA sweep over the 100,000 open tickets: the first run, which flags them all,
     and a steady run a minute later.
Printed as Markdown, for docs/benchmarks.md.
"""

import os
import statistics
import time
from datetime import timedelta

from harness import django_setup

DB_URL = os.environ.get("BENCH_SUPPORT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_support")

OPEN_TICKETS = int(os.environ.get("BENCH_OPEN_TICKETS", "100000"))
CUSTOMERS = 20_000
RUNS = 100


django_setup(database_url=DB_URL, fresh=True, redis_url="")  # in-process tasks; the sweep is timed directly

import numpy as np  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.models import Customer, Order, OrderLine, Refund, Shop  # noqa: E402
from support.escalation import sla_sweep  # noqa: E402
from support.models import Ticket, TicketMessage  # noqa: E402

BATCH = 10_000


def seed(now):
    rng = np.random.default_rng(1)
    shop = Shop.objects.create(slug="bench", name="Bench shop")
    Customer.objects.bulk_create(
        (
            Customer(email=f"c{i}@example.com", email_normalized=f"c{i}@example.com", first_name=f"C{i}")
            for i in range(CUSTOMERS)
        ),
        batch_size=BATCH,
    )
    ids = np.array(Customer.objects.values_list("pk", flat=True))
    due = now + timedelta(minutes=1) * rng.integers(-2 * 1440, 5 * 1440, OPEN_TICKETS)
    statuses = rng.choice(["new", "open", "on_hold"], OPEN_TICKETS)
    customers = rng.choice(ids, OPEN_TICKETS)
    for start in range(0, OPEN_TICKETS, BATCH):
        batch = range(start, min(start + BATCH, OPEN_TICKETS))
        tickets = Ticket.objects.bulk_create(
            Ticket(
                shop=shop,
                customer_id=int(customers[i]),
                subject=f"Question {i}",
                status=str(statuses[i]),
                created_at=due[i] - timedelta(days=3),
                first_response_due_at=due[i] - timedelta(hours=20) if statuses[i] == "new" else None,
                resolution_due_at=due[i],
            )
            for i in batch
        )
        TicketMessage.objects.bulk_create(
            TicketMessage(ticket=t, author_kind="customer", body="<p>Where is my parcel?</p>", created_at=t.created_at)
            for t in tickets
        )
    # The customer with a long history.
    vip = Customer.objects.create(email="vip@example.com", email_normalized="vip@example.com", first_name="Vera")
    orders = Order.objects.bulk_create(
        Order(
            shop=shop,
            external_id=f"V{i}",
            customer=vip,
            placed_at=now - timedelta(hours=8 * i),
            status="fulfilled",
            currency="USD",
            total=50,
            total_base=50,
        )
        for i in range(1000)
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=o, sku=f"SKU-{j}", name=f"Item {j}", quantity=1, unit_price=25) for o in orders for j in (1, 2)
    )
    Refund.objects.bulk_create(
        Refund(order=o, amount=10, amount_base=10, refunded_at=o.placed_at + timedelta(days=2)) for o in orders[:50]
    )
    tickets = Ticket.objects.bulk_create(
        Ticket(
            shop=shop, customer=vip, subject=f"VIP question {i}", status="solved", created_at=now - timedelta(days=i)
        )
        for i in range(200)
    )
    TicketMessage.objects.bulk_create(
        TicketMessage(
            ticket=t,
            author_kind=kind,
            public=kind != "agent" or k != 2,
            body=f"<p>Message {k}</p>",
            created_at=t.created_at + timedelta(minutes=k),
        )
        for t in tickets
        for k, kind in enumerate(["customer", "agent", "agent"])
    )
    return vip


def timed(client, url, runs):
    times, queries = [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], queries


def main():
    call_command("migrate", verbosity=0)
    now = timezone.now()
    start = time.perf_counter()
    vip = seed(now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"Seeded in {time.perf_counter() - start:.0f} s: {Ticket.objects.count():,} tickets, "
        f"{TicketMessage.objects.count():,} messages, {Order.objects.count():,} orders\n"
    )

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    client = Client()
    client.force_login(user)
    print("| measure | p50 | p95 | queries |\n| --- | --- | --- | --- |")
    for name, url, runs in [
        ("360 page, 1,000 orders + 200 tickets", f"/admin/crm/customer360/{vip.pk}/change/", RUNS),
        ("360 page, page 20 of the timeline", f"/admin/crm/customer360/{vip.pk}/change/?page=20", RUNS),
        ("360 page, filtered to tickets", f"/admin/crm/customer360/{vip.pk}/change/?type=support", RUNS),
        (f"ticket queue, {OPEN_TICKETS:,} open", "/admin/support/ticket/", 20),
        ("ticket queue, breached only", "/admin/support/ticket/?sla_state__exact=breached", 20),
        ("ticket queue, page 50", "/admin/support/ticket/?p=50", 20),
    ]:
        if "breached" in url:
            sla_sweep(now=now)  # so there is something to filter
        p50, p95, queries = timed(client, url, runs)
        print(f"| {name} | {p50:.0f} ms | {p95:.0f} ms | {queries} |")

    Ticket.objects.update(sla_state="ok", escalated_at=None, escalation_reason="")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE support_ticket")
    for label, moment in [
        ("first run (flags every ticket)", now),
        ("a minute later (steady)", now + timedelta(minutes=1)),
    ]:
        start = time.perf_counter()
        result = sla_sweep(now=moment)
        elapsed = (time.perf_counter() - start) * 1000
        print(f"| SLA sweep, {OPEN_TICKETS:,} open, {label} | {elapsed:.0f} ms | | {result} |")


if __name__ == "__main__":
    main()
