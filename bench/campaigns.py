"""Campaigns benchmark (`make bench-campaign-send`, part of `make bench-campaigns`): a
100,000-recipient campaign out of a million customers, on PostgreSQL, step by step
(``STEPS``). The flow pass, recommendations and attribution have benchmarks of their own,
which `make bench-campaigns` runs after this one.

1. A fresh database (BENCH_CAMPAIGNS_DATABASE_URL, default crm_bench_campaigns), migrated,
   seeded with COPY: 1,000,000 customers (BENCH_CAMPAIGNS_CUSTOMERS) across eight time
   zones, each known to the shop, 90 % with marketing consent; a target segment of 125,000
   (about 100,000 reachable after consent, suppression and an exclusion segment of 5 %);
   2,000 suppressed addresses; a sending policy with no quiet hours (all of the audience is
   due in one pass, whenever the bench runs).
2. Steps, each timed and printed as a Markdown row:
   - ``audience``: the live count with its exclusions (one query);
   - ``enqueue``: the send pass of a campaign with two variants and a 10 % holdout: the
     audience read with time zones, the draw, a message queued and a Send recorded for each
     (``campaign_send_pass``), all of it from the campaign's start to its last commit;
   - ``render``: rendering one of its messages (template, CSS inlined, text part), per
     message, in-process: rendering happens when a message is sent, in the workers;
   - ``send``: 2 Celery workers send the queued messages (BENCH_CAMPAIGNS_SEND of them,
     default all) to an SMTP sink in this process; messages per second.
BENCH_CAMPAIGNS_STEPS picks steps by name (comma-separated); the seed runs once per run.
"""

import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from messaging.tests.smtp_sink import Sink, SmtpServer, free_port  # noqa: E402 (imports no Django)

DB_URL = os.environ.get("BENCH_CAMPAIGNS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_campaigns")
REDIS_URL = os.environ.get("BENCH_CAMPAIGNS_REDIS_URL", "redis://127.0.0.1:6379/13")
CUSTOMERS = int(os.environ.get("BENCH_CAMPAIGNS_CUSTOMERS", "1000000"))
TARGET = CUSTOMERS // 8  # 125,000 of a million
WORKERS = 2
TIMEOUT = 1800  # seconds: the send gives up after this long

PORT = free_port()
os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{PORT}"
os.environ["EMAIL_RATE_PER_SECOND"] = "0"
os.environ.setdefault("LOG_LEVEL", "WARNING")

from harness import django_setup  # noqa: E402

django_setup(database_url=DB_URL, fresh=True, redis_url=REDIS_URL)

import numpy as np  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from workers import celery_workers  # noqa: E402

from campaigns.campaigns.audience import audience_count  # noqa: E402
from campaigns.campaigns.sending import campaign_send_pass  # noqa: E402
from campaigns.models import Campaign, CampaignStatus, Email, Segment, SegmentMembership, SendingPolicy, Variant  # noqa: E402
from core.db import bulk_writer as bw  # noqa: E402
from customers.models import Customer, CustomerIdentity, Shop  # noqa: E402
from messaging.dispatch import send_kick  # noqa: E402
from messaging.models import Message, MessageStatus, SenderIdentity, Suppression  # noqa: E402
from messaging.rendering import render  # noqa: E402
from messaging.selectors import brand_for, preview  # noqa: E402

FIRST = ["Ann", "Bo", "Chiara", "Dev", "Emeka", "Fatima", "Gia", "Hiro", "Ines", "Jonas"]
ZONES = ["", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
         "Australia/Sydney", "America/Sao_Paulo"]  # fmt: skip
CHUNK = 100_000


def columns_and_defaults(model, now, with_id: bool):
    """The concrete columns of ``model`` (not generated ones; the id only if the seed gives
    it) and the value a row gets when the seed gives none."""
    columns, defaults = [], {}
    for field in model._meta.concrete_fields:
        if getattr(field, "generated", False) or (field.primary_key and not with_id):
            continue
        columns.append(field.column)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        elif field.has_default():
            value = field.get_default()
        elif field.null:
            value = None
        else:
            value = ""
        defaults[field.column] = value
    return columns, defaults


def write(model, now, rows, with_id: bool = True):
    """COPY ``rows`` (dicts of the columns they set) into ``model``'s table."""
    columns, defaults = columns_and_defaults(model, now, with_id)
    bw.write_rows(model, columns, ([row.get(c, defaults[c]) for c in columns] for row in rows))


class State:
    shop: Shop
    campaign: Campaign
    target: Segment
    excluded: Segment
    queued = 0


def seed(state: State) -> None:
    call_command("migrate", verbosity=0)
    now = timezone.now()
    now_ts = bw.timestamps([int(now.timestamp())])[0]
    rng = np.random.default_rng(7)
    shop = Shop.objects.create(slug="bench", name="Bench Coffee")
    SenderIdentity.objects.create(
        shop=shop,
        from_name="Bench Coffee",
        from_email="hello@bench.example",
        brand_colour="#0a7d55",
        footer_address="Bench Coffee Ltd\n1 Bean Street, Leeds",
    )
    zones = rng.integers(0, len(ZONES), CUSTOMERS + 1)
    consent = rng.random(CUSTOMERS + 1) < 0.9
    for first in range(1, CUSTOMERS + 1, CHUNK):
        last = min(first + CHUNK - 1, CUSTOMERS)
        write(
            Customer,
            now_ts,
            (
                {
                    "id": i,
                    "email": f"c{i}@example.com",
                    "email_normalized": f"c{i}@example.com",
                    "first_name": FIRST[i % 10],
                    "time_zone": ZONES[zones[i]],
                }
                for i in range(first, last + 1)
            ),
        )
        write(
            CustomerIdentity,
            now_ts,
            (
                {
                    "id": i,
                    "shop_id": shop.pk,
                    "customer_id": i,
                    "external_id": f"c{i}",
                    "email": f"c{i}@example.com",
                    "marketing_consent": bool(consent[i]),
                }
                for i in range(first, last + 1)
            ),
        )
        print(f"  seeded {last:,} customers", flush=True)
    target = Segment.objects.create(name="Bench target", kind=Segment.Kind.STATIC)
    excluded = Segment.objects.create(name="Bench exclusion", kind=Segment.Kind.STATIC)
    members = np.sort(rng.choice(np.arange(1, CUSTOMERS + 1), TARGET, replace=False))
    left_out = rng.choice(members, TARGET // 20, replace=False)
    write(
        SegmentMembership,
        now_ts,
        ({"segment_id": target.pk, "customer_id": int(c), "entered_at": now_ts} for c in members),
        with_id=False,
    )
    write(
        SegmentMembership,
        now_ts,
        ({"segment_id": excluded.pk, "customer_id": int(c), "entered_at": now_ts} for c in left_out),
        with_id=False,
    )
    bounced = rng.choice(np.arange(1, CUSTOMERS + 1), 2_000, replace=False)
    write(
        Suppression, now_ts, ({"address": f"c{c}@example.com", "reason": "hard_bounce"} for c in bounced), with_id=False
    )
    bw.reset_sequences(Customer, CustomerIdentity)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    email = Email.objects.create(shop=shop, name="Bench sale", holdout_percent=10)
    for label, subject in (
        ("A", "Ten per cent off, {{ customer.first_name }}"),
        ("B", "{{ customer.first_name }}: our sale"),
    ):
        Variant.objects.create(
            email=email,
            label=label,
            subject=subject,
            preheader="Until Sunday",
            body="<p>Dear {{ customer.first_name }},</p><p>everything is ten per cent off until Sunday.</p>",
        )
    # No quiet hours, so the whole audience is due in one pass whatever the hour the bench runs at.
    SendingPolicy.objects.all().delete()
    SendingPolicy.objects.create(quiet_start=0, quiet_end=0)
    campaign = Campaign.objects.create(shop=shop, name="Bench sale", email=email)
    campaign.segments.set([target])
    campaign.excluded_segments.set([excluded])
    state.shop, state.campaign, state.target, state.excluded = shop, campaign, target, excluded


def step_audience(state: State) -> tuple[str, str]:
    count = audience_count(
        shop_id=state.shop.pk,
        segment_ids=[state.target.pk],
        excluded_segment_ids=[state.excluded.pk],
        now=timezone.now(),
        cap_hours=16,
    )
    left = ", ".join(f"{n:,} {reason.replace('_', ' ')}" for reason, _, n in count.excluded)
    return "audience count with its exclusions (one query)", f"{count.reachable:,} of {count.total:,} ({left})"


def step_enqueue(state: State) -> tuple[str, str]:
    now = datetime.now(UTC)
    Campaign.objects.filter(pk=state.campaign.pk).update(status=CampaignStatus.SCHEDULED, send_at=now)
    result = campaign_send_pass(campaign_id=state.campaign.pk, now=now)
    assert result is not None and result.finished
    state.queued = result.sent
    return (
        "send pass: audience with time zones, draw, queue a message and record a Send each",
        f"{result.sent:,} queued, {result.held_out:,} held out",
    )


def step_render(state: State) -> tuple[str, str]:
    messages = list(Message.objects.filter(shop=state.shop).order_by("id")[:1000])
    brand = brand_for(state.shop.pk)
    started = time.perf_counter()
    for message in messages:
        render(message.template, message.context, brand)
    per = (time.perf_counter() - started) / max(len(messages), 1) * 1000
    _, sample = preview(template="authored", shop_id=state.shop.pk, context=messages[0].context)
    return "render one campaign message (in the sending worker)", f"{per:.2f} ms per message (“{sample.subject}”)"


class CountingSink(Sink):
    def __init__(self, expected: int):
        super().__init__(keep=False)
        self.expected = expected
        self.done = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if self.count >= self.expected:
            self.done.set()
        return answer


def step_send(state: State) -> tuple[str, str]:
    limit = int(os.environ.get("BENCH_CAMPAIGNS_SEND", "0")) or state.queued
    if limit < state.queued:  # the rest wait, unclaimed
        keep = Message.objects.filter(shop=state.shop).order_by("id").values_list("id", flat=True)[limit - 1]
        Message.objects.filter(shop=state.shop, id__gt=keep).update(next_attempt_at=datetime(2100, 1, 1, tzinfo=UTC))
    sink = CountingSink(limit)
    with SmtpServer(sink, port=PORT), celery_workers(WORKERS):
        cache.delete(send_kick.flag)
        started = time.perf_counter()
        send_kick()
        while not sink.done.wait(5):
            if time.perf_counter() - started > TIMEOUT:
                raise SystemExit(f"Only {sink.count:,} of {limit:,} arrived within {TIMEOUT} s.")
            send_kick()  # as beat would, every 30 s: a worker hands over after 60 s of sending
        seconds = time.perf_counter() - started
    sent = Message.objects.filter(shop=state.shop, status=MessageStatus.SENT).count()
    return (
        f"send to the SMTP sink, {WORKERS} Celery workers (render, CSS inlined, one connection per batch)",
        f"{limit:,} messages in {seconds:.0f} s: **{limit / seconds:,.0f} messages/s** ({sent:,} marked sent)",
    )


STEPS = {"audience": step_audience, "enqueue": step_enqueue, "render": step_render, "send": step_send}


def main() -> None:
    wanted = [s for s in os.environ.get("BENCH_CAMPAIGNS_STEPS", ",".join(STEPS)).split(",") if s]
    state = State()
    started = time.perf_counter()
    seed(state)
    print(f"\nSeeded in {time.perf_counter() - started:.0f} s: {CUSTOMERS:,} customers, {TARGET:,} in the target\n")
    print("| step | time | result |\n| --- | --- | --- |")
    for name in wanted:
        started = time.perf_counter()
        label, result = STEPS[name](state)
        print(f"| {label} | {time.perf_counter() - started:.1f} s | {result} |", flush=True)


if __name__ == "__main__":
    main()
