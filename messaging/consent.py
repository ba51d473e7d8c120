"""Marketing consent on the email channel's side: an unsubscribe, and the double opt-in's
confirmation email and its confirmation.

Apart from ``messaging.unsubscribe`` (the link and headers), which the sender imports and
which therefore may not import ``messaging.services``.
"""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from customers.models import ConsentSource, CustomerIdentity
from customers.services.consent import consent_set
from messaging.models import Message, MessageKind, Suppression, SuppressionReason
from messaging.rendering import register_template
from messaging.services import message_id_for, message_queue, suppression_add
from messaging.unsubscribe import UnsubscribeLinkError, message_for_token

CONFIRM_SALT = "messaging.subscription-confirm"
# A confirmation link works this long; after it, the person subscribes again.
CONFIRM_MAX_AGE = timedelta(days=7)

register_template(
    "subscription_confirmation", "Double opt-in: asks the person to confirm their subscription to the shop's emails."
)


class ConfirmLinkError(Exception):
    """A confirmation token tampered with, expired, or naming no message."""


def unsubscribed(message: Message) -> bool:
    """Whether the address of this message is unsubscribed from its shop already."""
    return Suppression.objects.filter(
        address=message.to_email, reason=SuppressionReason.UNSUBSCRIBED, shop_id=message.shop_id
    ).exists()


def unsubscribe_via_message(message: Message, *, by_mail: bool = False) -> Suppression:
    """Unsubscribe the address of ``message`` from its shop's marketing, at once, in one
    transaction: an ``unsubscribed`` suppression (checked when every later message is sent)
    and, for the message's customer, that shop's marketing consent withdrawn, with a consent
    event (source: the unsubscribe link; ``by_mail``: its mailto). Repeating it changes
    nothing."""
    how = "mailto" if by_mail else "link"
    with transaction.atomic():
        already = unsubscribed(message)
        suppression = suppression_add(
            address=message.to_email,
            reason=SuppressionReason.UNSUBSCRIBED,
            shop_id=message.shop_id,
            detail=f"Unsubscribe {how} of message {message.pk}",
        )
        if message.customer_id is not None and message.shop_id is not None:
            consenting = CustomerIdentity.objects.filter(customer_id=message.customer_id, shop_id=message.shop_id)
            if not already or consenting.exclude(marketing_consent=False).exists():
                consent_set(
                    customer_id=message.customer_id,
                    shop_id=message.shop_id,
                    given=False,
                    source=ConsentSource.UNSUBSCRIBE_LINK,
                    shown_text=f"The List-Unsubscribe {how} of a marketing email.",
                )
    return suppression


_MAILTO_SUBJECT = re.compile(r"\bunsubscribe\s+(\S+)", re.IGNORECASE)


def unsubscribe_via_mail(subject: str) -> Suppression | None:
    """An email to ``UNSUBSCRIBE_MAILTO``, sent by a mail client's "Unsubscribe" for the
    ``mailto:`` of a message's List-Unsubscribe: its subject, "unsubscribe <token>", names the
    message (``messaging.unsubscribe``), whose address is unsubscribed as by the link. None if
    the subject names no message (someone wrote to the address by hand)."""
    found = _MAILTO_SUBJECT.search(subject or "")
    if found is None:
        return None
    try:
        message = message_for_token(found.group(1))
    except UnsubscribeLinkError:
        return None
    return unsubscribe_via_message(message, by_mail=True)


def unsubscribe_lift(*, address: str, shop_id: int) -> None:
    """Someone who unsubscribed from the shop subscribed again: their marketing goes again."""
    Suppression.objects.filter(
        address=address.strip().lower(), reason=SuppressionReason.UNSUBSCRIBED, shop_id=shop_id
    ).delete()


def confirm_url_for(message_id: str) -> str:
    token = signing.dumps(message_id, salt=CONFIRM_SALT, compress=False)
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{reverse('messaging-subscription-confirm', args=[token])}"


# At most one confirmation email per person and shop in this window: a form submitted again
# (or by a bot, to mail-bomb an address from the shop's domain) sends nothing more.
CONFIRM_EVERY = timedelta(minutes=10)


def subscription_confirmation_queue(
    *, customer_id: int, shop_id: int, source: str, shown_text: str, now: datetime | None = None
) -> Message:
    """Ask the customer to confirm their subscription to the shop (double opt-in), at most once
    per ``CONFIRM_EVERY``: the key names the window, so more requests in it (however many at
    once) queue nothing and return the window's message. What the person was shown is kept
    in the message, and written to the consent event when they confirm."""
    window = int((now or timezone.now()).timestamp() // CONFIRM_EVERY.total_seconds())
    key = f"subscription-confirm:{shop_id}:{customer_id}:{window}"
    return message_queue(
        key=key,
        template="subscription_confirmation",
        customer_id=customer_id,
        shop_id=shop_id,
        kind=MessageKind.TRANSACTIONAL,  # asked for by the person: it must reach them
        context={
            "confirm_url": confirm_url_for(message_id_for(key)),
            "subscription": {"source": source, "shown_text": shown_text},
        },
    )


def confirmation_for_token(token: str) -> Message:
    try:
        message_id = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.SignatureExpired:
        raise ConfirmLinkError("This confirmation link has expired. Please subscribe again.") from None
    except signing.BadSignature:
        raise ConfirmLinkError("This confirmation link is not valid.") from None
    message = (
        Message.objects.select_related("shop")
        .filter(message_id=message_id, template="subscription_confirmation")
        .first()
        if isinstance(message_id, str)
        else None
    )
    if message is None or message.customer_id is None or message.shop_id is None:
        raise ConfirmLinkError("This confirmation link is not valid.")
    return message


def subscription_confirmed(message: Message) -> bool:
    """Whether the customer of this confirmation email consents to its shop's marketing."""
    return CustomerIdentity.objects.filter(
        customer_id=message.customer_id, shop_id=message.shop_id, marketing_consent=True
    ).exists()


def subscription_confirm(message: Message) -> bool:
    """The person confirmed: consent given (source: double opt-in, with what they were shown
    when they subscribed), and an earlier unsubscribe lifted. True if it changed anything."""
    assert message.customer_id is not None and message.shop_id is not None
    shown = (message.context.get("subscription") or {}).get("shown_text", "")
    with transaction.atomic():
        unsubscribe_lift(address=message.to_email, shop_id=message.shop_id)
        return consent_set(
            customer_id=message.customer_id,
            shop_id=message.shop_id,
            given=True,
            source=ConsentSource.DOUBLE_OPT_IN,
            shown_text=shown,
        )
