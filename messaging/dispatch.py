"""When queued messages are sent: soon after they commit, and by the periodic safety net.

``send_kick`` runs when a transaction that queued messages commits: with a broker it queues
one ``send_queued_email`` task, so a campaign's ten thousand messages cost one task, not ten
thousand; on the embedded default it sends in-process (``core.kicks``).

Nothing is lost if the kick is: the messages are in the database, and beat (or the
in-process scheduler) runs ``send_queued_email`` every 30 s, which also sends the messages
whose retry is due.
"""

import logging

from core.kicks import Kick
from messaging.sending import messages_send_for

logger = logging.getLogger(__name__)

SEND_SECONDS = 60  # one task sends this long at most, then hands over to a new one

send_kick = Kick(
    flag="messaging:send-queued",
    task="messaging.tasks.send_queued_email",
    seconds=SEND_SECONDS,
    run=lambda: messages_send_for(seconds=SEND_SECONDS),
    log=logger,
)
