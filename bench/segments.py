"""Segment benchmark (`make bench-segments`) on the seeded 1,000,000-customer database.

Needs the database `make bench-lifecycle` uses (BENCH_LIFECYCLE_DATABASE_URL, default
crm_big, seeded with `seed_demo --customers 1000000`), with its metrics computed, and Redis
for the Celery phase. Measures, in one run:
1. the count for a 3-condition rule with one behavioural window (median of 5), with its
   query plan (EXPLAIN ANALYZE, saved to bench/out/segments_plans.txt);
2. the admin's live preview round-trip through Django (login, JSON in, JSON out), median of 5;
3. the full refresh of every shipped segment: from empty memberships (the first fill) and
   again with nothing changed, in one process, then through Celery with 2 workers;
4. the incremental refresh of every segment for 1,000 changed customers (median of 5 sets).
With the argument ``count``: 1 and 2 alone, which write nothing.
Results go to bench/out/segments.json and are printed as Markdown.
"""

import json
import os
import random
import statistics
import sys
import time

from harness import ROOT, django_setup

DB_URL = os.environ.get("BENCH_LIFECYCLE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_big")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
django_setup(database_url=DB_URL, redis_url=REDIS_URL)

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from workers import celery_workers  # noqa: E402

from campaigns.models import Segment, SegmentMembership  # noqa: E402
from campaigns.segments.compiler import matching  # noqa: E402
from campaigns.segments.rules import parse  # noqa: E402
from campaigns.services import segment_refresh, segments_refresh_customers  # noqa: E402
from campaigns.tasks import refresh_segment  # noqa: E402
from customers.models import Customer  # noqa: E402

OUT = ROOT / "bench/out"
THREE_CONDITIONS = {
    "match": "all",
    "children": [
        {"field": "country", "operator": "eq", "value": "DE"},
        {"field": "spent", "operator": "gte", "value": 200, "within_days": 90},
        {"field": "stage", "operator": "in", "value": ["active", "at_risk"]},
    ],
}
REPEATS = 5


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_of(fn, repeats=REPEATS) -> tuple[float, object]:
    runs = [timed(fn) for _ in range(repeats)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


def explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def three_condition_count(plans: list[str]) -> dict:
    members = matching(parse(THREE_CONDITIONS))
    seconds, count = median_of(members.count)
    plans.append("-- 3-condition count\n" + explain(members.values("pk")))
    return {"count_s": seconds, "count": count}


def preview_round_trip() -> float:
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    body = json.dumps({"rule": THREE_CONDITIONS})

    def call():
        response = client.post("/admin/campaigns/segment/preview/", body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()["count"]

    seconds, _ = median_of(call)
    return seconds


def analyze_memberships() -> None:
    """Autovacuum is off on this machine; production's would keep the statistics current."""
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {SegmentMembership._meta.db_table}")


def empty_memberships() -> None:
    """As on a fresh install: no stays, and no pending checkpoint from emptying the table."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SegmentMembership._meta.db_table}")
        cursor.execute("CHECKPOINT")
    analyze_memberships()


def full_refresh_in_process(plans: list[str]) -> dict:
    segments = list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk"))
    per_segment = {}
    start = time.perf_counter()
    for segment in segments:
        seconds, (entered, exited) = timed(lambda segment=segment: segment_refresh(segment=segment))
        per_segment[segment.name] = {"s": round(seconds, 2), "entered": entered, "exited": exited}
    return {"total_s": time.perf_counter() - start, "segments": per_segment}


def full_refresh_celery(workers: int) -> float:
    """One refresh task per dynamic segment, as the hourly beat task queues them."""
    ids = list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC).values_list("pk", flat=True))
    with celery_workers(workers):
        start = time.perf_counter()
        results = [refresh_segment.apply_async((pk,), ignore_result=False) for pk in ids]
        for result in results:
            result.get(timeout=600)
        return time.perf_counter() - start


def incremental(plans: list[str]) -> float:
    top = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    rng = random.Random(1)
    runs = []
    for _ in range(REPEATS):
        ids = rng.sample(range(1, top + 1), 1000)
        seconds, _ = timed(lambda ids=ids: segments_refresh_customers(customer_ids=ids))
        runs.append(seconds)
    return statistics.median(runs)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    plans: list[str] = []
    results: dict = {"customers": Customer.objects.count()}
    results.update(three_condition_count(plans))
    results["preview_s"] = preview_round_trip()
    if sys.argv[1:] == ["count"]:  # the count and the preview alone: no refresh, nothing written
        print(f"| count, 3 conditions, 90-day window (median of 5) | {results['count_s'] * 1e3:.0f} ms |")
        print(f"| admin preview round-trip (median of 5) | {results['preview_s'] * 1e3:.0f} ms |")
        return

    empty_memberships()  # the first fill, from nothing
    results["first_fill"] = full_refresh_in_process(plans)
    analyze_memberships()
    results["steady"] = full_refresh_in_process(plans)
    results["stays"] = SegmentMembership.objects.filter(exited_at=None).count()
    results["incremental_s"] = incremental(plans)

    empty_memberships()
    results["first_fill_celery_2_workers_s"] = full_refresh_celery(2)
    analyze_memberships()
    results["steady_celery_2_workers_s"] = full_refresh_celery(2)

    (OUT / "segments.json").write_text(json.dumps(results, indent=2))
    (OUT / "segments_plans.txt").write_text("\n\n".join(plans))
    rows = [
        ("customers", f"{results['customers']:,}"),
        (
            "count, 3 conditions with a 90-day spend window (median of 5)",
            f"{results['count_s'] * 1e3:.0f} ms ({results['count']:,} customers)",
        ),
        (
            "admin preview round-trip: count, sentence, 20 customers (median of 5)",
            f"{results['preview_s'] * 1e3:.0f} ms",
        ),
        (
            "full refresh, every shipped segment, first fill, one process",
            f"{results['first_fill']['total_s']:.1f} s ({results['stays']:,} stays)",
        ),
        ("full refresh, first fill, Celery, 2 workers", f"{results['first_fill_celery_2_workers_s']:.1f} s"),
        ("full refresh, nothing changed, one process", f"{results['steady']['total_s']:.1f} s"),
        ("full refresh, nothing changed, Celery, 2 workers", f"{results['steady_celery_2_workers_s']:.1f} s"),
        (
            "incremental refresh, every segment, 1,000 changed customers (median of 5)",
            f"{results['incremental_s'] * 1e3:.0f} ms",
        ),
    ]
    print("| measure | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print("\nPer segment, first fill (s, entered):")
    for name, row in results["first_fill"]["segments"].items():
        print(f"- {name}: {row['s']} s, {row['entered']:,}")


if __name__ == "__main__":
    main()
