"""One-click unsubscribe (RFC 8058) for marketing messages: the link and its headers (what a
click does is ``messaging.consent.unsubscribe_via_message``).

Every marketing message carries an "Unsubscribe" link in its footer (HTML and text) and
``List-Unsubscribe: <https://…/u/<token>>`` (and a
``mailto:`` when ``UNSUBSCRIBE_MAILTO`` is set) and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``. The mail client POSTs to the URL when the person presses its
"Unsubscribe" button; a person who follows the link gets a page with a button.

The token is the message's Message-ID signed with ``SECRET_KEY`` and a salt of its own (so
no other signed token of the CRM is one). The Message-ID is an HMAC of the message's key,
so the link names nothing guessable, and a token cannot be made for another message. It
does not expire: people unsubscribe from mail months old, and mailbox providers expect the
link of any message still in the inbox to work.
"""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

from messaging.models import Message, MessageKind

SALT = "messaging.unsubscribe"


class UnsubscribeLinkError(Exception):
    """A token that was tampered with, or names no message."""


def unsubscribe_token(message: Message) -> str:
    return signing.dumps(message.message_id, salt=SALT, compress=False)


def unsubscribe_url(message: Message) -> str:
    path = reverse("messaging-unsubscribe", args=[unsubscribe_token(message)])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def footer_unsubscribe_url(message: Message) -> str:
    """The link the body's footer prints: the same page as the header's, for a person who
    looks for it in the email rather than in their mail client; none in transactional mail."""
    return unsubscribe_url(message) if message.kind == MessageKind.MARKETING else ""


def list_unsubscribe_headers(message: Message) -> dict[str, str]:
    """The RFC 8058 headers of this message: none for a transactional one."""
    if message.kind != MessageKind.MARKETING:
        return {}
    targets = [f"<{unsubscribe_url(message)}>"]
    if settings.UNSUBSCRIBE_MAILTO:
        # The token in the subject lets whoever reads that mailbox tell which message it was.
        subject = quote(f"unsubscribe {unsubscribe_token(message)}")
        targets.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject={subject}>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def message_for_token(token: str) -> Message:
    """The message this unsubscribe token names; ``UnsubscribeLinkError`` if none."""
    try:
        message_id = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise UnsubscribeLinkError("This unsubscribe link is not valid.") from None
    message = Message.objects.select_related("shop").filter(message_id=message_id).first() if message_id else None
    if message is None or not isinstance(message_id, str):
        raise UnsubscribeLinkError("This unsubscribe link is not valid.")
    return message
