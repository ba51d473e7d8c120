"""Signed links for customers who have no login: rating a solved ticket (CSAT) and
reviewing a fulfilled order's products.

A link carries the row's id signed with ``SECRET_KEY`` (Django's ``TimestampSigner``, a
salt per purpose, so a CSAT token is no review token) and expires after a set age.
Nothing is stored: the answer itself (one per ticket, one per product and order) is what
makes a link single-use.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

CSAT_SALT = "support.csat"
REVIEW_SALT = "support.review"


class LinkError(Exception):
    """A link that was tampered with, or has expired (``expired``)."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime


def _make(salt: str, pk: int, url_name: str, max_age: timedelta) -> Link:
    token = signing.dumps(pk, salt=salt, compress=False)
    path = reverse(url_name, args=[token])
    return Link(url=f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}", expires_at=timezone.now() + max_age)


def _read(salt: str, token: str, max_age: timedelta) -> int:
    try:
        value = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkError("This link has expired.", expired=True) from None
    except signing.BadSignature:
        raise LinkError("This link is not valid.") from None
    if not isinstance(value, int):
        raise LinkError("This link is not valid.")
    return value


def csat_link(ticket_id: int) -> Link:
    return _make(CSAT_SALT, ticket_id, "support-csat", settings.CSAT_LINK_MAX_AGE)


def csat_ticket_id(token: str) -> int:
    return _read(CSAT_SALT, token, settings.CSAT_LINK_MAX_AGE)


def review_link(order_id: int) -> Link:
    return _make(REVIEW_SALT, order_id, "support-review", settings.REVIEW_LINK_MAX_AGE)


def review_order_id(token: str) -> int:
    return _read(REVIEW_SALT, token, settings.REVIEW_LINK_MAX_AGE)
