"""Reading a mailbox folder over IMAP and handing each message, raw, to a handler.

The support desk reads its mailbox this way (``support.imap_mailbox``), as most help desks
connect to a shop's existing inbox; the handler (what to do with one email) is the
caller's, so this module knows nothing of tickets.

One run (``mailbox_fetch``):

1. **One reader at a time.** It leases the folder's ``ImapMailbox`` row for ``LEASE``
   (a conditional UPDATE, so it works on SQLite and PostgreSQL and while Redis is down),
   renewing it after each batch; a second run finds it leased and stops with
   ``MailboxBusy``. A run that dies leaves the lease to run out.
2. **Connects** over TLS (``imaps://``, port 993), STARTTLS (``imap+starttls://``, 143) or,
   for a local test server only, in the clear (``imap://``), with a timeout on every wait.
   What goes wrong is an ``ImapError`` with a one-line message naming the host, the user
   or the folder: a wrong password, an unknown host, a refused port, a certificate.
3. **Which messages.** The folder's ``UIDVALIDITY`` and ``last_uid`` are kept in the row:
   every message up to ``last_uid`` was handed over (or failed, and has an ``ImapFailure``
   row). The run reads the UIDs above it, plus the failures still to retry, in UID order.
   If ``UIDVALIDITY`` changed (the folder was recreated), UIDs mean nothing any more: it
   starts from the beginning of the folder, and the handler's idempotency on Message-ID
   keeps anything already handled from being handled twice.
4. **Batches** of up to ``batch_size`` UIDs (200) and about ``max_batch_bytes`` (20 MB,
   from the sizes the server gives first): ``UID FETCH … BODY.PEEK[]`` (PEEK: reading sets
   no flag a person would see).
5. **Each message**: ``handler(raw, via="imap")`` and the row's ``last_uid`` in one
   database transaction, so a message is recorded as handled exactly when what the
   handler wrote commits. The transaction takes a group of messages (up to
   ``GROUP_MESSAGES``, or ``GROUP_SECONDS``), each in a savepoint: one commit, one flush of
   the database's log, for the group. A message the handler raises on has its savepoint
   rolled back, is recorded (``ImapFailure``: attempts, error, Message-ID, subject) and
   left in the folder; the rest of the batch goes on. It is tried again by the next runs,
   up to ``max_attempts`` in all. A database outage is not the message's fault: it ends the
   run (nothing is recorded against the message; the group's transaction is rolled back,
   and the next run reads its messages again).
6. **Then marked on the server**, per batch, after the commits: moved to
   ``processed_folder`` ("Processed": ``UID MOVE`` where the server has MOVE, else
   ``COPY``, ``\\Deleted`` and ``UID EXPUNGE``), or, with no processed folder, flagged
   ``\\Seen`` and left in place. If the run dies between the commit and the move, the next
   run finds the message at or below ``last_uid`` and only moves it.

So a crash at any point loses nothing and hands nothing over twice; the worst case is a
message handed over again after the database lost the commit itself, which the handler's
idempotency on Message-ID absorbs.
"""

from __future__ import annotations

import imaplib
import logging
import re
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from urllib.parse import unquote, urlsplit

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from messaging.models import ImapFailure, ImapMailbox

logger = logging.getLogger(__name__)

# The handler: ``handler(raw, via="imap")``; it commits in the run's transaction.
Handler = Callable[..., object]
Progress = Callable[["FetchResult", int], None]

LEASE = timedelta(minutes=5)  # longer than any batch takes; renewed after each
BATCH_SIZE = 200
MAX_BATCH_BYTES = 20 * 1024 * 1024
MAX_ATTEMPTS = 5
# Messages handed over in one transaction (each in a savepoint of its own), and the longest
# such a transaction is kept open for more: locks the handler takes are held that long.
GROUP_MESSAGES = 50
GROUP_SECONDS = 0.5
VIA = "imap"

SCHEMES = {"imaps": ("tls", 993), "imap+starttls": ("starttls", 143), "imap": ("none", 143)}


class ImapError(Exception):
    """A run could not read the mailbox; the message is one line, for a person."""


class MailboxBusy(ImapError):
    """Another run is reading the folder."""


@dataclass(frozen=True)
class ImapConfig:
    """Where the mailbox is and how to treat what was read (``from_url`` reads the URL)."""

    host: str
    username: str
    password: str = field(repr=False)
    port: int = 993
    folder: str = "INBOX"
    security: str = "tls"  # "tls", "starttls" or "none"
    processed_folder: str = "Processed"  # "": flag \Seen and leave in place
    timeout: float = 30.0
    cafile: str = ""  # trust this certificate (a self-signed server) instead of the system's

    @classmethod
    def from_url(cls, url: str, **options) -> ImapConfig:
        """``imaps://user:password@host:993/INBOX`` (user and password URL-encoded: ``@`` as
        ``%40``); ``imap+starttls://…:143``; ``imap://…`` for a local test server."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ImapError(f"The IMAP URL must start with imaps://, imap+starttls:// or imap://, not {parts.scheme!r}")
        security, default_port = SCHEMES[parts.scheme]
        try:
            port = parts.port or default_port
        except ValueError:
            raise ImapError("The IMAP URL's port is not a number") from None
        if not parts.hostname:
            raise ImapError("The IMAP URL names no host")
        if not parts.username or parts.password is None:
            raise ImapError("The IMAP URL needs a user and a password: imaps://user:password@host/INBOX")
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username),
            password=unquote(parts.password),
            folder=folder,
            security=security,
            **options,
        )

    def __post_init__(self) -> None:
        if self.processed_folder and self.processed_folder.lower() == self.folder.lower():
            # Moving a message into the folder read gives it a new UID, to be read again.
            raise ImapError(f"The processed folder must not be the folder read ({self.folder!r})")

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def key(self) -> str:
        return f"{self.username}@{self.where}/{self.folder}"


@dataclass
class FetchResult:
    """What a run did. ``total`` is how many messages it set out to read."""

    total: int = 0
    handled: int = 0
    failed: int = 0
    marked: int = 0
    given_up: int = 0  # failed messages not tried again (max_attempts reached)
    remaining: int = 0  # left for the next run (the deadline came)


# -- the connection -----------------------------------------------------------------------


def _text(exc: BaseException) -> str:
    """An imaplib error's text, without the bytes' b'…' around it."""
    text = str(exc.args[0] if exc.args else exc)
    match = re.fullmatch(r"b'(.*)'|b\"(.*)\"", text)
    return (match.group(1) or match.group(2)) if match else text


def imap_connect(config: ImapConfig) -> imaplib.IMAP4:
    """A signed-in connection, or an ``ImapError`` that says what went wrong."""
    where = config.where
    context = ssl.create_default_context(cafile=config.cafile or None)
    try:
        if config.security == "tls":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                config.host, config.port, ssl_context=context, timeout=config.timeout
            )
        else:
            conn = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
            if config.security == "starttls":
                if "STARTTLS" not in conn.capabilities:
                    conn.shutdown()
                    raise ImapError(f"The IMAP server {where} does not offer STARTTLS; use imaps:// (port 993)")
                conn.starttls(ssl_context=context)
    except socket.gaierror as exc:
        raise ImapError(f"Cannot find the IMAP server {config.host}: {exc.strerror}") from None
    except TimeoutError:
        raise ImapError(f"The IMAP server {where} did not answer within {config.timeout:g} s") from None
    except ssl.SSLCertVerificationError as exc:
        raise ImapError(f"The IMAP server {where}'s certificate is not trusted: {exc.verify_message}") from None
    except ssl.SSLError as exc:
        raise ImapError(f"TLS with the IMAP server {where} failed: {exc.reason or exc}") from None
    except ConnectionRefusedError:
        raise ImapError(f"The IMAP server {where} refused the connection (is that the right port?)") from None
    except OSError as exc:
        raise ImapError(f"Cannot connect to the IMAP server {where}: {exc.strerror or exc}") from None
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"The IMAP server {where} answered oddly: {_text(exc)}") from None
    try:
        if config.password.isascii() and config.username.isascii():
            conn.login(config.username, config.password)
        else:  # LOGIN is ASCII only; AUTHENTICATE PLAIN carries UTF-8
            credentials = f"\0{config.username}\0{config.password}".encode()
            conn.authenticate("PLAIN", lambda _challenge: credentials)
    except imaplib.IMAP4.error as exc:
        _close(conn)
        raise ImapError(f"The IMAP server {where} refused the sign-in as {config.username}: {_text(exc)}") from None
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise ImapError(f"The connection to the IMAP server {where} was lost: {_text(exc)}") from None
    return conn


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except Exception:  # the server is gone: nothing to say goodbye to
        try:
            conn.shutdown()
        except Exception:
            pass


def _quote(name: str) -> str:
    if not name.isascii():
        # IMAP's folder names are modified UTF-7; the few who need one can rename the folder.
        raise ImapError(f"The folder name {name!r} is not ASCII; use a folder with an ASCII name")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uid_set(uids: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1:3,7`` (sorted input)."""
    ranges: list[str] = []
    start = prev = uids[0]
    for uid in uids[1:]:
        if uid != prev + 1:
            ranges.append(f"{start}:{prev}" if prev != start else str(start))
            start = uid
        prev = uid
    ranges.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(ranges)


class _Session:
    """The commands of one run on a signed-in connection; a lost connection or a refused
    command becomes an ``ImapError`` naming the server."""

    def __init__(self, conn: imaplib.IMAP4, config: ImapConfig):
        self.conn = conn
        self.config = config
        self.capabilities: set[str] = set()

    def call(self, what: str, command: str, *args) -> list:
        try:
            typ, data = getattr(self.conn, command)(*args)
        except imaplib.IMAP4.abort as exc:
            raise ImapError(f"The connection to the IMAP server {self.config.where} was lost: {_text(exc)}") from None
        except TimeoutError:
            raise ImapError(
                f"The IMAP server {self.config.where} did not answer within {self.config.timeout:g} s"
            ) from None
        except OSError as exc:
            raise ImapError(
                f"The connection to the IMAP server {self.config.where} was lost: {exc.strerror or exc}"
            ) from None
        except imaplib.IMAP4.error as exc:
            raise ImapError(f"The IMAP server {self.config.where} refused {what}: {_text(exc)}") from None
        if typ != "OK":
            detail = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
            raise ImapError(f"The IMAP server {self.config.where} refused {what}: {detail}")
        return data

    def select(self) -> int:
        """Open the folder; its UIDVALIDITY."""
        folder = self.config.folder
        try:
            self.call(f"to open the folder {folder!r}", "select", _quote(folder))
        except ImapError as exc:
            if "refused" in str(exc):
                raise ImapError(
                    f"There is no folder {folder!r} for {self.config.username} on {self.config.where}"
                ) from None
            raise
        validity = (self.conn.untagged_responses.get("UIDVALIDITY") or [b"0"])[-1]
        data = self.call("CAPABILITY", "capability")
        self.capabilities = set(data[0].decode().upper().split()) if data and data[0] else set()
        return int(validity if isinstance(validity, bytes) else validity[0])

    def ensure_folder(self, name: str) -> None:
        listed = self.call(f"to list the folder {name!r}", "list", '""', _quote(name))
        if not any(item for item in listed if item):
            self.call(f"to create the folder {name!r}", "create", _quote(name))

    def search(self, uid_range: str) -> list[int]:
        data = self.call("SEARCH", "uid", "SEARCH", "UID", uid_range)
        return sorted(int(n) for n in b" ".join(d for d in data if d).split())

    def sizes(self, uids: list[int]) -> dict[int, int]:
        data = self.call("FETCH", "uid", "FETCH", _uid_set(uids), "(UID RFC822.SIZE)")
        found = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if line and (uid := re.search(rb"UID (\d+)", line)) and (size := re.search(rb"RFC822\.SIZE (\d+)", line)):
                found[int(uid.group(1))] = int(size.group(1))
        return found

    def bodies(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """``UID FETCH … BODY.PEEK[]``: each message whole, in UID order."""
        data = self.call("FETCH", "uid", "FETCH", _uid_set(uids), "(UID BODY.PEEK[])")
        found: dict[int, bytes] = {}
        pending: bytes | None = None  # a body whose UID comes after it (some servers)
        for item in data:
            if isinstance(item, tuple):
                meta, body = item
                if uid := re.search(rb"UID (\d+)", meta):
                    found[int(uid.group(1))] = body
                    pending = None
                else:
                    pending = body
            elif pending is not None and item and (uid := re.search(rb"UID (\d+)", item)):
                found[int(uid.group(1))] = pending
                pending = None
        return sorted(found.items())

    def mark(self, uids: list[int]) -> None:
        """Done with ``uids``: moved to the processed folder, or flagged \\Seen."""
        if not uids:
            return
        uid_set = _uid_set(uids)
        target = self.config.processed_folder
        if not target:
            self.call("STORE", "uid", "STORE", uid_set, "+FLAGS.SILENT", r"(\Seen)")
        elif "MOVE" in self.capabilities:
            self.call("MOVE", "uid", "MOVE", uid_set, _quote(target))
        else:
            self.call("COPY", "uid", "COPY", uid_set, _quote(target))
            self.call("STORE", "uid", "STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
            if "UIDPLUS" in self.capabilities:
                self.call("EXPUNGE", "uid", "EXPUNGE", uid_set)
            else:  # also expunges other messages flagged \Deleted in the folder (docs/email.md)
                self.call("EXPUNGE", "expunge")


# -- the run ------------------------------------------------------------------------------


def _lease(key: str) -> tuple[ImapMailbox, str]:
    """The folder's row, leased to this run, or ``MailboxBusy``."""
    mailbox, _ = ImapMailbox.objects.get_or_create(key=key)
    token = uuid.uuid4().hex
    now = timezone.now()
    leased = (
        ImapMailbox.objects.filter(pk=mailbox.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_owner=token, lease_until=now + LEASE)
    )
    if not leased:
        mailbox.refresh_from_db()
        until = f" (until {mailbox.lease_until:%H:%M:%S} UTC at the latest)" if mailbox.lease_until else ""
        raise MailboxBusy(f"Another run is reading {key}{until}")
    mailbox.refresh_from_db()
    return mailbox, token


def _renew(mailbox: ImapMailbox, token: str) -> None:
    if not ImapMailbox.objects.filter(pk=mailbox.pk, lease_owner=token).update(lease_until=timezone.now() + LEASE):
        raise MailboxBusy(f"This run's lease on {mailbox.key} ran out and another run took it")


def _finish(mailbox: ImapMailbox, token: str, error: str) -> None:
    ImapMailbox.objects.filter(pk=mailbox.pk, lease_owner=token).update(
        lease_owner="", lease_until=None, last_run_at=timezone.now(), last_error=error
    )


def _headers(raw: bytes) -> tuple[str, str]:
    """(Message-ID, Subject) for the failure's record; never raises."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw[:65536])
        return str(headers.get("Message-ID", ""))[:255], str(headers.get("Subject", ""))[:500]
    except Exception:
        return "", ""


def _hand_over(mailbox_id: int, uid: int, raw: bytes, handler: Handler, *, retrying: bool) -> bool:
    """``handler(raw)`` in a savepoint of the group's transaction (``_hand_over_group``); a
    message the handler raises on has its own writes undone and is recorded as failed
    instead. True if handled."""
    try:
        with transaction.atomic():
            handler(raw, via=VIA)
            if retrying:
                ImapFailure.objects.filter(mailbox_id=mailbox_id, uid=uid).delete()
        return True
    except (OperationalError, InterfaceError, SoftTimeLimitExceeded):
        # The database is gone, or the task's time is up: not the message's fault, and
        # nothing of the group is recorded (it is read again by the next run).
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("IMAP message UID %s could not be handled: %s", uid, error, exc_info=True)
    message_id, subject = _headers(raw)
    # One run at a time (the lease), so no other writer races this row.
    updated = ImapFailure.objects.filter(mailbox_id=mailbox_id, uid=uid).update(
        attempts=F("attempts") + 1, error=error, last_failed_at=timezone.now()
    )
    if not updated:
        ImapFailure.objects.create(mailbox_id=mailbox_id, uid=uid, error=error, message_id=message_id, subject=subject)
    return False


def _hand_over_group(
    mailbox_id: int, messages: list[tuple[int, bytes]], handler: Handler, failures: dict[int, int]
) -> Iterator[tuple[int, bool]]:
    """Hand ``messages`` over in groups, each in one transaction with the mark of how far the
    folder was read: up to ``GROUP_MESSAGES`` messages, or as many as ``GROUP_SECONDS``
    allows (at least one). One commit per group instead of one per message: the handler's
    writes and the reader's mark of many messages reach the disk in one flush. Yields
    ``(uid, handled)`` for each message once its group has committed."""
    position = 0
    while position < len(messages):
        started = time.monotonic()
        group: list[tuple[int, bool]] = []
        with transaction.atomic():
            while position < len(messages) and len(group) < GROUP_MESSAGES:
                uid, raw = messages[position]
                group.append((uid, _hand_over(mailbox_id, uid, raw, handler, retrying=uid in failures)))
                position += 1
                if time.monotonic() - started >= GROUP_SECONDS:
                    break
            ImapMailbox.objects.filter(pk=mailbox_id).update(
                last_uid=Greatest(F("last_uid"), max(uid for uid, _ in group)),
                received=F("received") + sum(handled for _, handled in group),
            )
        yield from group


def _batches(session: _Session, uids: list[int], batch_size: int, max_bytes: int) -> Iterator[tuple[list[int], int]]:
    """Runs of UIDs to fetch at once: at most ``batch_size`` and about ``max_bytes`` (one
    bigger message alone), with how many of the UIDs asked for are gone from the folder."""
    for start in range(0, len(uids), batch_size):
        chunk = uids[start : start + batch_size]
        sizes = session.sizes(chunk)
        gone = len(chunk) - len(sizes)
        run: list[int] = []
        run_bytes = 0
        for uid in chunk:
            if uid not in sizes:
                continue
            if run and run_bytes + sizes[uid] > max_bytes:
                yield run, 0
                run, run_bytes = [], 0
            run.append(uid)
            run_bytes += sizes[uid]
        yield run, gone


def mailbox_fetch(
    *,
    config: ImapConfig,
    handler: Handler,
    batch_size: int = BATCH_SIZE,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    max_attempts: int = MAX_ATTEMPTS,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> FetchResult:
    """Read the folder's new messages (and those to retry), hand each to ``handler`` and mark
    it done (the module docstring). ``deadline`` (``time.monotonic()``) ends the run after
    the batch that passes it; what is left is read by the next run. ``progress(result,
    done)`` is called after each message. Raises ``ImapError`` (``MailboxBusy``) when the
    mailbox cannot be read; what was handled before stays handled."""
    mailbox, token = _lease(config.key)
    result = FetchResult()
    error = ""
    try:
        conn = imap_connect(config)
        try:
            _read(
                _Session(conn, config),
                mailbox,
                token,
                handler,
                result,
                batch_size,
                max_batch_bytes,
                max_attempts,
                deadline,
                progress,
            )
        finally:
            _close(conn)
    except ImapError as exc:
        error = str(exc)
        raise
    except Exception as exc:  # the database lost, the task's time up: said, then raised
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        try:
            _finish(mailbox, token, error)
        except Exception:  # the database is gone too: the lease runs out
            logger.warning("Could not release the lease on %s", config.key, exc_info=True)
    return result


def _read(
    session: _Session,
    mailbox: ImapMailbox,
    token: str,
    handler: Handler,
    result: FetchResult,
    batch_size: int,
    max_batch_bytes: int,
    max_attempts: int,
    deadline: float | None,
    progress: Progress | None,
) -> None:
    config = session.config
    validity = session.select()
    if mailbox.uidvalidity != validity:
        if mailbox.uidvalidity is not None:
            logger.warning("UIDVALIDITY of %s changed: reading the folder from its start", config.key)
        with transaction.atomic():
            ImapFailure.objects.filter(mailbox=mailbox).delete()
            ImapMailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=validity, last_uid=0)
        mailbox.uidvalidity, mailbox.last_uid = validity, 0
    if config.processed_folder:
        session.ensure_folder(config.processed_folder)
    failures = dict(ImapFailure.objects.filter(mailbox=mailbox).values_list("uid", "attempts"))
    last_uid = mailbox.last_uid
    if config.processed_folder and last_uid:
        # Handled by a run that stopped before moving them: move them now, read nothing.
        leftovers = [uid for uid in session.search(f"1:{last_uid}") if uid not in failures]
        session.mark(leftovers)
        result.marked += len(leftovers)
    new = [uid for uid in session.search(f"{last_uid + 1}:*") if uid > last_uid]  # n:* always names the last
    retry = sorted(uid for uid, attempts in failures.items() if attempts < max_attempts)
    result.given_up = len(failures) - len(retry)
    todo = retry + new
    result.total = len(todo)
    done = 0
    for uids, gone in _batches(session, todo, batch_size, max_batch_bytes):
        done += gone
        handled = []
        for uid, ok in _hand_over_group(mailbox.pk, session.bodies(uids) if uids else [], handler, failures):
            if ok:
                handled.append(uid)
                result.handled += 1
            else:
                result.failed += 1
            done += 1
            if progress:
                progress(result, done)
        session.mark(handled)
        result.marked += len(handled)
        _renew(mailbox, token)
        if deadline is not None and time.monotonic() >= deadline and done < len(todo):
            result.remaining = len(todo) - done
            break
    # Retried UIDs no longer in the folder (someone moved or deleted them): forget them.
    if retry and (gone_retries := set(retry) - set(session.search(_uid_set(retry)))):
        ImapFailure.objects.filter(mailbox=mailbox, uid__in=gone_retries).delete()
