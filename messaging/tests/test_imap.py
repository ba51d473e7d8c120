"""Reading a mailbox over IMAP (messaging/imap.py) from a real Dovecot (``imap_server``).

The handler here stores each raw message as a row (``OutboxEmail``: it keeps raw MIME)
and does NOT skip a Message-ID it has seen, unlike the support desk's: a message handed
over twice would show as two rows."""

import time
from email.message import EmailMessage

import pytest
from django.db import transaction

from messaging.imap import FetchResult, ImapConfig, ImapError, MailboxBusy, mailbox_fetch
from messaging.models import ImapFailure, ImapMailbox, OutboxEmail
from messaging.tests.dovecot import PASSWORD, USER

pytestmark = pytest.mark.django_db(transaction=True)


def reply(n: int, *, subject: str | None = None, size: int = 0) -> bytes:
    """A customer's reply, as a mail server delivers it (CRLF line ends)."""
    message = EmailMessage()
    message["From"] = f"Customer {n} <customer{n}@example.net>"
    message["To"] = "support+t1-abc@acme.example"
    message["Subject"] = subject or f"Re: My order [#{n}]"
    message["Message-ID"] = f"<reply-{n}@example.net>"
    body = f"Reply number {n}.\n" + ("Lorem ipsum dolor sit amet. " * (size // 28 + 1))[:size]
    message.set_content(body)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def store(raw: bytes, *, via: str) -> None:
    """The test's handler: one row per message handed over, in the run's transaction."""
    assert via == "imap"
    message_id = raw.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].decode()
    OutboxEmail.objects.create(message_id_header=message_id, from_email="", to="", raw=raw.decode())


def stored() -> list[str]:
    return list(OutboxEmail.objects.order_by("id").values_list("message_id_header", flat=True))


def ids(numbers) -> list[str]:
    return [f"<reply-{n}@example.net>" for n in numbers]


def config_for(server, **options) -> ImapConfig:
    return ImapConfig.from_url(server.url(), timeout=5, **options)


def test_each_message_is_handed_over_once_byte_for_byte_and_moved_to_processed(imap_server):
    messages = [reply(n) for n in range(1, 6)]
    imap_server.append(messages)

    result = mailbox_fetch(config=config_for(imap_server), handler=store)

    assert result == FetchResult(total=5, handled=5, marked=5)
    assert stored() == ids(range(1, 6))
    assert [row.encode() for row in OutboxEmail.objects.order_by("id").values_list("raw", flat=True)] == messages
    assert imap_server.folder("INBOX") == []
    assert imap_server.folder("Processed") == messages
    mailbox = ImapMailbox.objects.get()
    assert (mailbox.key, mailbox.last_uid, mailbox.received) == (f"{USER}@127.0.0.1:{imap_server.port}/INBOX", 5, 5)
    assert (mailbox.lease_owner, mailbox.lease_until, mailbox.last_error) == ("", None, "")

    # Nothing new: nothing read. Two more: those two.
    assert mailbox_fetch(config=config_for(imap_server), handler=store) == FetchResult()
    imap_server.append([reply(6), reply(7)])
    assert mailbox_fetch(config=config_for(imap_server), handler=store).handled == 2
    assert stored() == ids(range(1, 8))


def test_batches_by_count_and_by_size_keep_uid_order(imap_server):
    imap_server.append([reply(n, size=40_000 if n % 3 == 0 else 3_000) for n in range(1, 12)])
    done = []

    result = mailbox_fetch(
        config=config_for(imap_server),
        handler=store,
        batch_size=4,
        max_batch_bytes=50_000,
        progress=lambda result, n: done.append(n),
    )

    assert (result.total, result.handled, result.marked) == (11, 11, 11)
    assert stored() == ids(range(1, 12))
    assert done == list(range(1, 12))
    assert imap_server.folder("INBOX") == []


def test_without_a_processed_folder_messages_are_flagged_seen_and_left_in_place(imap_server):
    imap_server.append([reply(1), reply(2)])
    config = config_for(imap_server, processed_folder="")

    assert mailbox_fetch(config=config, handler=store).handled == 2
    assert mailbox_fetch(config=config, handler=store).handled == 0  # the last UID read, not the flag, decides

    imap = imap_server.client()
    imap.select("INBOX", readonly=True)
    _, seen = imap.uid("SEARCH", "SEEN")
    _, folders = imap.list()
    imap.logout()
    assert seen == [b"1 2"]
    assert not any(b"Processed" in line for line in folders)
    assert stored() == ids([1, 2])


def test_a_message_the_handler_raises_on_is_recorded_left_and_retried_never_blocking_the_rest(imap_server):
    imap_server.append([reply(1), reply(2, subject="poison"), reply(3)])
    broken = {"on": True}

    def handler(raw: bytes, *, via: str) -> None:
        store(raw, via=via)  # written, then rolled back with the failure
        if broken["on"] and b"Subject: poison" in raw:
            raise ValueError("cannot parse this one")

    config = config_for(imap_server)
    first = mailbox_fetch(config=config, handler=handler, max_attempts=3)

    assert (first.handled, first.failed, first.marked) == (2, 1, 2)
    assert stored() == ids([1, 3])
    assert [m.split(b"Message-ID: ")[1][:19] for m in imap_server.folder("INBOX")] == [b"<reply-2@example.ne"]
    failure = ImapFailure.objects.get()
    assert (failure.uid, failure.attempts, failure.message_id, failure.subject) == (
        2,
        1,
        "<reply-2@example.net>",
        "poison",
    )
    assert failure.error == "ValueError: cannot parse this one"

    # The next run tries it again (and only it); after max_attempts it is left alone.
    imap_server.append([reply(4)])
    second = mailbox_fetch(config=config, handler=handler, max_attempts=3)
    assert (second.total, second.handled, second.failed) == (2, 1, 1)
    assert ImapFailure.objects.get().attempts == 2
    assert mailbox_fetch(config=config, handler=handler, max_attempts=3).failed == 1
    given_up = mailbox_fetch(config=config, handler=handler, max_attempts=3)
    assert (given_up.total, given_up.given_up, ImapFailure.objects.get().attempts) == (0, 1, 3)
    assert stored() == ids([1, 3, 4])

    # Mended (a higher limit, a fixed handler): handled, moved, its failure forgotten.
    broken["on"] = False
    mended = mailbox_fetch(config=config, handler=handler, max_attempts=5)
    assert (mended.handled, mended.failed) == (1, 0)
    assert stored() == ids([1, 3, 4, 2])
    assert ImapFailure.objects.count() == 0
    assert imap_server.folder("INBOX") == []


def test_a_failed_message_someone_removed_from_the_folder_is_forgotten(imap_server):
    imap_server.append([reply(1, subject="poison")])

    def handler(raw, *, via):
        raise ValueError("no")

    mailbox_fetch(config=config_for(imap_server), handler=handler)
    imap = imap_server.client()
    imap.select("INBOX")
    imap.uid("STORE", "1", "+FLAGS", r"(\Deleted)")
    imap.expunge()
    imap.logout()

    assert mailbox_fetch(config=config_for(imap_server), handler=store) == FetchResult(total=1)
    assert ImapFailure.objects.count() == 0


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_the_server_gone_mid_fetch_ends_the_run_clearly_and_the_next_run_gets_the_rest_once(imap_server, how):
    """Dovecot killed (SIGKILL to every process) or shut down while a batch is being handled:
    the run ends with a one-line error; what it handled stays handled; after a restart the
    next run moves what was handled but not moved, and reads the rest, each exactly once."""
    imap_server.append([reply(n) for n in range(1, 36)])
    seen = []

    def handler(raw: bytes, *, via: str) -> None:
        store(raw, via=via)
        seen.append(raw)
        if len(seen) == 15:
            getattr(imap_server, how)()

    config = config_for(imap_server)
    with pytest.raises(ImapError) as stopped:
        mailbox_fetch(config=config, handler=handler, batch_size=10)

    message = str(stopped.value)
    assert message.startswith(f"The connection to the IMAP server 127.0.0.1:{imap_server.port} was lost") or (
        message == f"The IMAP server 127.0.0.1:{imap_server.port} refused MOVE: "
    ), message
    assert "\n" not in message
    # Messages 11-20 were fetched before the server went: all handled, none moved.
    assert stored() == ids(range(1, 21))
    mailbox = ImapMailbox.objects.get()
    assert (mailbox.last_uid, mailbox.last_error, mailbox.lease_owner) == (20, message, "")

    imap_server.start()
    result = mailbox_fetch(config=config, handler=store, batch_size=10)

    assert (result.marked, result.handled, result.total) == (25, 15, 15)
    assert stored() == ids(range(1, 36))  # each once, in order
    assert imap_server.folder("INBOX") == []
    assert len(imap_server.folder("Processed")) == 35
    assert ImapMailbox.objects.get().last_error == ""


def test_the_server_down_before_the_run_is_a_clear_error(imap_server):
    imap_server.stop()
    with pytest.raises(ImapError) as refused:
        mailbox_fetch(config=config_for(imap_server), handler=store)
    assert str(refused.value) == (
        f"The IMAP server 127.0.0.1:{imap_server.port} refused the connection (is that the right port?)"
    )


def test_wrong_credentials_are_a_clear_error_and_read_nothing(imap_server):
    imap_server.append([reply(1)])
    config = ImapConfig.from_url(imap_server.url(password="wrong"), timeout=5)

    with pytest.raises(ImapError) as refused:
        mailbox_fetch(config=config, handler=store)

    assert str(refused.value) == (
        f"The IMAP server 127.0.0.1:{imap_server.port} refused the sign-in as {USER}: "
        "[AUTHENTICATIONFAILED] Authentication failed."
    )
    assert stored() == []
    assert ImapMailbox.objects.get().last_error == str(refused.value)
    assert len(imap_server.folder("INBOX")) == 1


def test_an_unknown_host_and_a_missing_folder_are_clear_errors(imap_server):
    with pytest.raises(ImapError, match=r"^Cannot find the IMAP server no-such-host\.invalid: "):
        mailbox_fetch(config=ImapConfig.from_url("imaps://u:p@no-such-host.invalid/INBOX"), handler=store)
    with pytest.raises(ImapError) as missing:
        mailbox_fetch(config=ImapConfig.from_url(imap_server.url(folder="Support")), handler=store)
    assert str(missing.value) == f"There is no folder 'Support' for {USER} on 127.0.0.1:{imap_server.port}"


def test_another_folder_is_read_when_the_url_names_it(imap_server):
    imap_server.append([reply(1)], folder="Support Desk")
    config = ImapConfig.from_url(imap_server.url(folder="Support Desk"), timeout=5)
    assert mailbox_fetch(config=config, handler=store).handled == 1
    assert imap_server.folder("Support Desk") == []


def test_two_runs_never_read_the_mailbox_at_once(imap_server):
    imap_server.append([reply(1), reply(2)])
    config = config_for(imap_server)
    second = []

    def handler(raw: bytes, *, via: str) -> None:
        store(raw, via=via)
        try:
            mailbox_fetch(config=config, handler=store)
        except MailboxBusy as exc:
            second.append(str(exc))

    assert mailbox_fetch(config=config, handler=handler).handled == 2
    assert len(second) == 2
    assert second[0].startswith(f"Another run is reading {config.key} (until ")
    assert stored() == ids([1, 2])


def test_a_lease_left_by_a_dead_run_is_taken_once_it_runs_out(imap_server):
    from django.utils import timezone

    imap_server.append([reply(1)])
    ImapMailbox.objects.create(
        key=config_for(imap_server).key, lease_owner="dead", lease_until=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert mailbox_fetch(config=config_for(imap_server), handler=store).handled == 1


def test_a_new_uidvalidity_reads_the_folder_from_its_start(imap_server):
    imap_server.append([reply(1), reply(2)])
    ImapMailbox.objects.create(key=config_for(imap_server).key, uidvalidity=1, last_uid=99)
    assert mailbox_fetch(config=config_for(imap_server), handler=store).handled == 2
    mailbox = ImapMailbox.objects.get()
    assert mailbox.uidvalidity != 1 and mailbox.last_uid == 2


@pytest.mark.parametrize("outage", ["database", "time limit"])
def test_a_database_outage_or_the_tasks_time_up_ends_the_run_without_blaming_the_message(imap_server, outage):
    from celery.exceptions import SoftTimeLimitExceeded
    from django.db import OperationalError

    imap_server.append([reply(1), reply(2)])
    error = {"database": OperationalError, "time limit": SoftTimeLimitExceeded}[outage]

    def handler(raw, *, via):
        store(raw, via=via)
        if b"reply-2" in raw:
            raise error("gone")

    with pytest.raises(error):
        mailbox_fetch(config=config_for(imap_server), handler=handler)
    assert ImapFailure.objects.count() == 0
    mailbox = ImapMailbox.objects.get()
    assert (mailbox.last_uid, mailbox.lease_owner) == (0, "")
    assert mailbox.last_error.startswith(f"{error.__name__}: ") and "gone" in mailbox.last_error
    assert stored() == []  # the group, message 1 with it, was rolled back
    assert mailbox_fetch(config=config_for(imap_server), handler=store).handled == 2
    assert stored() == ids([1, 2])


def test_the_handler_runs_in_the_transaction_that_records_the_message(imap_server):
    imap_server.append([reply(1)])
    inside = []

    def handler(raw, *, via):
        inside.append(transaction.get_connection().in_atomic_block)
        store(raw, via=via)

    mailbox_fetch(config=config_for(imap_server), handler=handler)
    assert inside == [True]


def test_imaps_and_starttls_with_a_trusted_certificate(imap_server_tls):
    server = imap_server_tls
    server.append([reply(1), reply(2)])
    imaps = ImapConfig.from_url(server.url(scheme="imaps"), cafile=server.cafile, timeout=5)
    assert (imaps.security, imaps.port) == ("tls", server.tls_port)
    assert mailbox_fetch(config=imaps, handler=store, batch_size=1).handled == 2

    server.append([reply(3)])
    starttls = ImapConfig.from_url(server.url(scheme="imap+starttls"), cafile=server.cafile, timeout=5)
    assert mailbox_fetch(config=starttls, handler=store).handled == 1
    assert stored() == ids([1, 2, 3])


def test_an_untrusted_certificate_is_refused_clearly(imap_server_tls):
    server = imap_server_tls
    with pytest.raises(ImapError) as untrusted:
        mailbox_fetch(config=ImapConfig.from_url(server.url(scheme="imaps"), timeout=5), handler=store)
    assert str(untrusted.value) == (
        f"The IMAP server 127.0.0.1:{server.tls_port}'s certificate is not trusted: self-signed certificate"
    )


def test_starttls_is_required_when_asked_for(imap_server):
    config = ImapConfig.from_url(imap_server.url(scheme="imap+starttls"), timeout=5)
    with pytest.raises(ImapError) as refused:
        mailbox_fetch(config=config, handler=store)
    assert str(refused.value) == (
        f"The IMAP server 127.0.0.1:{imap_server.port} does not offer STARTTLS; use imaps:// (port 993)"
    )


def test_a_silent_server_times_out(db):
    """A port that accepts and never greets: the run gives up after the timeout."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ImapError) as silent:
            mailbox_fetch(config=ImapConfig.from_url(f"imap://u:p@127.0.0.1:{port}/", timeout=0.5), handler=store)
    assert str(silent.value) == f"The IMAP server 127.0.0.1:{port} did not answer within 0.5 s"
    assert time.monotonic() - started < 3


@pytest.mark.django_db(transaction=False)
def test_the_url_gives_each_part():
    config = ImapConfig.from_url("imaps://help%40acme.example:p%40ss%2Fw%20rd@imap.example.com/Support%20Inbox")
    assert (config.username, config.password, config.host, config.port, config.folder, config.security) == (
        "help@acme.example",
        "p@ss/w rd",
        "imap.example.com",
        993,
        "Support Inbox",
        "tls",
    )
    assert "p@ss" not in repr(config)
    assert ImapConfig.from_url("imap+starttls://u:p@h").port == 143
    assert ImapConfig.from_url("imap://u:p@h:1143").folder == "INBOX"
    for url, error in [
        ("pop3://u:p@h/", "The IMAP URL must start with imaps://, imap+starttls:// or imap://, not 'pop3'"),
        ("imaps://h/INBOX", "The IMAP URL needs a user and a password: imaps://user:password@host/INBOX"),
        ("imaps://u:p@h:x/", "The IMAP URL's port is not a number"),
        ("imaps://u:p@h/Processed", "The processed folder must not be the folder read ('Processed')"),
    ]:
        with pytest.raises(ImapError) as bad:
            ImapConfig.from_url(url)
        assert str(bad.value) == error


def test_a_password_outside_ascii_signs_in(db):
    from messaging.tests.dovecot import DovecotServer
    from messaging.tests.imap_fixtures import _dovecot_or_skip

    _dovecot_or_skip()
    with DovecotServer(users={USER: "pässwörd", "other@example.com": PASSWORD}) as server:
        server.append([reply(1)])
        assert mailbox_fetch(config=config_for(server), handler=store).handled == 1


@pytest.mark.django_db(transaction=False)
def test_agents_see_the_mailbox_and_the_messages_that_failed_but_cannot_delete_them(login, client):
    mailbox = ImapMailbox.objects.create(key="support@acme.example@imap.example.com:993/INBOX", last_uid=7)
    ImapFailure.objects.create(mailbox=mailbox, uid=5, attempts=2, subject="Where is my parcel?", error="ValueError: x")
    login("Support agent")

    listing = client.get("/admin/messaging/imapmailbox/")
    page = client.get(f"/admin/messaging/imapmailbox/{mailbox.pk}/change/")

    assert listing.status_code == 200 and "support@acme.example@imap.example.com:993/INBOX" in listing.text
    assert page.status_code == 200
    assert "Where is my parcel?" in page.text and "ValueError: x" in page.text
    assert client.post(f"/admin/messaging/imapmailbox/{mailbox.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ImapFailure.objects.count() == 1


@pytest.mark.django_db(transaction=False)
def test_without_dovecot_the_imap_tests_skip_saying_why_except_under_ci_where_they_fail(monkeypatch):
    from messaging.tests import imap_fixtures

    monkeypatch.setattr(imap_fixtures, "dovecot_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"needs Dovecot \(apt install dovecot-imapd\)"):
        imap_fixtures._dovecot_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"^Dovecot is missing under CI=true"):
        imap_fixtures._dovecot_or_skip()
