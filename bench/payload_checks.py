"""What the input checks cost a bulk request (`make bench-payload`): no server, no database.

Decodes and validates the same 1,000-order bulk body as `make bench` sends (3 lines each)
as `OrderBulkView` does (the envelope, then each order on its own, then `to_data()`),
`REPEAT` times, and prints the median and the fastest time. Run it on two checkouts to compare them: the figures are
independent of PostgreSQL and gunicorn, so a few percent can be told from noise, which
the HTTP benchmark's spread (±20 % between runs) cannot.
"""

import os
import random
import statistics
import time
from datetime import UTC, datetime

import orjson
from harness import django_setup

REPEAT = int(os.environ.get("BENCH_REPEAT", "60"))
django_setup(settings="config.settings.test")

from bench.run import BULK_SIZE, order  # noqa: E402
from core.payloads import decode  # noqa: E402
from crm.api.commerce.payloads import BulkOrdersIn, OrderIn  # noqa: E402


def timed(fn) -> list[float]:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    rng = random.Random(42)
    when = datetime(2026, 6, 1, tzinfo=UTC)
    body = orjson.dumps({"orders": [order(i, rng, when) for i in range(BULK_SIZE)]})

    times = timed(lambda: [decode(raw, OrderIn).to_data() for raw in decode(body, BulkOrdersIn).orders])
    print(f"body: {len(body):,} bytes, {BULK_SIZE:,} orders, {REPEAT} runs")
    print(f"decode, validate and to_data(): median {statistics.median(times):.1f} ms, fastest {min(times):.1f} ms")


if __name__ == "__main__":
    main()
