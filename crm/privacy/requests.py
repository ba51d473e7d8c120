"""The privacy-request queue: requests opened (by a platform, the staff or a shop's key),
linked to their customer, answered with an export or an erasure, and closed."""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from crm.privacy.erasure import customer_erase
from crm.privacy.export import export_zip
from crm.privacy.matching import person_of
from crm.privacy.models import PRIVACY_DUE, ErasureLog, PrivacyRequest
from customers.models import ApiKey, Customer, CustomerIdentity, Shop
from customers.services.customers import normalize_email


def customer_found(*, shop: Shop | None, external_id: str = "", email: str = "") -> Customer | None:
    """The customer a request names: by the shop's own id for them, else by email."""
    if shop is not None and external_id:
        identity = CustomerIdentity.objects.filter(shop=shop, external_id=external_id).select_related("customer")
        if found := identity.first():
            return found.customer
    if normalized := normalize_email(email):
        return Customer.objects.filter(email_normalized=normalized).first()
    return None


def request_mismatches(*, customer: Customer, shop: Shop | None, external_id: str = "", email: str = "") -> dict:
    """{field: why} for what a request says of the person that is not the picked customer's:
    an address they were never known by, or a shop id that is someone else's. A request
    answered for the wrong customer would export or erase a stranger."""
    found = {}
    person = person_of(customer)
    if email and normalize_email(email) not in person.addresses:
        found["email"] = (
            f"{email} is not an address of the customer picked. Check that the request is theirs, "
            "or leave the customer empty to find them by this address."
        )
    if external_id:
        if shop is None:
            found["shop"] = "Pick the shop whose id for the customer this is."
        elif not CustomerIdentity.objects.filter(
            shop=shop, external_id=external_id, customer_id__in=person.customer_ids
        ).exists():
            found["customer_external_id"] = f"{shop} knows no customer {external_id} that is the customer picked."
    return found


def privacy_request_open(
    *,
    kind: str,
    source: str,
    shop: Shop | None = None,
    customer: Customer | None = None,
    customer_external_id: str = "",
    email: str = "",
    phone: str = "",
    order_external_ids: Sequence[str] = (),
    note: str = "",
    received_at: datetime | None = None,
    requested_by=None,
    api_key: ApiKey | None = None,
    **extra,
) -> PrivacyRequest:
    """A new open request, due a month after it arrived, linked to its customer where found."""
    received_at = received_at or timezone.now()
    customer = customer or customer_found(shop=shop, external_id=customer_external_id, email=email)
    return PrivacyRequest.objects.create(
        kind=kind,
        source=source,
        shop=shop,
        customer=customer,
        customer_external_id=customer_external_id,
        email=email,
        phone=phone,
        order_external_ids=list(order_external_ids),
        note=note,
        received_at=received_at,
        due_at=received_at + PRIVACY_DUE,
        requested_by=requested_by,
        api_key=api_key,
        **extra,
    )


class RequestClosed(DomainError):
    """The request was answered or closed already (perhaps a moment ago, by someone else)."""


def export_answered(
    *,
    customer: Customer,
    shop: Shop | None = None,
    ref: int | None = None,
    request: PrivacyRequest | None = None,
    user=None,
    api_key: ApiKey | None = None,
    now: datetime | None = None,
) -> bytes:
    """The customer's export, recorded as an answered data request (the audit trail: who
    exported whose data, when, through what). ``request``: the open data request it answers;
    without one (or for a request of another kind: an erasure is not answered by an export)
    the export is recorded as a data request of its own, answered at once."""
    now = now or timezone.now()
    made_by = user.get_username() if user else f"API key {api_key.prefix}" if api_key else "the system"
    data = export_zip(customer, shop=shop, ref=ref, made_at=now, made_by=made_by)
    answers = request if request is not None and request.kind == PrivacyRequest.Kind.DATA_REQUEST else None
    with transaction.atomic():
        if answers is None or answers.status != PrivacyRequest.Status.OPEN:
            source = PrivacyRequest.Source.API if api_key else PrivacyRequest.Source.STAFF
            answers = privacy_request_open(
                kind=PrivacyRequest.Kind.DATA_REQUEST,
                source=source,
                shop=shop,
                customer=customer,
                received_at=now,
                requested_by=user,
                api_key=api_key,
                note=f"Exported while answering request #{request.pk}." if request is not None else "",
            )
        _completed(answers, PrivacyRequest.Status.DONE, user, now, customer=customer)
    return data


def _locked_open(request: PrivacyRequest) -> PrivacyRequest:
    """The request, locked, if still open; two staff answering at once answer it once."""
    current = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
    if current.status != PrivacyRequest.Status.OPEN:
        raise RequestClosed(f"Request #{request.pk} is {current.get_status_display()} already.", field="status")
    return current


def _completed(request: PrivacyRequest, status: str, user, now: datetime, **fields) -> None:
    """Closed through save(), so the audit log records who closed it and how."""
    for name, value in {"status": status, "completed_at": now, "completed_by": user, **fields}.items():
        setattr(request, name, value)
    request.save()


def erasure_answered(*, request: PrivacyRequest, user=None) -> ErasureLog:
    """Erase the customer of an open erasure request, and close it: once, however many
    times it is sent."""
    if request.kind != PrivacyRequest.Kind.CUSTOMER_REDACT:
        raise DomainError("Only an erasure request is answered by an erasure.", field="kind")
    with transaction.atomic():
        current = _locked_open(request)
        if current.customer_id is None:
            raise DomainError("Link the request to its customer first.", field="customer")
        log = customer_erase(customer_id=current.customer_id, user=user, request=current)
        current.refresh_from_db()
        _completed(current, PrivacyRequest.Status.DONE, user, log.erased_at)
    return log


def privacy_request_close(*, request: PrivacyRequest, status: str, user=None, note: str = "") -> None:
    """Closed without an export or erasure by the CRM: answered by other means (done), or
    refused. Either needs a note saying how, or why not."""
    note = note.strip()
    if not note:
        raise DomainError("Say how the request was answered, or why it is refused.", field="note")
    if status not in (PrivacyRequest.Status.DONE, PrivacyRequest.Status.REFUSED):
        raise DomainError("Close a request as done or refused.", field="status")
    with transaction.atomic():
        current = _locked_open(request)
        if current.erasing_since is not None:
            raise DomainError("The shop's data is being erased: the request closes itself when it is done.")
        current.note = f"{current.note}\n{note}".strip()
        _completed(current, status, user, timezone.now())
