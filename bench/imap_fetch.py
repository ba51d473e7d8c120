"""IMAP fetch benchmark (`make bench-imap`): read 1,000 customers' replies from a real IMAP
server with the support mailbox's reader (messaging/imap.py) and a handler that does nothing,
to see what fetching costs before any email is processed.

1. A Dovecot of its own (messaging/tests/dovecot.py: Debian's dovecot-imapd, on a free port
   of 127.0.0.1, in a temporary directory), with a self-signed certificate.
2. 1,000 replies (BENCH_IMAP_MESSAGES) APPENDed to its INBOX over IMAP: plain text, or text
   and HTML, some with a small attachment, 3-10 KB each, quoting the message they answer.
3. Timed: one ``mailbox_fetch`` run over IMAPS (TLS, as a real provider), batches of 200
   UIDs: search, sizes, ``UID FETCH … BODY.PEEK[]``, the no-op handler in a savepoint per
   message and the transactions that record them (one UPDATE and one commit per group of
   up to 50 messages, on the database of record), then ``UID MOVE`` of each batch to
   Processed. Then the same again over plain
   IMAP on a second batch of 1,000, to show what TLS costs.
4. Checked: every message handed over exactly once, and all of them in Processed.

The database: BENCH_IMAP_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/crm_bench_imap,
created afresh; or a ``sqlite:////path`` file), migrated. Printed as Markdown, for docs/benchmarks.md.
"""

import os
import random
import sys
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from messaging.tests.dovecot import DovecotServer, dovecot_binary  # noqa: E402 (imports no Django)

DB_URL = os.environ.get("BENCH_IMAP_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_imap")
MESSAGES = int(os.environ.get("BENCH_IMAP_MESSAGES", "1000"))

from harness import django_setup  # noqa: E402

django_setup(database_url=DB_URL, fresh=DB_URL.startswith("postgres"), redis_url="")

from django.core.management import call_command  # noqa: E402

import messaging.imap  # noqa: E402
from messaging.imap import ImapConfig, mailbox_fetch  # noqa: E402

recording = {"seconds": 0.0}
_hand_over_group = messaging.imap._hand_over_group


def timed_hand_over_group(*args, **kwargs):
    """The handler and the transactions that record the messages, timed apart from IMAP."""
    group = _hand_over_group(*args, **kwargs)
    while True:
        started = time.monotonic()
        try:
            item = next(group)
        except StopIteration:
            return
        finally:
            recording["seconds"] += time.monotonic() - started
        yield item


messaging.imap._hand_over_group = timed_hand_over_group

WORDS = (
    "thanks order parcel arrived yesterday colour size exchange refund tracking number courier "
    "weekend delivery address invoice discount code sorry again please could you check when"
).split()


def reply(n: int, rng: random.Random) -> bytes:
    """A customer's reply, 3-10 KB: their words, then the quoted message they answer."""
    target = rng.randint(2_400, 7_000)  # the message comes out 3-10 KB
    message = EmailMessage()
    message["From"] = f"Customer {n} <customer{n}@example.net>"
    message["To"] = f"support+t{n}-0123456789@acme.example"
    message["Subject"] = f"Re: Your order #{100000 + n} [#{n}]"
    message["Message-ID"] = f"<bench-{n}-{rng.getrandbits(64):x}@mail.example.net>"
    message["In-Reply-To"] = f"<ticket-reply-{n}@acme.example>"
    message["References"] = f"<ticket-{n}-abc@acme.example> <ticket-reply-{n}@acme.example>"
    message["Date"] = "Fri, 04 Dec 2026 09:00:00 +0000"
    own = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 80))).capitalize() + "."
    quoted = "\n".join("> " + " ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(max(1, target // 90)))
    text = f"{own}\n\nAnn\n\nOn Thu, 3 Dec 2026 at 10:00, Acme Coffee wrote:\n{quoted}\n"
    kind = n % 3
    if kind == 0:
        message.set_content(text)
    else:
        message.set_content(text[: len(text) // 2])
        message.add_alternative(f"<p>{own}</p><blockquote>{quoted[: len(quoted) // 2]}</blockquote>", subtype="html")
    if kind == 2 and n % 6 == 2:
        message.add_attachment(rng.randbytes(1_500), maintype="image", subtype="png", filename="photo.png")
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def run(server: DovecotServer, scheme: str, first: int) -> dict:
    rng = random.Random(first)
    messages = [reply(n, rng) for n in range(first, first + MESSAGES)]
    started = time.monotonic()
    server.append(messages)
    append_seconds = time.monotonic() - started

    received: list[bytes] = []

    def handler(raw: bytes, *, via: str) -> None:
        received.append(raw)  # nothing more: what fetching alone costs

    config = ImapConfig.from_url(server.url(scheme=scheme), cafile=server.cafile)
    recording["seconds"] = 0.0
    started = time.monotonic()
    result = mailbox_fetch(config=config, handler=handler)
    seconds = time.monotonic() - started

    assert result.handled == MESSAGES == len(received), (result, len(received))
    assert sorted(received) == sorted(messages), "a message was lost, changed or handed over twice"
    assert len(server.folder("Processed")) == first - 1 + MESSAGES
    assert server.folder("INBOX") == []
    return {
        "scheme": scheme,
        "append": append_seconds,
        "fetch": seconds,
        "recording": recording["seconds"],
        "bytes": sum(map(len, messages)),
        "sizes": (min(map(len, messages)), max(map(len, messages))),
    }


def main() -> None:
    if dovecot_binary() is None:
        sys.exit("Dovecot is not installed: apt install dovecot-imapd")
    call_command("migrate", verbosity=0)
    with DovecotServer(tls=True) as server:
        rows = [run(server, "imaps", 1), run(server, "imap", MESSAGES + 1)]
    low, high = rows[0]["sizes"]
    print(f"## IMAP fetch (`make bench-imap`): {MESSAGES:,} replies, {low / 1024:.1f}-{high / 1024:.1f} KB each\n")
    print(
        "| connection | APPEND (filling the mailbox) | the run: fetch, hand over, record, move | of which IMAP "
        "| of which recording each message | messages/s |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        label = {"imaps": "IMAPS (TLS)", "imap": "plain IMAP"}[row["scheme"]]
        print(
            f"| {label} | {row['append']:.2f} s | **{row['fetch']:.2f} s** | {row['fetch'] - row['recording']:.2f} s "
            f"| {row['recording']:.2f} s | {MESSAGES / row['fetch']:,.0f} |"
        )
    print(
        f"\nDovecot {'.'.join(map(str, server.version))} on 127.0.0.1, batches of 200, a handler that does "
        "nothing. Recording: the transactions the messages are handed over in (a savepoint each, one UPDATE and "
        f"one commit per group of up to 50) on {'PostgreSQL' if DB_URL.startswith('postgres') else 'SQLite'}; "
        "with the support desk's handler, its writes share those commits."
    )


if __name__ == "__main__":
    main()
