import logging
import time
from dataclasses import asdict

from django.conf import settings

from core.task_policy import crm_task
from messaging.imap import MailboxBusy
from support.escalation import sla_sweep
from support.imap_mailbox import support_mail_fetch

logger = logging.getLogger(__name__)


@crm_task()
def sweep_sla() -> dict:
    result = asdict(sla_sweep())
    logger.info("SLA sweep: %s", result)
    return result


# A run of the periodic fetch stops taking new batches after this long; the next picks up.
FETCH_SECONDS = 60


@crm_task()
def fetch_support_mail() -> dict:
    """Every minute when ``SUPPORT_IMAP_URL`` is set (CELERY_BEAT_SCHEDULE, and the
    in-process scheduler): read the support mailbox. Two runs never read it at once (a
    lease on its ``ImapMailbox`` row): a run that finds it leased returns at once. A
    mailbox that cannot be read fails the task with the one-line reason (a wrong
    password, the server down); the next minute's run tries again."""
    if not settings.SUPPORT_IMAP_URL:
        return {"skipped": "SUPPORT_IMAP_URL is not set"}
    try:
        result = support_mail_fetch(deadline=time.monotonic() + FETCH_SECONDS)
    except MailboxBusy as exc:
        logger.info("%s", exc)
        return {"busy": str(exc)}
    logger.info("Support mailbox: %s", result)
    return asdict(result)
