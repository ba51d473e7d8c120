"""Erasure by pseudonymisation: every field marked ``ERASE`` on the customer's rows, in
every app, blanked in one transaction; the orders and every figure stay (docs/privacy.md).

Set-based: one UPDATE per model with personal fields, whatever the number of rows. The
customer keeps their id and their shops' ids for them, so aggregates, the points ledger and
the accounts keep adding up, and a later delivery from a shop finds the erased record
instead of making a new person.
"""

from datetime import datetime

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from core.personal_data import ERASED_TEXT, blank_for
from crm.privacy.marks import all_marks, customer_models, rows_of
from crm.privacy.matching import MATCHERS, Person, person_of
from crm.privacy.models import ErasureLog, PrivacyRequest
from crm.webhooks.events import customer_erased_record
from customers.models import Customer
from customers.services.erased_emails import erased_emails_record


def erased_values(model: type[models.Model], names: tuple[str, ...]) -> dict:
    """Each erased field's blank; text that was empty stays empty (no "[erased]" reply on a
    review that had none)."""
    blanks = {}
    for name in names:
        field = model._meta.get_field(name)
        if getattr(field, "generated", False):
            continue
        blank = blank_for(field)
        if blank == ERASED_TEXT:
            blank = Case(When(**{name: ""}, then=Value("")), default=Value(ERASED_TEXT), output_field=field)
        blanks[name] = blank
    return blanks


def _files(qs, model: type[models.Model], names: tuple[str, ...]) -> list[str]:
    """The stored files of ``qs``' erased file fields, to delete once the erasure commits."""
    file_fields = [n for n in names if isinstance(model._meta.get_field(n), models.FileField)]
    found: list[str] = []
    for name in file_fields:
        found.extend(f for f in qs.values_list(name, flat=True) if f)
    return found


def _audit_scrubbed(customer_ids: tuple[int, ...]) -> int:
    """The audit log's entries about the customer's rows keep who did what when, and lose
    the values (which were the personal data)."""
    scrubbed = 0
    for model, marks in customer_models():
        if not auditlog.contains(model):
            continue
        ids = [str(pk) for pk in rows_of(marks, customer_ids).values_list("pk", flat=True)]
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=True)
        for first in range(0, len(ids), 500):
            scrubbed += LogEntry.objects.filter(
                content_type=content_type, object_pk__in=ids[first : first + 500]
            ).update(changes=None, changes_text="", object_repr=ERASED_TEXT, serialized_data=None)
    return scrubbed


def _matched_erased(person: Person, counts: dict[str, int]) -> None:
    for label, matcher in MATCHERS.items():
        marks = all_marks()[label]
        qs = matcher.rows(person)
        if matcher.erasure == "delete":
            counts[label] = qs.delete()[0]
        else:
            model = qs.model
            counts[label] = model.objects.filter(pk__in=list(qs.values_list("pk", flat=True))).update(
                **erased_values(model, marks.erase)
            )


def customer_erase(
    *, customer_id: int, user=None, request: PrivacyRequest | None = None, now: datetime | None = None
) -> ErasureLog:
    """Erase the customer's personal data everywhere, and that of the duplicates merged into
    them (their rows keep a profile for an undo); record who did it and when."""
    now = now or timezone.now()
    files: list[str] = []
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        if request is not None and (done := ErasureLog.objects.filter(customer=customer, request=request).first()):
            return done  # erased for this request already (two runs of a shop's erasure)
        person = person_of(customer)
        if request is not None and request.kind == PrivacyRequest.Kind.CUSTOMER_REDACT:
            # Linked first, so that the request's own copy of the address is erased too.
            PrivacyRequest.objects.filter(pk=request.pk).update(customer=customer)
        counts: dict[str, int] = {}
        for model, marks in customer_models():
            blanks = erased_values(model, marks.erase) | marks.on_erase
            if not blanks:
                continue
            qs = rows_of(marks, person.customer_ids)
            files += _files(qs, model, marks.erase)
            counts[model._meta.label] = qs.update(**blanks)
        _matched_erased(person, counts)
        counts["auditlog.LogEntry"] = _audit_scrubbed(person.customer_ids)
        erased_emails_record(person.addresses, now=now)
        customer_erased_record(customer_id=customer.pk, shop_ids=person.shop_ids, now=now)
        log = ErasureLog.objects.create(
            customer=customer,
            request=request,
            erased_at=now,
            erased_by=user,
            rows={k: v for k, v in counts.items() if v},
        )
        # The stored files go inside the transaction, not after it: a process killed between
        # the commit and a later delete would leave the person's files behind with nothing to
        # say so. If the transaction fails after this, the rows still name the files, which
        # are gone; the erasure is run again and completes.
        for name in files:
            default_storage.delete(name)
    return log
