"""How a sent message's status moves as news of it arrives: forward only.

sent → delivered → opened → clicked, and a bounce or a complaint beyond them all (a late
"opened" does not undo a complaint; a bounce reported after a "delivered" wins). The news
comes from the providers' webhooks (``messaging.tracking``) and from the CRM's own tracked
links and open pixel (``messaging.links``); both move the status here, so they agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from messaging.models import Message, MessageStatus

# The order a message's status moves in. A status not listed (queued, sending: the sender's
# mark has not landed; suppressed: never sent) is left alone by what is heard of the message.
FORWARD = [
    MessageStatus.SENT,
    MessageStatus.FAILED,  # the provider took it, then refused to send it
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
    MessageStatus.BOUNCED,  # may come after a "delivered": the receiving server accepted, then bounced
    MessageStatus.COMPLAINED,  # the person saw it and pressed "spam": last word
]
RANK = {status: rank for rank, status in enumerate(FORWARD)}


def messages_status_forward(news: Iterable[tuple[Message, str]]) -> None:
    """Each message to the furthest status its news (``(message, status)`` pairs; the message
    as read, with its ``status``) reaches, if that is further than where it is, in one UPDATE
    whose WHERE names, for each target status, the statuses it may overwrite: a concurrent
    write that moved a message further is not undone, and one not yet marked sent is left."""
    target: dict[int, str] = {}
    for message, status in news:
        best = target.get(message.pk, message.status)
        if status in RANK and (best not in RANK or RANK[status] > RANK[best]):
            target[message.pk] = status
    by_status: dict[str, list[int]] = defaultdict(list)
    for pk, status in target.items():
        by_status[status].append(pk)
    if not by_status:
        return
    moves = [(status, sorted(pks), FORWARD[: RANK[status]]) for status, pks in sorted(by_status.items())]
    where = Q()
    for _, pks, behind in moves:
        where |= Q(pk__in=pks, status__in=behind)
    Message.objects.filter(where).update(
        status=Case(*(When(pk__in=pks, then=Value(status)) for status, pks, _ in moves), default=F("status")),
        updated_at=timezone.now(),
    )
