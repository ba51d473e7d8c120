"""Inbound email benchmark (`make bench-inbound`), on PostgreSQL.

1. A fresh database (BENCH_INBOUND_DATABASE_URL, default crm_bench_inbound), migrated.
2. Seeded through the desk's services: a shop with a sender identity, 1,000 customers with a
   ticket each, and an agent's public reply on each, sent (to the outbox: the raw email as
   it would have gone on the wire).
3. 1,000 customers' replies built from those sent emails, as Gmail writes them (the reply,
   then the sent text quoted under "On … wrote:"): 800 to the ticket's Reply-To address, 200
   to the shop's bare address with only In-Reply-To and References naming the ticket.
4. Timed, the way production reads them: the replies APPENDed to a Dovecot of the bench's
   own (``messaging/tests/dovecot.py``), then one ``support_mail_fetch`` run over IMAP with
   the desk's handler, ``support.inbound.inbound_receive`` (fetching, parsing, the rules,
   matching, trimming, the follow-up with its SLA clock, the rows, the move to Processed).
   Skipped, with the direct step alone, where Dovecot is not installed.
5. Timed: ``inbound_receive`` alone on the same 1,000 in one process, once more (a refetch:
   each finds its row and writes nothing), and on 1,000 fresh replies (without IMAP).
Printed as Markdown, for docs/benchmarks.md. Target: ≤ 30 s for 1,000, fetched and
threaded (issue 20).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import django_setup  # noqa: E402

from messaging.tests.dovecot import DovecotServer, dovecot_binary  # noqa: E402 (imports no Django)

DB_URL = os.environ.get("BENCH_INBOUND_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_inbound")
REPLIES = int(os.environ.get("BENCH_INBOUND_REPLIES", "1000"))
SEEDED = 2 * REPLIES  # half read over IMAP, half handed to the handler directly
BY_HEADERS = REPLIES // 5

os.environ["EMAIL_RATE_PER_SECOND"] = "0"  # the outbox: no provider's limit to respect
django_setup(database_url=DB_URL, fresh=True, redis_url="")  # in-process tasks: replies sent on commit

from email import message_from_string, policy  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from email.utils import make_msgid  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from customers.models import Customer, Shop  # noqa: E402
from messaging.imap import ImapConfig  # noqa: E402
from messaging.models import OutboxEmail, SenderIdentity  # noqa: E402
from messaging.sending import messages_send  # noqa: E402
from support.imap_mailbox import support_mail_fetch  # noqa: E402
from support.inbound import inbound_receive  # noqa: E402
from support.models import InboundEmail, TicketMessage  # noqa: E402
from support.tickets import TicketData, ticket_open, ticket_reply  # noqa: E402


def seed() -> list[EmailMessage]:
    shop = Shop.objects.create(slug="bench", name="Bench Coffee")
    SenderIdentity.objects.create(
        shop=shop,
        from_name="Bench Coffee",
        from_email="hello@bench.example",
        reply_to="support@bench.example",
        footer_address="1 Bench Street",
    )
    agent = get_user_model().objects.create_user("agent", first_name="Bo", is_staff=True)
    Customer.objects.bulk_create(
        Customer(email=f"c{i}@example.com", email_normalized=f"c{i}@example.com", first_name=f"C{i}")
        for i in range(SEEDED)
    )
    for customer in Customer.objects.order_by("pk"):
        data = TicketData(subject=f"Order question {customer.pk}", body="<p>Where is my parcel?</p>")
        ticket, _ = ticket_open(customer=customer, shop=shop, data=data)
        ticket_reply(ticket=ticket, body="<p>It left our warehouse today; tracking follows.</p>", user=agent)
    while messages_send().claimed:
        pass
    raws = OutboxEmail.objects.order_by("id").values_list("raw", flat=True)
    return [message_from_string(raw, policy=policy.default) for raw in raws]


def reply(wire: EmailMessage, n: int) -> bytes:
    quoted = "\n".join(f"> {line}" for line in wire.get_body(("plain",)).get_content().splitlines())
    message = EmailMessage()
    message["From"] = wire["To"]
    message["To"] = wire["Reply-To"] if n % REPLIES >= BY_HEADERS else "support@bench.example"
    message["Subject"] = f"Re: {wire['Subject']}"
    message["Message-ID"] = make_msgid(domain="mail.example.net")
    message["In-Reply-To"] = wire["Message-ID"]
    message["References"] = f"{wire['References']} {wire['Message-ID']}"
    message.set_content(
        f"Thanks! It arrived today.\n\nC{n}\n\nOn Fri, 4 Dec 2026 at 10:02, {wire['From']} wrote:\n{quoted}\n"
    )
    return message.as_bytes()


def imap_fetch(raws: list[bytes]) -> tuple[float, float] | None:
    """Fetch and thread ``raws`` from a Dovecot of the bench's own: (seconds, this process's
    CPU seconds), or None without Dovecot."""
    if dovecot_binary() is None:
        return None
    with DovecotServer() as server:
        server.append(raws)
        config = ImapConfig.from_url(server.url(), processed_folder="Processed", timeout=30)
        started, cpu = time.perf_counter(), time.process_time()
        result = support_mail_fetch(config=config, handler=inbound_receive)
        elapsed, used = time.perf_counter() - started, time.process_time() - cpu
        assert result.handled == len(raws) and not server.folder("INBOX"), result
    return elapsed, used


def main() -> None:
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    sent = seed()
    seeded = time.perf_counter() - started
    raws = [reply(wire, n) for n, wire in enumerate(sent)]
    assert len(raws) == SEEDED, len(raws)
    over_imap, direct = raws[:REPLIES], raws[REPLIES:]

    fetched = imap_fetch(over_imap)
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started, cpu = time.perf_counter(), time.process_time()
        for raw in direct:
            inbound_receive(raw, via="bench")
        first, first_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    replayed = sum(not inbound_receive(raw, via="bench").created for raw in direct)
    again = time.perf_counter() - started

    expected = SEEDED if fetched else REPLIES
    outcomes = dict(InboundEmail.objects.values_list("outcome").annotate(n=Count("id")))
    added = TicketMessage.objects.filter(author_kind="customer", inbound_email__isnull=False).count()
    assert outcomes == {"appended": expected} and added == expected and replayed == REPLIES, (
        outcomes,
        added,
        replayed,
    )
    print(f"### Inbound email (make bench-inbound), {REPLIES:,} replies, PostgreSQL\n")
    print(f"Seeded {SEEDED:,} tickets with a sent reply each in {seeded:.1f} s.\n")
    print(f"Load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores).\n")
    print("| step | total | per email | this process's CPU per email | queries per email |")
    print("| --- | ---: | ---: | ---: | ---: |")
    how = f"{REPLIES - BY_HEADERS} by reply address, {BY_HEADERS} by headers"
    if fetched:
        seconds, cpu = fetched
        print(
            f"| fetch {REPLIES:,} replies from IMAP (Dovecot) and thread them ({how}), moved to Processed"
            f" | **{seconds:.2f} s** | {seconds / REPLIES * 1000:.1f} ms | {cpu / REPLIES * 1000:.1f} ms | |"
        )
    else:
        print("| fetch from IMAP | not run: Dovecot is not installed | | | |")
    print(
        f"| thread {REPLIES:,} other replies handed over directly ({how})"
        f" | {first:.2f} s | {first / REPLIES * 1000:.1f} ms | {first_cpu / REPLIES * 1000:.1f} ms"
        f" | {len(queries) / REPLIES:.1f} |"
    )
    print(
        f"| the same {REPLIES:,} again (refetched: nothing written) | {again:.2f} s"
        f" | {again / REPLIES * 1000:.1f} ms | | |"
    )


if __name__ == "__main__":
    main()
