"""Writes and reads of marketing consent on the email channel's side: an unsubscribe.

Apart from ``messaging.unsubscribe`` (the link and headers), which the sender imports and
which therefore may not import ``messaging.services``.
"""

from django.db import transaction
from django.utils import timezone

from customers.models import ConsentEvent, ConsentSource, CustomerIdentity
from messaging.models import Message, Suppression, SuppressionReason
from messaging.services import suppression_add


def unsubscribed(message: Message) -> bool:
    """Whether the address of this message is unsubscribed from its shop already."""
    return Suppression.objects.filter(
        address=message.to_email, reason=SuppressionReason.UNSUBSCRIBED, shop_id=message.shop_id
    ).exists()


def unsubscribe_via_message(message: Message) -> Suppression:
    """Unsubscribe the address of ``message`` from its shop's marketing, at once, in one
    transaction: an ``unsubscribed`` suppression (checked when every later message is sent)
    and, for the message's customer, that shop's marketing consent withdrawn, with a consent
    event (source: the unsubscribe link). Repeating it changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        already = unsubscribed(message)
        suppression = suppression_add(
            address=message.to_email,
            reason=SuppressionReason.UNSUBSCRIBED,
            shop_id=message.shop_id,
            detail=f"Unsubscribe link of message {message.pk}",
        )
        if message.customer_id is not None and message.shop_id is not None:
            withdrawn = (
                CustomerIdentity.objects.filter(customer_id=message.customer_id, shop_id=message.shop_id)
                .exclude(marketing_consent=False)
                .update(marketing_consent=False, marketing_consent_at=now)
            )
            if withdrawn or not already:
                ConsentEvent.objects.create(
                    customer_id=message.customer_id,
                    shop_id=message.shop_id,
                    given=False,
                    at=now,
                    source=ConsentSource.UNSUBSCRIBE_LINK,
                    shown_text="The List-Unsubscribe link of a marketing email.",
                )
    return suppression
