"""When queued messages are sent: soon after they commit, and by the periodic safety net.

``send_kick`` runs when a transaction that queued messages commits:
- with a broker, it queues one ``send_queued_email`` task unless one is queued already (a
  flag in the cache), so a campaign's ten thousand messages cost one task, not ten
  thousand; a task that takes a full batch queues one more, so a backlog spreads over the
  workers;
- on the embedded default (no broker), it sends in-process, one thread at a time.

Nothing is lost if the kick is: the messages are in the database, and beat (or the
in-process scheduler) runs ``send_queued_email`` every 30 s, which also sends the messages
whose retry is due.
"""

import logging
import threading

from celery import current_app
from django.core.cache import cache

from messaging.sending import messages_send_for

logger = logging.getLogger(__name__)

SEND_QUEUED = "messaging:send-queued"
SEND_TASK = "messaging.tasks.send_queued_email"
SEND_SECONDS = 60  # one task sends this long at most, then hands over to a new one


def send_kick() -> None:
    """Make sure queued messages are sent soon. Never raises: they are committed, and the
    periodic send is the safety net."""
    try:
        if current_app.conf.task_always_eager:
            _send_in_process()
        else:
            queue_send()
    except Exception:
        logger.warning("Queued email is left to the periodic send", exc_info=True)


def queue_send() -> None:
    """Queue one send task unless one is queued already. Sent by name: the tasks module
    imports this one."""
    if cache.add(SEND_QUEUED, 1, timeout=SEND_SECONDS):
        try:
            current_app.send_task(SEND_TASK)
        except Exception:
            cache.delete(SEND_QUEUED)
            raise


_lock = threading.Lock()
_requested = threading.Event()


def _send_in_process() -> None:
    """Send here unless another thread is sending; then that one goes round again, so a
    message committed while it finished is not left for the periodic send."""
    _requested.set()
    while _requested.is_set() and _lock.acquire(blocking=False):
        try:
            _requested.clear()
            messages_send_for(seconds=SEND_SECONDS)
        finally:
            _lock.release()
