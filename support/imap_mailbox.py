"""The support mailbox over IMAP: the settings (``SUPPORT_IMAP_*``) turned into a run of
``messaging.imap.mailbox_fetch`` with the support desk's handler for one email.

The handler is ``SUPPORT_IMAP_HANDLER`` (``support.inbound.inbound_receive``: matching the
email to its ticket, trimming, attachments, auto-replies), imported when a fetch runs, or
the one a caller passes. ``manage.py fetch_support_mail`` and the periodic task
``support.tasks.fetch_support_mail`` both come here.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from messaging.imap import FetchResult, Handler, ImapConfig, ImapError, Progress, mailbox_fetch


def support_imap_config() -> ImapConfig | None:
    """The support mailbox from ``SUPPORT_IMAP_URL``, or None when it is not set."""
    if not settings.SUPPORT_IMAP_URL:
        return None
    return ImapConfig.from_url(
        settings.SUPPORT_IMAP_URL,
        processed_folder=settings.SUPPORT_IMAP_PROCESSED_FOLDER,
        timeout=settings.SUPPORT_IMAP_TIMEOUT,
        cafile=settings.SUPPORT_IMAP_CA_FILE,
    )


def support_mail_handler() -> Handler:
    path = settings.SUPPORT_IMAP_HANDLER
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImapError(f"The inbound email handler {path} cannot be imported: {exc}") from None


def support_mail_fetch(
    *,
    config: ImapConfig | None = None,
    handler: Handler | None = None,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> FetchResult:
    """Fetch the support mailbox once (``messaging.imap.mailbox_fetch``). Raises
    ``ImapError`` when it is not configured or cannot be read."""
    config = config or support_imap_config()
    if config is None:
        raise ImapError("No support mailbox: set SUPPORT_IMAP_URL (e.g. imaps://user:password@host:993/INBOX)")
    return mailbox_fetch(
        config=config,
        handler=handler or support_mail_handler(),
        batch_size=settings.SUPPORT_IMAP_BATCH_SIZE,
        max_attempts=settings.SUPPORT_IMAP_MAX_ATTEMPTS,
        deadline=deadline,
        progress=progress,
    )
