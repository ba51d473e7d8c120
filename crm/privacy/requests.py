"""The privacy-request queue: requests opened (by a platform, the staff or a shop's key),
linked to their customer, answered with an export or an erasure, and closed."""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crm.privacy.erasure import customer_erase
from crm.privacy.export import export_zip
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


def export_answered(
    *,
    customer: Customer,
    shop: Shop | None = None,
    request: PrivacyRequest | None = None,
    user=None,
    api_key: ApiKey | None = None,
    now: datetime | None = None,
) -> bytes:
    """The customer's export, recorded as an answered data request (the audit trail: who
    exported whose data, when, through what). ``request``: the open request it answers; none
    makes one, already answered."""
    now = now or timezone.now()
    made_by = user.get_username() if user else f"API key {api_key.prefix}" if api_key else "the system"
    data = export_zip(customer, shop=shop, made_at=now, made_by=made_by)
    with transaction.atomic():
        if request is None:
            source = PrivacyRequest.Source.API if api_key else PrivacyRequest.Source.STAFF
            request = privacy_request_open(
                kind=PrivacyRequest.Kind.DATA_REQUEST,
                source=source,
                shop=shop,
                customer=customer,
                received_at=now,
                requested_by=user,
                api_key=api_key,
            )
        PrivacyRequest.objects.filter(pk=request.pk).update(
            status=PrivacyRequest.Status.DONE, completed_at=now, completed_by=user, customer=customer
        )
    return data


def erasure_answered(*, request: PrivacyRequest, user=None) -> ErasureLog:
    if request.customer_id is None:
        raise ValueError("Link the request to its customer first.")
    return customer_erase(customer_id=request.customer_id, user=user, request=request)


def privacy_request_close(*, request: PrivacyRequest, status: str, user=None, note: str = "") -> None:
    """Closed without an export or erasure: done by other means, or refused (say why in the note)."""
    PrivacyRequest.objects.filter(pk=request.pk).update(
        status=status, completed_at=timezone.now(), completed_by=user, note=(request.note + "\n" + note).strip()
    )
