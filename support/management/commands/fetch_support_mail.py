"""Fetch the support mailbox over IMAP now (what the periodic task does every minute)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.imap import FetchResult, ImapError
from support.imap_mailbox import support_mail_fetch


class Command(BaseCommand):
    help = (
        "Read new messages from the support mailbox (SUPPORT_IMAP_URL) and hand each to the support "
        "desk; handled messages are moved to SUPPORT_IMAP_PROCESSED_FOLDER. See docs/email.md."
    )

    def handle(self, **options):
        tty = self.stdout.isatty()
        shown = {"line": -1}

        def progress(result: FetchResult, done: int) -> None:
            # On a terminal, one line rewritten in place; in a log, a line every 100 messages.
            if tty:
                self.stdout.write(f"\r{self._line(result, done)}", ending="")
                self.stdout.flush()
            elif done // 100 > shown["line"] or done == result.total:
                shown["line"] = done // 100
                self.stdout.write(self._line(result, done))

        try:
            result = support_mail_fetch(progress=progress)
        except ImapError as exc:
            if tty and shown["line"] != -1:
                self.stdout.write("")
            raise CommandError(str(exc)) from None
        if tty and result.total:
            self.stdout.write("")
        summary = f"Fetched {result.handled} message(s)"
        if result.remaining:
            summary += f"; {result.remaining} left for the next run"
        self.stdout.write(summary + ".")
        if result.failed:
            self.stderr.write(
                f"{result.failed} message(s) failed; they stay in the mailbox and are tried again next time."
            )
        if result.given_up:
            self.stderr.write(
                f"{result.given_up} message(s) failed {settings.SUPPORT_IMAP_MAX_ATTEMPTS} times and are left alone "
                "in the mailbox (Email → IMAP mailboxes)."
            )

    @staticmethod
    def _line(result: FetchResult, done: int) -> str:
        width = 30
        filled = width * done // result.total if result.total else width
        bar = "#" * filled + "." * (width - filled)
        return f"[{bar}] {done}/{result.total} messages, {result.failed} failed"
