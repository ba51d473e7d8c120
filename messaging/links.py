"""Click and open tracking for marketing messages: signed redirects, the CRM's UTM
parameters, and an open pixel.

When a marketing message is rendered for sending, every http(s) link in its HTML (but the
CRM's own, such as the unsubscribe link) becomes ``/e/c/<token>``. The token signs the
message's id and the destination with ``SECRET_KEY`` and a salt of its own
(``django.core.signing``), so the redirect goes only where the message's author pointed: a
token that was altered, or made up, is a 400 and never a redirect (no open redirect).

The destination gets the CRM's UTM parameters (``utm_source=crm``, ``utm_medium=email``,
``utm_campaign=<the message's source key>``, e.g. ``email:12``) unless the author set them,
so an order placed after the click carries them (campaigns/attribution/).

A GET records a ``clicked`` event once per (message, link); a HEAD (link checkers, mail
scanners' probes) redirects and records nothing. The open pixel ``/e/o/<token>.gif`` records
``opened`` once per message; the providers' webhooks report opens too, and opens are never
used to pick a winner (Apple Mail Privacy Protection opens everything). Either moves the
message's status as a provider's event does (``messaging.statuses``): forward only, so a
clicked message stays clicked after a later open, and a bounced one stays bounced.
"""

from __future__ import annotations

import hashlib
import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from messaging.models import Message, MessageEvent, MessageKind, MessageStatus
from messaging.statuses import messages_status_forward

CLICK_SALT = "messaging.click"
OPEN_SALT = "messaging.open"
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
UTM = {"utm_source": "crm", "utm_medium": "email"}


class TrackingLinkError(Exception):
    """A token that was altered or names no link of ours."""


def source_key(message_key: str) -> str:
    """What the message belongs to, from its key's first two parts ("email:12:…" → "email:12")."""
    return ":".join(message_key.split(":")[:2])


def with_utm(url: str, campaign: str) -> str:
    """``url`` with the CRM's UTM parameters added (those the author set are kept)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    query += [(k, v) for k, v in {**UTM, "utm_campaign": campaign}.items() if k not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _public(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def click_url(message: Message, url: str) -> str:
    token = signing.dumps({"m": message.pk, "u": url}, salt=CLICK_SALT, compress=True)
    return _public(reverse("messaging-click", args=[token]))


def open_url(message: Message) -> str:
    token = signing.dumps(message.pk, salt=OPEN_SALT)
    return _public(reverse("messaging-open", args=[token]))


def _trackable(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https") and not url.startswith(settings.PUBLIC_BASE_URL.rstrip("/"))


def track_html(message: Message, body: str) -> str:
    """The HTML of a marketing message with its links tracked and the open pixel; other
    messages' unchanged."""
    if message.kind != MessageKind.MARKETING or not message.pk:
        return body
    campaign = source_key(message.key)

    def rewrite(match: re.Match) -> str:
        url = html.unescape(match.group(3)).strip()
        if not _trackable(url):
            return match.group(0)
        tracked = click_url(message, with_utm(url, campaign))
        return f"{match.group(1)}{match.group(2)}{html.escape(tracked)}{match.group(2)}"

    body = _HREF.sub(rewrite, body)
    pixel = f'<img src="{html.escape(open_url(message))}" width="1" height="1" alt="" style="display:block">'
    close = body.lower().rfind("</body>")
    return body[:close] + pixel + body[close:] if close >= 0 else body + pixel


# A web address in the plain-text part, as inscriptis writes links ("[label](url)") or as a
# bare address: up to whitespace or a closing bracket.
_TEXT_URL = re.compile(r"https?://[^\s<>()\[\]\"']+")


def track_text(message: Message, text: str) -> str:
    """The plain-text part of a marketing message with its links tracked as the HTML's are
    (a reader of the text part clicks through the same redirect, and the order gets the
    UTM); other messages' unchanged."""
    if message.kind != MessageKind.MARKETING or not message.pk:
        return text
    campaign = source_key(message.key)

    def rewrite(match: re.Match) -> str:
        found = match.group(0)
        url = found.rstrip(".,;:!?")  # the sentence's full stop is not the address's
        if not _trackable(url):
            return found
        return click_url(message, with_utm(url, campaign)) + found[len(url) :]

    return _TEXT_URL.sub(rewrite, text)


def click_target(token: str) -> tuple[int, str]:
    """The message id and the destination a click token names; ``TrackingLinkError`` if
    it was altered or the destination is not an http(s) address."""
    try:
        value = signing.loads(token, salt=CLICK_SALT)
    except signing.BadSignature:
        raise TrackingLinkError("This link is not valid.") from None
    if not isinstance(value, dict) or not isinstance(value.get("m"), int) or not isinstance(value.get("u"), str):
        raise TrackingLinkError("This link is not valid.")
    if urlsplit(value["u"]).scheme not in ("http", "https"):
        raise TrackingLinkError("This link is not valid.")
    return value["m"], value["u"]


def open_target(token: str) -> int:
    try:
        value = signing.loads(token, salt=OPEN_SALT)
    except signing.BadSignature:
        raise TrackingLinkError("This link is not valid.") from None
    if not isinstance(value, int):
        raise TrackingLinkError("This link is not valid.")
    return value


def _record(message_id: int, status: str, key: str, detail: str = "") -> bool:
    """One event per (message, key), and the message's status moved forward to ``status``
    (never back); False when the message is gone."""
    with transaction.atomic():
        message = Message.objects.filter(pk=message_id).only("id", "status").first()
        if message is None:
            return False
        MessageEvent.objects.bulk_create(
            [
                MessageEvent(
                    message_id=message_id,
                    status=status,
                    at=timezone.now(),
                    detail=detail[:500],
                    provider_event="crm",
                    provider_event_key=hashlib.sha256(key.encode()).hexdigest(),
                )
            ],
            ignore_conflicts=True,
        )
        messages_status_forward([(message, status)])
    return True


def click_record(message_id: int, url: str) -> bool:
    return _record(message_id, MessageStatus.CLICKED, f"crm-click:{url}", detail=url)


def open_record(message_id: int) -> bool:
    return _record(message_id, MessageStatus.OPENED, "crm-open")
