"""Time the admin changelists on a big database (run after seed_demo on BENCH_ADMIN_DATABASE_URL).

DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_big .venv/bin/python bench/admin_pages.py
"""

import statistics
import time

from harness import django_setup

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from customers.models import Customer, Order  # noqa: E402

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
    ("customer page (lifecycle, history)", "/admin/customers/customer/500000/change/"),
    ("orders, first page", "/admin/customers/order/"),
    ("orders, filter status=refunded", "/admin/customers/order/?status__exact=refunded"),
    ("orders, search by external id", "/admin/customers/order/?q=D12345"),
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
    print("| page | median of 5 | queries |\n| --- | --- | --- |")
    for name, url in PAGES:
        times = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        print(f"| {name} | {statistics.median(times):.0f} ms | {len(queries)} |")


if __name__ == "__main__":
    main()
