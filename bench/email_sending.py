"""Email benchmark (`make bench-email`): render and send 10,000 personalised messages
through Celery with 2 workers, on PostgreSQL and Redis, to a local SMTP sink. (Not named
email.py: a script's folder comes first on the import path, and ``email`` is the standard
library's.)

1. A fresh database (BENCH_EMAIL_DATABASE_URL, default crm_bench_email), migrated; Redis
   at BENCH_EMAIL_REDIS_URL (default redis://127.0.0.1:6379/13), flushed of old tasks.
2. An SMTP sink (aiosmtpd, in a thread of this process) that counts what it receives and
   keeps each Message-ID, so a message sent twice would show.
3. 10,000 customers (BENCH_EMAIL_MESSAGES) with names, one shop with a sender identity.
4. Timed: rendering alone (1,000 messages, in-process); queueing 10,000 messages in one
   transaction (``messages_queue``); then, from its commit, until the sink has every
   message: 2 Celery worker processes claim batches of 100, check suppression, render
   (template, CSS inlined, text part), send over one SMTP connection per batch and record
   each message as sent. No rate limit (EMAIL_RATE_PER_SECOND=0).
Printed as Markdown, for docs/benchmarks.md.
"""

import os
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from messaging.tests.smtp_sink import Sink, SmtpServer, free_port  # noqa: E402 (imports no Django)

DB_URL = os.environ.get("BENCH_EMAIL_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_email")
REDIS_URL = os.environ.get("BENCH_EMAIL_REDIS_URL", "redis://127.0.0.1:6379/13")
MESSAGES = int(os.environ.get("BENCH_EMAIL_MESSAGES", "10000"))
WORKERS = 2
TIMEOUT = 600  # seconds: the send gives up after this long

PORT = free_port()
# The workers read these from the environment, as a deployment's would.
os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{PORT}"
os.environ["EMAIL_RATE_PER_SECOND"] = "0"
os.environ.setdefault("LOG_LEVEL", "WARNING")  # not the SMTP sink's line per command

from harness import django_setup  # noqa: E402

django_setup(database_url=DB_URL, fresh=True, redis_url=REDIS_URL)

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from workers import celery_workers  # noqa: E402

from customers.models import Customer, Shop  # noqa: E402
from messaging.dispatch import send_kick  # noqa: E402
from messaging.models import Message, MessageStatus, SenderIdentity  # noqa: E402
from messaging.rendering import render  # noqa: E402
from messaging.selectors import brand_for  # noqa: E402
from messaging.services import MessageRequest, message_context, messages_queue  # noqa: E402

FIRST = ["Ann", "Bo", "Chiara", "Dev", "Emeka", "Fatima", "Gia", "Hiro", "Ines", "Jonas"]
LAST = ["Lee", "Rossi", "Okafor", "Nakamura", "Schmidt", "Haddad", "Silva", "Novak", "Kaur", "Berg"]
MESSAGE_ID = re.compile(rb"^Message-ID: (\S+)", re.MULTILINE | re.IGNORECASE)


class CountingSink(Sink):
    """Counts messages and keeps their Message-IDs (not the messages)."""

    def __init__(self):
        super().__init__(keep=False)
        self.ids: list[bytes] = []
        self.done = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        found = MESSAGE_ID.search(envelope.original_content or envelope.content)
        self.ids.append(found.group(1) if found else b"")
        if self.count >= MESSAGES:
            self.done.set()
        return answer


def seed() -> tuple[Shop, list[int]]:
    call_command("migrate", verbosity=0)
    shop = Shop.objects.create(slug="bench", name="Bench Coffee")
    SenderIdentity.objects.create(
        shop=shop,
        from_name="Bench Coffee",
        from_email="hello@bench.example",
        reply_to="support@bench.example",
        brand_colour="#0a7d55",
        footer_address="Bench Coffee Ltd\n1 Bean Street, Leeds",
    )
    Customer.objects.bulk_create(
        Customer(
            email=f"c{i}@example.com",
            email_normalized=f"c{i}@example.com",
            first_name=FIRST[i % 10],
            last_name=LAST[(i // 10) % 10],
        )
        for i in range(MESSAGES)
    )
    return shop, list(Customer.objects.order_by("id").values_list("id", flat=True))


def requests(shop: Shop, customer_ids: list[int]) -> list[MessageRequest]:
    return [
        MessageRequest(
            key=f"bench:order:{i}",
            template="order_confirmation",
            customer_id=customer_id,
            shop_id=shop.pk,
            context={
                "order": {"number": f"#{10_000 + i}", "placed_on": "2 January 2026", "total": f"{10 + i % 90}.90"}
            },
        )
        for i, customer_id in enumerate(customer_ids)
    ]


def main() -> None:
    shop, customer_ids = seed()
    brand = brand_for(shop.pk)
    [sample] = requests(shop, customer_ids[:1])
    context = message_context(
        customer=Customer.objects.get(pk=sample.customer_id), shop=shop, extra=dict(sample.context)
    )
    started = time.perf_counter()
    for _ in range(1000):
        render(sample.template, context, brand)
    render_ms = (time.perf_counter() - started) * 1000 / 1000

    sink = CountingSink()
    with SmtpServer(sink, port=PORT), celery_workers(WORKERS):
        cache.delete(send_kick.flag)  # the workers' start purged the queue: no send task is queued
        started = time.perf_counter()
        with transaction.atomic():
            messages_queue(requests(shop, customer_ids))
        committed = time.perf_counter()
        finished = sink.done.wait(TIMEOUT)
        sent_at = time.perf_counter()
        # The last marks after the sink's last message.
        deadline = time.monotonic() + 30
        while Message.objects.filter(status=MessageStatus.SENT).count() < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.2)
        marked = Message.objects.filter(status=MessageStatus.SENT).count()
    if not finished:
        raise SystemExit(f"Only {sink.count:,} of {MESSAGES:,} messages arrived within {TIMEOUT} s.")
    queue_s, send_s = committed - started, sent_at - committed
    duplicates = len(sink.ids) - len(set(sink.ids))
    print("| measure | result | target |\n| --- | --- | --- |")
    print(f"| render one message (template, CSS inlined, text part), in-process | {render_ms:.2f} ms | |")
    print(
        f"| queue {MESSAGES:,} messages in one transaction | {queue_s:.1f} s ({MESSAGES / queue_s:,.0f} messages/s) | |"
    )
    print(
        f"| render and send {MESSAGES:,} through Celery, {WORKERS} workers, from the commit to the last "
        f"message at the sink | {send_s:.1f} s: **{MESSAGES / send_s:,.0f} messages/s** | ≥ 300 messages/s "
        f"{'✓' if MESSAGES / send_s >= 300 else '✗'} |"
    )
    print(
        f"| messages at the sink / marked sent / sent twice | {sink.count:,} / {marked:,} / {duplicates} | all, once |"
    )


if __name__ == "__main__":
    main()
