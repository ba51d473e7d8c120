"""Sending queued messages: claim a batch, check suppression, render, send, record.

- **Claim** (``messages_claim``): up to a batch of the oldest messages that are queued and
  due, or whose sender's lease ran out (a worker killed mid-batch), are leased to this
  sender with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never take
  the same message (SQLite takes the write lock when the transaction begins, which makes
  the claim exclusive there). The lease outlasts a task's hard time limit, so a live sender
  never loses its batch to another.
- **Suppression** is checked here, when each batch is sent, not when the message was
  queued: a marketing message to any suppressed address, and any message to a hard-bounced,
  complained-about or erased one, is marked ``suppressed`` and not sent.
- **Send** over one connection per batch, at most ``EMAIL_RATE_PER_SECOND`` messages a
  second through the backend (all workers together, counted in Redis), each message marked
  sent right after its send. The Message-ID comes from the key, so a message sent again after
  a crash between its send and its mark is recognisably the same message.
- **Errors**: a transient one (SMTP 4xx, a lost connection, a provider's 429 or 5xx) puts the
  message back in the queue after a backoff (a minute, doubling, at most an hour), up to
  ``EMAIL_MAX_ATTEMPTS``; a connection-level one (the server down, refused sign-in) does so
  for the rest of the batch too, and ends it. A permanent one (5xx for the recipient, a
  provider refusing the recipient) is recorded as ``failed`` and never retried.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from messaging.links import track_html, track_text
from messaging.mime import BulkEmail
from messaging.models import (
    PENDING_STATUSES,
    STOPS_TRANSACTIONAL,
    Message,
    MessageEvent,
    MessageKind,
    MessageStatus,
    Suppression,
)
from messaging.rendering import Brand, Rendered, render
from messaging.selectors import brands_for
from messaging.unsubscribe import footer_unsubscribe_url, list_unsubscribe_headers

logger = logging.getLogger(__name__)

# Longer than a task's hard time limit (core.task_policy: 120 s), so a live sender keeps its
# batch; short enough that the rest of a killed worker's batch goes out within minutes.
LEASE = timedelta(seconds=150)
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)


@dataclass
class SendResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------- claim


def messages_claim(*, limit: int, now: datetime) -> list[Message]:
    """Lease up to ``limit`` messages to this sender, oldest first, counting an attempt."""
    due = Q(status=MessageStatus.QUEUED, next_attempt_at__lte=now) | Q(
        status=MessageStatus.SENDING, claimed_until__lt=now
    )
    with transaction.atomic():
        free = Message.objects.filter(due, status__in=PENDING_STATUSES)
        if db_connection.features.has_select_for_update_skip_locked:
            free = free.select_for_update(skip_locked=True)
        ids = list(free.order_by("id").values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Message.objects.filter(id__in=ids).update(
            status=MessageStatus.SENDING, claimed_until=now + LEASE, attempts=F("attempts") + 1, updated_at=now
        )
        MessageEvent.objects.bulk_create(
            MessageEvent(message_id=pk, status=MessageStatus.SENDING, at=now) for pk in ids
        )
    return list(Message.objects.filter(id__in=ids).order_by("id"))


# ------------------------------------------------------------------------ what to record


def _record(message: Message, status: str, now: datetime, *, detail: str = "", **fields) -> None:
    """Move a message this sender holds to ``status`` and log the change, atomically: one
    statement on PostgreSQL (a round trip per message, where a transaction took four), a
    transaction elsewhere."""
    values = {"status": status, "claimed_until": None, "updated_at": now, **fields}
    if db_connection.vendor == "postgresql":
        _record_in_one_statement(message.pk, values, now=now, detail=detail[:500])
        return
    with transaction.atomic():
        if Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(**values):
            MessageEvent.objects.create(message_id=message.pk, status=status, at=now, detail=detail[:500])


def _record_in_one_statement(message_id: int, values: dict, *, now: datetime, detail: str) -> None:
    quote = db_connection.ops.quote_name
    sets, params = [], []
    for name, value in values.items():
        field = Message._meta.get_field(name)
        sets.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, db_connection))
    messages, events = quote(Message._meta.db_table), quote(MessageEvent._meta.db_table)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"WITH changed AS (UPDATE {messages} SET {', '.join(sets)} WHERE id = %s AND status = %s RETURNING id) "
            f"INSERT INTO {events} (message_id, status, at, detail) SELECT id, %s, %s, %s FROM changed",
            [*params, message_id, MessageStatus.SENDING, values["status"], now, detail],
        )


def _rendered_fields(rendered: Rendered | None, email: EmailMultiAlternatives | None) -> dict:
    if rendered is None or email is None:
        return {}
    headers = {
        "From": email.from_email,
        "To": ", ".join(email.to),
        **({"Reply-To": ", ".join(email.reply_to)} if email.reply_to else {}),
        "Subject": rendered.subject,
        **email.extra_headers,
    }
    return {
        "subject": rendered.subject[:500],
        "html": rendered.html,
        "text": rendered.text,
        "from_email": email.from_email,
        "reply_to": ", ".join(email.reply_to),
        "headers": headers,
    }


def _retry(message: Message, error: str, now: datetime, extra: dict, *, connection: bool = False) -> bool:
    """Back in the queue after a backoff; failed once the attempts run out. True if retried.

    A connection-level error (``connection``: the server down, sign-in refused) is not this
    message's fault: it does not run out its ``EMAIL_MAX_ATTEMPTS``, only its
    ``EMAIL_RETRY_FOR`` (3 days from when it was queued, as mail servers keep a queue), so a
    relay down for hours delays the mail and loses none of it."""
    if connection:
        give_up = now - message.created_at >= settings.EMAIL_RETRY_FOR
        why = f"Gave up after trying for {settings.EMAIL_RETRY_FOR.days} days"
    else:
        give_up = message.attempts >= settings.EMAIL_MAX_ATTEMPTS
        why = f"Gave up after {message.attempts} attempts"
    if give_up:
        _record(message, MessageStatus.FAILED, now, detail=f"{why}: {error}", last_error=error, **extra)
        return False
    backoff = min(FIRST_BACKOFF * 2 ** (message.attempts - 1), MAX_BACKOFF)
    at = now + backoff
    _record(
        message,
        MessageStatus.QUEUED,
        now,
        detail=f"Attempt {message.attempts} failed, next at {at:%Y-%m-%d %H:%M:%S} UTC: {error}",
        last_error=error,
        next_attempt_at=at,
        **extra,
    )
    return True


def _not_tried(message: Message, error: str, now: datetime, at: datetime) -> None:
    """A message of the batch the connection failed before: back in the queue for when the
    one that failed is tried again, its claim's attempt given back (it was never tried)."""
    _record(
        message,
        MessageStatus.QUEUED,
        now,
        detail=f"Not tried, next at {at:%Y-%m-%d %H:%M:%S} UTC: {error}",
        next_attempt_at=at,
        attempts=max(0, message.attempts - 1),
    )


# -------------------------------------------------------------------------------- errors


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def connection_level(exc: BaseException) -> bool:
    """The connection or the account failed, not this message: the rest of the batch waits
    too. (The SMTP server down or hanging up, sign-in refused, the sender refused; a
    provider's 429 or 5xx, or no answer from it.)"""
    if isinstance(exc, AnymailAPIError):
        return exc.status_code is None or exc.status_code == 429 or exc.status_code >= 500
    if isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)):
        return False
    return isinstance(exc, (smtplib.SMTPException, OSError))


def transient(exc: BaseException) -> bool:
    """Worth trying again later: SMTP 4xx, a connection-level error. Not: a 5xx refusing the
    recipient or the message, a provider refusing the recipient, anything unexpected."""
    if isinstance(exc, AnymailRecipientsRefused):
        return False
    if connection_level(exc):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return False


# ---------------------------------------------------------------------------- rate limit


class RateLimit:
    """At most ``rate`` sends a second through one backend. Counted per second in Redis
    (``cache.count``), so every worker shares the limit; in this process alone where there
    is no Redis (the embedded default) or while it is down."""

    def __init__(self, rate: float, backend: str):
        self.rate = rate
        # Below one a second, a window long enough to hold one send.
        self.window = max(1.0, 1.0 / rate) if rate > 0 else 1.0
        self.limit = max(1, int(rate * self.window)) if rate > 0 else 0
        self.backend = backend

    _local: dict[tuple[str, int], int] = {}
    _local_lock = threading.Lock()

    def _count(self, slot: int) -> int:
        counter = getattr(cache, "count", None)
        if counter is not None:
            value = counter(f"messaging:rate:{self.backend}:{slot}", int(self.window) + 1)
            if value is not None:
                return value
        with self._local_lock:
            key = (self.backend, slot)
            self._local[key] = self._local.get(key, 0) + 1
            for old in [k for k in self._local if k[1] < slot]:
                del self._local[old]
            return self._local[key]

    def wait(self) -> None:
        if self.rate <= 0:
            return
        while True:
            now = time.time()
            slot = int(now // self.window)
            if self._count(slot) <= self.limit:
                return
            time.sleep(max(0.0, (slot + 1) * self.window - now))


# ---------------------------------------------------------------------------------- send


def mailer():
    """A connection to the backend of ``MESSAGING_MAILER`` (a Django MAILERS entry)."""
    config = settings.MESSAGING_MAILER
    return import_string(config["BACKEND"])(alias="messaging", **config.get("OPTIONS", {}))


def _suppressions(addresses: set[str]) -> dict[str, list[tuple[str, int | None]]]:
    found: dict[str, list[tuple[str, int | None]]] = {}
    for address, reason, shop_id in Suppression.objects.filter(address__in=sorted(addresses)).values_list(
        "address", "reason", "shop_id"
    ):
        found.setdefault(address, []).append((reason, shop_id))
    return found


def suppressed_by(message: Message, rows: list[tuple[str, int | None]]) -> str | None:
    """The reason this message must not go, if one of the address's suppressions applies."""
    for reason, shop_id in rows:
        if shop_id is not None and shop_id != message.shop_id:
            continue
        if message.kind == MessageKind.MARKETING or reason in STOPS_TRANSACTIONAL:
            return reason
    return None


# Headers a message may be given when queued (``MessageRequest.headers``), kept in its
# ``headers`` until it is sent: threading (a support ticket's emails answer each other) and a
# Reply-To of its own in place of the sender's (the ticket's reply address). The sent
# message's ``headers`` then hold every header, these with the same values, so a retry sends
# them again unchanged.
QUEUED_HEADERS = ("Reply-To", "In-Reply-To", "References")


def build_email(message: Message, rendered: Rendered, brand: Brand) -> EmailMultiAlternatives:
    queued = message.headers or {}
    reply_to = queued.get("Reply-To") or brand.reply_to
    threading = {name: queued[name] for name in ("In-Reply-To", "References") if queued.get(name)}
    email = BulkEmail(
        subject=rendered.subject,
        body=rendered.text,
        from_email=brand.from_header,
        to=[message.to_email],
        reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message.message_id, **threading, **list_unsubscribe_headers(message)},
    )
    email.attach_alternative(rendered.html, "text/html")
    # Read by django-anymail's backends (and ignored by the others): the provider hands it
    # back with delivery events, naming the message.
    email.metadata = {"message_key": message.key}  # type: ignore[attr-defined]
    return email


def _provider_id(email: EmailMultiAlternatives, message: Message) -> str:
    status = getattr(email, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    outbox_id = getattr(email, "outbox_id", None)
    if outbox_id is not None:
        return f"outbox:{outbox_id}"
    return message.message_id


def messages_send(*, limit: int | None = None, now: datetime | None = None) -> SendResult:
    """Claim one batch and send it (see the module docstring). ``now`` fixes the clock (tests);
    otherwise each change is stamped when it happens."""
    fixed = now

    def clock() -> datetime:
        return fixed or timezone.now()

    now = clock()
    _quick_commits(True)
    try:
        claimed = messages_claim(limit=limit or settings.EMAIL_BATCH_SIZE, now=now)
    finally:
        _quick_commits(False)
    result = SendResult(claimed=len(claimed))
    if not claimed:
        return result
    brands = brands_for({m.shop_id for m in claimed if m.shop_id is not None})
    suppressions = _suppressions({m.to_email for m in claimed})
    backend = settings.MESSAGING_MAILER["BACKEND"]
    limiter = RateLimit(settings.EMAIL_RATE_PER_SECOND, backend)
    connection = mailer()
    remaining = list(claimed)
    _quick_commits(True)
    try:
        while remaining:
            message = remaining.pop(0)
            now = clock()
            reason = suppressed_by(message, suppressions.get(message.to_email, []))
            if reason:
                _record(message, MessageStatus.SUPPRESSED, now, detail=f"Suppressed: {reason}")
                result.suppressed += 1
                continue
            try:
                brand = brands.get(message.shop_id, brands[None])
                rendered = render(
                    message.template, message.context, brand, unsubscribe_url=footer_unsubscribe_url(message)
                )
                if message.kind == MessageKind.MARKETING:
                    rendered = replace(
                        rendered, html=track_html(message, rendered.html), text=track_text(message, rendered.text)
                    )
                email = build_email(message, rendered, brand)
            except Exception as exc:  # a template that cannot render this context: never will
                logger.exception("Message %s could not be rendered", message.pk)
                _record(message, MessageStatus.FAILED, now, detail=_error_text(exc), last_error=_error_text(exc))
                result.failed += 1
                continue
            extra = _rendered_fields(rendered, email)
            limiter.wait()
            try:
                connection.open()
                sent = connection.send_messages([email])
                if not sent:
                    raise smtplib.SMTPException("The backend sent nothing")
            except Exception as exc:
                error = _error_text(exc)
                result.errors.append(error)
                if not transient(exc):
                    _record(message, MessageStatus.FAILED, now, detail=error, last_error=error, **extra)
                    result.failed += 1
                    continue
                level = connection_level(exc)
                retried = _retry(message, error, now, extra, connection=level)
                result.retried += retried
                result.failed += not retried
                if level:
                    _connection_close(connection)
                    at = now + min(FIRST_BACKOFF * 2 ** (message.attempts - 1), MAX_BACKOFF)
                    for rest in remaining:
                        _not_tried(rest, error, now, at)
                        result.retried += 1
                    remaining = []
                continue
            now = clock()
            _record(
                message,
                MessageStatus.SENT,
                now,
                detail=_provider_id(email, message),
                sent_at=now,
                provider_message_id=_provider_id(email, message)[:255],
                last_error="",
                **extra,
            )
            result.sent += 1
    finally:
        _quick_commits(False)
        _connection_close(connection)
    return result


def _quick_commits(on: bool) -> None:
    """While a batch is claimed and sent, its writes commit without waiting for the WAL to
    reach the disk (PostgreSQL's ``synchronous_commit = off``, for this connection only). A
    mark is still atomic and visible at once, so a killed worker loses nothing it marked;
    only a crash of the database server itself could forget the last fraction of a second of
    claims (harmless: the messages are queued again) and marks (those messages would be sent
    again after their lease, with the same Message-ID). Waiting for the disk on every
    message cost 6.5 of the 9 ms a mark took."""
    if db_connection.vendor != "postgresql":
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off" if on else "RESET synchronous_commit")


def _connection_close(connection) -> None:
    try:
        connection.close()
    except Exception:  # a connection already gone
        logger.debug("Closing the email connection failed", exc_info=True)


def messages_send_for(*, seconds: float, on_full_batch=None) -> int:
    """Send batches until none is due or ``seconds`` have passed; returns messages sent.
    ``on_full_batch`` is called after each full batch (more is likely waiting)."""
    sent, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = messages_send()
        sent += result.sent
        if result.claimed < settings.EMAIL_BATCH_SIZE:
            break
        if on_full_batch is not None:
            on_full_batch()
    return sent
