"""Time the admin changelists on a big database (run after seed_demo on BENCH_ADMIN_DATABASE_URL),
the customer search, the support desk's queue and ticket page, and the manager's dashboard
cold (its figures not in the cache) and warm (cached).

DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_big .venv/bin/python bench/admin_pages.py [dashboard]

With ``dashboard``, only the dashboard.

"Of which SQL" is the time Django's cursor spent in the page's queries: what the database
did, apart from rendering (and from the load of a shared machine on Python's side).

The customer search's terms (a name, part of an email, a phone number written three ways,
an order number, …) are read from the seeded data: a customer half-way up the table.
"""

import statistics
import sys
import time
from urllib.parse import urlencode

from harness import django_setup

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from customers.models import Customer, CustomerIdentity, Order  # noqa: E402
from customers.phones import phone_digits  # noqa: E402

PAGES = [
    ("customers, first page", "/admin/customers/customer/"),
    ("customers, page 100", "/admin/customers/customer/?p=100"),
    ("customers, filter country=DE", "/admin/customers/customer/?country=DE"),
    ("customers, search by email", "/admin/customers/customer/?q=ann.lee.5000@example.com"),
    ("customers, sorted by last order", "/admin/customers/customer/?o=-10"),
    ("customers, filter stage=at risk", "/admin/customers/customer/?stage=at_risk"),
    ("customers, filter RFM=champions", "/admin/customers/customer/?rfm=champions"),
    ("customers, filter CLV 500+", "/admin/customers/customer/?clv_band=500%2B"),
    ("customers, filter P(alive) below 0.3", "/admin/customers/customer/?p_alive=low"),
    ("orders, first page", "/admin/customers/order/"),
    ("orders, filter status=refunded", "/admin/customers/order/?status__exact=refunded"),
    ("orders, search by external id", "/admin/customers/order/?q=D12345"),
]


def search_pages() -> list[tuple[str, str]]:
    """The customer page and searches an agent makes, for a customer half-way up the table."""
    last_id = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    who = Customer.objects.filter(pk__gte=last_id // 2).exclude(phone="").order_by("pk").first()
    assert who is not None, "seed the database first (manage.py seed_demo)"
    order = Order.objects.filter(customer=who).order_by("pk").first()
    identity = CustomerIdentity.objects.filter(customer=who).order_by("pk").first()
    local = who.email_normalized.partition("@")[0]
    digits = phone_digits(who.phone)
    terms = [
        ("a last name", who.last_name),
        ("first and last name", f"{who.first_name} {who.last_name}"),
        ("whole email", who.email),
        ("email, part before @", local),
        ("email, end of part + @", f"{local[-8:]}@"),
        ("phone as stored", who.phone),
        ("phone, written otherwise", "+" + " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))),
        ("phone, last 7 digits", digits[-7:]),
        ("order number with #", f"#{order.external_id}" if order else "#none"),
        ("shop's customer id", identity.external_id if identity else "none"),
        ("CRM id", str(who.pk)),
        ("2 letters (ids only)", who.first_name[:2]),
        ("no match", "qqzx"),
    ]
    search = "/admin/customers/customer/?"
    return [
        ("customer page (lifecycle, history)", f"/admin/customers/customer/{who.pk}/change/"),
        *((f"customers, search: {name}", search + urlencode({"q": term})) for name, term in terms),
        ("customer profiles (360), search: a last name", "/admin/crm/customer360/?" + urlencode({"q": who.last_name})),
    ]


def desk_pages() -> list[tuple[str, str]]:
    """The support desk: the queue an agent starts on, and a ticket with its conversation
    beside the customer (a ticket half-way up the table), and that customer's 360 page."""
    from support.models import Ticket

    last_id = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ticket = Ticket.objects.filter(pk__gte=last_id // 2).order_by("pk").first()
    if ticket is None:
        return []
    return [
        ("tickets, the queue", "/admin/support/ticket/"),
        ("ticket page (conversation and customer)", f"/admin/support/ticket/{ticket.pk}/change/"),
        ("customer 360 page", f"/admin/crm/customer360/{ticket.customer_id}/change/"),
    ]


def main():
    user, _ = get_user_model().objects.get_or_create(username="bench-admin", defaults={"is_staff": True})
    user.is_superuser = user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"{Customer.objects.count():,} customers, {Order.objects.count():,} orders\n")
    print("| page | median of 5 | of which SQL | queries |\n| --- | --- | --- | --- |")
    for name, url in [] if sys.argv[1:] == ["dashboard"] else PAGES + search_pages() + desk_pages():
        times, sql_times = [], []
        for _ in range(5):
            page_ms, sql_ms, reads = timed(client, url)
            times.append(page_ms)
            sql_times.append(sql_ms)
        page_ms, sql_ms = statistics.median(times), statistics.median(sql_times)
        print(f"| {name} | {page_ms:.0f} ms | {sql_ms:.0f} ms | {reads} |")
    dashboard(client)


def timed(client, url: str) -> tuple[float, float, int]:
    """One GET: the page's time and its queries' (ms), and how many queries."""
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.get(url)
        page_ms = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return page_ms, sum(float(q["time"]) for q in queries.captured_queries) * 1000, len(queries)


def dashboard(client) -> None:
    """The dashboard, cold (its figures dropped from the cache before each request: every
    figure read from the rollups) and warm (the same request again: from the cache)."""
    from datetime import timedelta

    from django.core.cache import cache

    from crm.dashboard import days
    from crm.dashboard.figures import Period
    from crm.dashboard.models import RollupState
    from crm.dashboard.refresh import dashboard_rebuild, rollups_built
    from crm.dashboard.view import figures_cache_key
    from customers.models import Shop

    if not rollups_built():
        print(f"\nDashboard rollups built in {dashboard_rebuild().seconds:.1f} s")
    today = days.today()
    shop = Shop.objects.order_by("pk").first()
    ranges = [
        ("last 30 days", Period(today - timedelta(days=29), today)),
        ("last 30 days, one shop", Period(today - timedelta(days=29), today, shop.pk if shop else None)),
        ("last 12 months", Period(today - timedelta(days=364), today)),
        ("last 3 years", Period(today - timedelta(days=3 * 365 - 1), today)),
    ]
    print("\n| dashboard | cold | of which SQL | warm | queries cold |\n| --- | --- | --- | --- | --- |")
    for name, period in ranges:
        url = f"/admin/dashboard/?start={period.first}&end={period.last}&shop={period.shop_id or ''}"
        cold, sql, warm = [], [], []
        for _ in range(5):
            cache.delete(figures_cache_key(RollupState.load(), today, period))
            page_ms, sql_ms, reads = timed(client, url)
            cold.append(page_ms)
            sql.append(sql_ms)
            warm.append(timed(client, url)[0])
        cold_ms, sql_ms, warm_ms = (statistics.median(t) for t in (cold, sql, warm))
        print(f"| {name} | {cold_ms:.0f} ms | {sql_ms:.0f} ms | {warm_ms:.0f} ms | {reads} |")


if __name__ == "__main__":
    main()
