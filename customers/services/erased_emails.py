"""Erased addresses, as keyed hashes: recorded at erasure, and read by ingestion so that an
erased address is never subscribed to marketing again by a shop's payload or an import.

The hash is an HMAC keyed by ``ERASED_EMAIL_KEY`` (by default the ``SECRET_KEY``): a plain
hash of an address can be reversed by hashing a list of known addresses, a keyed one only
with the key. Rotating the key forgets the list (docs/privacy.md)."""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.utils.crypto import salted_hmac

from customers.models import ErasedEmail


def email_hash(normalized: str) -> str:
    secret = settings.ERASED_EMAIL_KEY or None
    return salted_hmac("customers.erased-email", normalized, secret=secret, algorithm="sha256").hexdigest()


def erased_emails_record(normalized: Iterable[str], *, now: datetime) -> None:
    rows = [ErasedEmail(email_hash=email_hash(e), erased_at=now) for e in set(normalized) if e]
    ErasedEmail.objects.bulk_create(rows, ignore_conflicts=True)


def erased_among(normalized: Iterable[str]) -> set[str]:
    """Those of the (normalised) addresses that were erased; one query."""
    by_hash = {email_hash(e): e for e in normalized if e}
    if not by_hash:
        return set()
    found = ErasedEmail.objects.filter(email_hash__in=list(by_hash)).values_list("email_hash", flat=True)
    return {by_hash[h] for h in found}
