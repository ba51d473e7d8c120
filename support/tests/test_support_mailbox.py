"""The support mailbox over IMAP: ``manage.py fetch_support_mail`` and the periodic task,
against a real Dovecot (``imap_server``), with a handler that keeps what it is given (the
support desk's own, ``support.inbound.inbound_receive``, is the default)."""

import os
import subprocess
import sys
from email.message import EmailMessage
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery.schedules import schedule
from django.core.management import CommandError, call_command
from django.db import connection

from crm.models import ScheduledRun
from crm.scheduler import Entry, run_entry
from messaging.imap import ImapMailbox
from messaging.models import ImapFailure
from messaging.tests.dovecot import USER
from support.tasks import fetch_support_mail
from tests.live_worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent.parent
HANDLER = "support.tests.test_support_mailbox.keep"
received: list[bytes] = []


def keep(raw: bytes, *, via: str) -> None:
    """The handler these tests configure (``SUPPORT_IMAP_HANDLER``)."""
    if b"Subject: poison" in raw:
        raise ValueError("cannot read this one")
    received.append(raw)


@pytest.fixture(autouse=True)
def mailbox(settings, imap_server):
    received.clear()
    settings.SUPPORT_IMAP_URL = imap_server.url()
    settings.SUPPORT_IMAP_HANDLER = HANDLER
    settings.SUPPORT_IMAP_TIMEOUT = 5
    return imap_server


def reply(n: int, subject: str = "Re: Where is my order?") -> bytes:
    message = EmailMessage()
    message["From"] = "ann@example.net"
    message["To"] = "support@acme.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{n}@example.net>"
    message.set_content(f"Reply {n}")
    return message.as_bytes()


def test_the_command_fetches_with_a_progress_line_and_a_summary(mailbox):
    mailbox.append([reply(n) for n in range(1, 151)] + [reply(151, "poison")])
    out, err = StringIO(), StringIO()

    call_command("fetch_support_mail", stdout=out, stderr=err)

    assert out.getvalue().splitlines() == [
        "[..............................] 1/151 messages, 0 failed",
        "[###################...........] 100/151 messages, 0 failed",
        "[##############################] 151/151 messages, 1 failed",
        "Fetched 150 message(s).",
    ]
    assert err.getvalue() == "1 message(s) failed; they stay in the mailbox and are tried again next time.\n"
    assert len(received) == 150
    assert len(mailbox.folder("Processed")) == 150
    assert ImapFailure.objects.get().subject == "poison"


def test_a_wrong_password_or_host_is_one_clear_line_not_a_traceback(mailbox, settings):
    settings.SUPPORT_IMAP_URL = mailbox.url(password="wrong")
    with pytest.raises(CommandError) as refused:
        call_command("fetch_support_mail")
    assert str(refused.value) == (
        f"The IMAP server 127.0.0.1:{mailbox.port} refused the sign-in as {USER}: "
        "[AUTHENTICATIONFAILED] Authentication failed."
    )
    settings.SUPPORT_IMAP_URL = "imaps://u:p@no-such-host.invalid/INBOX"
    with pytest.raises(CommandError, match=r"^Cannot find the IMAP server no-such-host\.invalid: [^\n]+$"):
        call_command("fetch_support_mail")


def test_the_command_run_as_a_program_prints_one_line_for_a_mistyped_url():
    """What an operator sees: the error on one line and exit status 1, no traceback. (A URL
    the command cannot read: it fails before the database, which the program's run here
    does not have; the errors after connecting are the same ``CommandError``, above.)"""
    env = {
        **os.environ,
        "SUPPORT_IMAP_URL": "imap+ssl://u:p@imap.example.com/INBOX",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    if connection.vendor == "postgresql":  # the command's checks connect: to the test database
        url = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"settings.SUPPORT_IMAP_HANDLER = {HANDLER!r}; "
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'fetch_support_mail'])"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == (
        "CommandError: The IMAP URL must start with imaps://, imap+starttls:// or imap://, not 'imap+ssl'\n"
    )


def test_with_no_mailbox_or_no_handler_the_command_says_what_to_set(settings):
    settings.SUPPORT_IMAP_URL = ""
    with pytest.raises(CommandError, match=r"^No support mailbox: set SUPPORT_IMAP_URL "):
        call_command("fetch_support_mail")
    settings.SUPPORT_IMAP_URL = "imaps://u:p@h/INBOX"
    settings.SUPPORT_IMAP_HANDLER = "support.no_such_module.receive"
    with pytest.raises(CommandError, match=r"^The inbound email handler support.no_such_module.receive cannot be"):
        call_command("fetch_support_mail")


def test_the_periodic_task_fetches_when_a_mailbox_is_set_and_skips_when_not(mailbox, settings):
    mailbox.append([reply(1), reply(2)])

    assert fetch_support_mail.delay().get() == {
        "total": 2,
        "handled": 2,
        "failed": 0,
        "marked": 2,
        "given_up": 0,
        "remaining": 0,
    }
    assert len(received) == 2

    settings.SUPPORT_IMAP_URL = ""
    assert fetch_support_mail.delay().get() == {"skipped": "SUPPORT_IMAP_URL is not set"}


@pytest.mark.redis
def test_the_periodic_task_runs_on_a_real_worker(mailbox, worker):
    mailbox.append([reply(1), reply(2)])

    fetch_support_mail.delay()

    assert wait_for(lambda: len(received) == 2)
    assert wait_for(lambda: len(mailbox.folder("Processed")) == 2)
    assert ImapMailbox.objects.get().received == 2


def test_the_periodic_task_leaves_the_mailbox_to_a_run_already_reading_it(mailbox):
    from django.utils import timezone

    from support.imap_mailbox import support_imap_config

    mailbox.append([reply(1)])
    ImapMailbox.objects.create(
        key=support_imap_config().key, lease_owner="x", lease_until=timezone.now() + timezone.timedelta(minutes=1)
    )
    result = fetch_support_mail.delay().get()
    assert list(result) == ["busy"] and result["busy"].startswith("Another run is reading ")
    assert received == []


def test_the_in_process_scheduler_runs_the_fetch_and_records_a_failure_clearly(mailbox, settings):
    """The embedded default (``make demo``) runs the same entry in-process."""
    entry = Entry(name="fetch-support-mail", task="support.tasks.fetch_support_mail", schedule=schedule(60))
    mailbox.append([reply(1)])

    assert run_entry(entry).last_status == ScheduledRun.Status.OK
    assert len(received) == 1

    settings.SUPPORT_IMAP_URL = mailbox.url(password="wrong")
    run = run_entry(entry)
    assert run.last_status == ScheduledRun.Status.FAILED
    assert "refused the sign-in as support@example.com" in run.last_error


@pytest.mark.parametrize(("url", "scheduled"), [("imaps://u:p@imap.example.com/INBOX", True), ("", False)])
def test_the_fetch_is_scheduled_every_minute_only_when_a_mailbox_is_set(url, scheduled):
    env = {**os.environ, "SUPPORT_IMAP_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CELERY_BEAT_SCHEDULE.get('fetch-support-mail'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    expected = "{'task': 'support.tasks.fetch_support_mail', 'schedule': 60.0}" if scheduled else "None"
    assert out.stdout.strip() == expected
