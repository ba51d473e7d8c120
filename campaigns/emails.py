"""Sending one email (a campaign's, or a flow step's) to customers: draw, record, queue.

``email_send`` is what campaigns and flows call with the customers who may get the email
now (their audience, consent, suppression and frequency cap are the caller's business). For
each it draws the variant or the holdout (``campaigns.experiments.assignment``), queues the
message of the drawn variant through ``messaging`` and records the ``Send``, all in the
caller's transaction. A (email, customer, occasion) sent before is left as it was, so a
retried pass sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from campaigns.experiments.assignment import HOLDOUT, assign
from campaigns.models import Email, Send, Variant
from messaging.authored import AUTHORED
from messaging.models import MessageKind
from messaging.services import MessageRequest, messages_queue

# Messages queued per insert: bounds the memory of a 100,000-customer campaign.
BATCH = 5_000


@dataclass(frozen=True)
class SendResult:
    queued: int  # messages queued now
    held_out: int  # customers drawn into the holdout now
    already: int  # customers this email reached on this occasion before


def send_key(email_id: int, customer_id: int, occasion: str = "") -> str:
    """The message key of one send: what it is for and for whom, so messaging sends it once."""
    return f"email:{email_id}:{occasion}:{customer_id}" if occasion else f"email:{email_id}:{customer_id}"


def authored_context(variant: Variant) -> dict[str, str]:
    return {"subject": variant.subject, "preheader": variant.preheader, "body": variant.body}


def arms_draw(email: Email, variants: Sequence[Variant], customer_ids: np.ndarray) -> np.ndarray:
    """The arm of each customer: an index into ``variants``, or ``HOLDOUT``."""
    return assign(
        customer_ids,
        salt=f"email:{email.pk}",
        weights=[v.weight for v in variants],
        holdout_share=email.holdout_percent / 100,
    )


def email_send(
    *,
    email: Email,
    customer_ids: Sequence[int],
    occasion: str | Mapping[int, str] = "",
    now: datetime | None = None,
    context: Mapping[str, Any] | None = None,
    only_variant: Variant | None = None,
    contexts: Mapping[int, Mapping[str, Any]] | None = None,
) -> SendResult:
    """Draw, queue and record ``email`` for these customers (see the module's docstring).

    ``occasion`` is one for all, or one per customer id (a flow: each customer's run);
    ``contexts`` adds to ``context`` per customer id (a flow: the order's review link).
    ``only_variant``: every customer not drawn into the holdout gets this variant (a
    campaign's automatic winner, sent to the rest after the test). The holdout is drawn as
    always, so it is the same customers whichever variants are in play."""
    occasion_of = occasion.get if isinstance(occasion, Mapping) else (lambda _cid, _o=occasion: _o)
    now = now or timezone.now()
    variants = [only_variant] if only_variant is not None else list(email.variants.order_by("id"))
    if not variants:
        raise ValueError(f"The email {email} has no variant to send.")
    queued = held_out = already = 0
    ids = np.unique(np.asarray(list(customer_ids), dtype=np.int64))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        with transaction.atomic():
            sent = Send.objects.filter(email=email, customer_id__in=batch.tolist())
            if not isinstance(occasion, Mapping):  # per customer: their few sends of it, compared below
                sent = sent.filter(occasion=occasion)
            done = {c for c, o in sent.values_list("customer_id", "occasion") if o == occasion_of(c)}
            fresh = np.array([c for c in batch.tolist() if c not in done], dtype=np.int64)
            already += len(done)
            if not len(fresh):
                continue
            arms = arms_draw(email, variants, fresh)
            requests = [
                MessageRequest(
                    key=send_key(email.pk, int(customer_id), occasion_of(int(customer_id))),
                    template=AUTHORED,
                    customer_id=int(customer_id),
                    shop_id=email.shop_id,
                    kind=MessageKind.MARKETING,
                    context={
                        **(context or {}),
                        **((contexts or {}).get(int(customer_id)) or {}),
                        AUTHORED: authored_context(variants[arm]),
                    },
                )
                for customer_id, arm in zip(fresh.tolist(), arms.tolist(), strict=True)
                if arm != HOLDOUT
            ]
            messages = {m.customer_id: m.pk for m in messages_queue(requests, now=now)}
            Send.objects.bulk_create(
                [
                    Send(
                        email=email,
                        variant=None if arm == HOLDOUT else variants[arm],
                        customer_id=int(customer_id),
                        occasion=occasion_of(int(customer_id)),
                        message_id=messages.get(int(customer_id)),
                        assigned_at=now,
                    )
                    for customer_id, arm in zip(fresh.tolist(), arms.tolist(), strict=True)
                ],
                ignore_conflicts=True,
            )
            queued += len(requests)
            held_out += len(fresh) - len(requests)
    return SendResult(queued=queued, held_out=held_out, already=already)
