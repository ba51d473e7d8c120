"""Writes that belong to the composition layer itself."""

from datetime import timedelta

from django.utils import timezone

from core.errors import DomainError
from crm.models import CustomerNote, IdempotencyRecord
from customers.models import Customer, Tag

MAX_NOTE = 10_000

# How long a stored response answers a retry with the same Idempotency-Key.
IDEMPOTENCY_TTL = timedelta(hours=24)


def idempotency_records_purge(*, older_than: timedelta = IDEMPOTENCY_TTL) -> int:
    """Delete stored responses past their time; returns how many. One DELETE on an index."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def customer_note_add(*, customer: Customer, body: str, user) -> CustomerNote:
    """An internal note on the customer (plain text, shown escaped)."""
    body = body.strip()
    if not body:
        raise DomainError("Write the note first.", field="body")
    if len(body) > MAX_NOTE:
        raise DomainError(f"Ensure this field has no more than {MAX_NOTE} characters.", field="body")
    return CustomerNote.objects.create(customer=customer, author=user, body=body, created_at=timezone.now())


def customer_tag_add(*, customer: Customer, name: str) -> Tag:
    """Tag the customer, creating the tag if it is new (names compared without case)."""
    name = " ".join(name.split())
    if not name:
        raise DomainError("Give the tag a name.", field="tag")
    if len(name) > Tag._meta.get_field("name").max_length:
        raise DomainError("Ensure this field has no more than 64 characters.", field="tag")
    tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.get_or_create(name=name)[0]
    customer.tags.add(tag)
    return tag
