"""Answering a shop's erasure (Shopify's ``shop/redact``, 48 hours after a store uninstalls
the app): the shop's connection switched off, each customer known only to that shop
erased, and the shop's copy of the others blanked (docs/privacy.md).

A shop may have known thousands of people, so a manager starts it (``shop_redact_start``)
and the work runs in the background in steps (``shop_redact_continue``): a beat entry
resumes every started request each minute, so a worker killed or Redis down only delays
it. Each step erases a batch of customers through ``customer_erase`` (one transaction per
customer, each with its ``ErasureLog`` naming the request), so a step cut short loses
nothing and the next one skips whom it already erased. When no one is left, the shop's
identities of the customers other shops also know lose their personal fields, the shop's
raw deliveries are deleted, and the request is closed as done with what was done.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.errors import DomainError
from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.connectors.receive import connections_forget
from crm.privacy.erasure import customer_erase, erased_values
from crm.privacy.marks import all_marks, customer_models
from crm.privacy.models import ErasureLog, PrivacyRequest
from customers.models import ApiKey, Customer, CustomerIdentity, CustomerMerge, Order, Shop

BATCH = 50  # customers a step erases before it looks at the clock again
LEASE = timedelta(minutes=5)  # a run holds its request this long, unless it finishes sooner


def erased_shop_ids() -> QuerySet:
    """The shops whose data is erased or being erased: they know no one any more."""
    return PrivacyRequest.objects.filter(kind=PrivacyRequest.Kind.SHOP_REDACT, erasing_since__isnull=False).values(
        "shop_id"
    )


def _known_elsewhere(shop: Shop) -> Q:
    """Known to a shop other than ``shop`` whose data is not erased."""
    gone = Q(shop=shop) | Q(shop_id__in=erased_shop_ids())
    other_identity = CustomerIdentity.objects.filter(customer=OuterRef("pk")).exclude(gone)
    other_order = Order.objects.filter(customer=OuterRef("pk")).exclude(gone)
    return Q(Exists(other_identity)) | Q(Exists(other_order))


def _known_to(shop: Shop) -> Q:
    return Q(Exists(CustomerIdentity.objects.filter(customer=OuterRef("pk"), shop=shop))) | Q(
        Exists(Order.objects.filter(customer=OuterRef("pk"), shop=shop))
    )


def shop_only_customers(shop: Shop, *, request: PrivacyRequest | None = None) -> QuerySet[Customer]:
    """The customers the shop knows (an identity or an order there) whom no other shop with
    its data still knows; with ``request``, but those it has erased already. (Someone erased
    before and sent again by the shop since is erased again.)"""
    found = Customer.objects.filter(_known_to(shop)).exclude(_known_elsewhere(shop))
    if request is not None:
        found = found.exclude(Exists(ErasureLog.objects.filter(customer=OuterRef("pk"), request=request)))
    return found.order_by("pk")


@dataclass(frozen=True)
class ShopRedactPreview:
    erased: int  # customers known only to the shop, to be erased
    shared: int  # customers other shops know too: the shop's rows about them are blanked
    deliveries: int  # the shop's raw platform deliveries, deleted
    connections: int  # the shop's active connections, switched off
    keys: int  # the shop's API keys, revoked


def _kept_deliveries() -> QuerySet:
    """Deliveries a request came by keep their row (the request points at it), emptied."""
    return PrivacyRequest.objects.filter(delivery__isnull=False).values("delivery")


def shop_redact_preview(shop: Shop) -> ShopRedactPreview:
    return ShopRedactPreview(
        erased=shop_only_customers(shop).count(),
        shared=Customer.objects.filter(_known_to(shop)).filter(_known_elsewhere(shop)).count(),
        deliveries=WebhookDelivery.objects.filter(shop=shop).exclude(pk__in=_kept_deliveries()).count(),
        connections=ShopConnection.objects.filter(shop=shop, is_active=True).count(),
        keys=ApiKey.objects.filter(shop=shop, revoked_at__isnull=True).count(),
    )


def shop_redact_start(*, request: PrivacyRequest, user=None, now: datetime | None = None) -> PrivacyRequest:
    """Start answering an open ``shop/redact`` request: the shop's connections are switched
    off and its API keys revoked at once (nothing more comes in from that store), the
    erasure runs in the background."""
    if request.kind != PrivacyRequest.Kind.SHOP_REDACT:
        raise DomainError("Only a shop's erasure request erases a shop's data.", field="kind")
    now = now or timezone.now()
    with transaction.atomic():
        current = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
        if current.status != PrivacyRequest.Status.OPEN:
            raise DomainError(f"Request #{current.pk} is {current.get_status_display()} already.", field="status")
        if current.shop_id is None:
            raise DomainError("The request names no shop.", field="shop")
        if current.erasing_since is not None:
            raise DomainError(f"Request #{current.pk} is being answered already.", field="status")
        current.erasing_total = shop_only_customers(current.shop).count()
        current.erasing_since = now
        current.erasing_by = user
        current.save(update_fields=["erasing_since", "erasing_by", "erasing_total"])
        ShopConnection.objects.filter(shop_id=current.shop_id, is_active=True).update(is_active=False)
        ApiKey.objects.filter(shop_id=current.shop_id, revoked_at__isnull=True).update(revoked_at=now)
        transaction.on_commit(connections_forget)
    return current


def _claimed(request_id: int, now: datetime) -> bool:
    """Take the request for one run (two beat runs overlapping, or a run killed mid-way:
    the lease lapses and the next run goes on)."""
    return bool(
        PrivacyRequest.objects.filter(pk=request_id, status=PrivacyRequest.Status.OPEN, erasing_since__isnull=False)
        .filter(Q(erasing_lease_until__isnull=True) | Q(erasing_lease_until__lt=now))
        .update(erasing_lease_until=now + LEASE)
    )


def shop_redact_continue(*, request_id: int, seconds: float = 50.0, batch: int = BATCH) -> bool:
    """Erase the next customers of a started shop erasure, a batch at a time, until
    ``seconds`` have passed (one batch at least); close the request when no one is left.
    Returns True when the request is answered, False when work is left (or another run
    holds it)."""
    if not _claimed(request_id, timezone.now()):
        request = PrivacyRequest.objects.get(pk=request_id)
        return request.status != PrivacyRequest.Status.OPEN or request.erasing_since is None
    request = PrivacyRequest.objects.select_related("shop", "erasing_by").get(pk=request_id)
    deadline = time.monotonic() + seconds
    try:
        while True:
            customer_ids = list(shop_only_customers(request.shop, request=request).values_list("pk", flat=True)[:batch])
            if not customer_ids:
                _finish(request)
                return True
            for customer_id in customer_ids:
                customer_erase(customer_id=customer_id, user=request.erasing_by, request=request)
            if time.monotonic() >= deadline:
                return False
    finally:
        PrivacyRequest.objects.filter(pk=request_id).update(erasing_lease_until=None)


def shop_redacts_continue(*, seconds: float = 50.0) -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): the started shop erasures go on, sharing
    ``seconds`` between them. Returns the requests answered."""
    deadline = time.monotonic() + seconds
    started = PrivacyRequest.objects.filter(
        status=PrivacyRequest.Status.OPEN, kind=PrivacyRequest.Kind.SHOP_REDACT, erasing_since__isnull=False
    ).order_by("erasing_since")
    answered = 0
    for pk in list(started.values_list("pk", flat=True)):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        answered += shop_redact_continue(request_id=pk, seconds=left)
    return answered


def _duplicates_from(shop_id: int, survivors: QuerySet) -> list[int]:
    """The merged-away duplicates whose identity at the shop moved to a survivor that other
    shops know: their own rows keep the profile the shop sent (for an undo)."""
    identities = set(CustomerIdentity.objects.filter(shop_id=shop_id).values_list("pk", flat=True))
    found = []
    merges = CustomerMerge.objects.filter(undone_at__isnull=True, survivor_id__in=survivors)
    for merged_id, moved in merges.values_list("merged_id", "moved"):
        if identities & set((moved or {}).get("customers.CustomerIdentity", [])):
            found.append(merged_id)
    return found


def _finish(request: PrivacyRequest) -> None:
    """What the shop holds of the people other shops know too: every row that belongs to
    the shop has its personal fields blanked (its identity of them, its tickets, reviews,
    events …, by the marks), the merged-away duplicates it sent lose their profile, its raw
    deliveries go; then the request is closed."""
    with transaction.atomic():
        current = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
        if current.status != PrivacyRequest.Status.OPEN:
            return
        shop_id = current.shop_id
        shared = Customer.objects.filter(_known_to(current.shop)).values("pk")
        duplicates = _duplicates_from(shop_id, shared)
        blanked = 0
        for model, marks in customer_models():
            if not marks.shop or not (marks.erase or marks.on_erase):
                continue
            values = erased_values(model, marks.erase) | marks.on_erase
            rows = model.objects.filter(**{marks.shop: shop_id})
            if model is CustomerIdentity:
                blanked = rows.exclude(
                    customer__in=ErasureLog.objects.filter(request=current).values("customer")
                ).count()
            rows.update(**values)
        if duplicates:
            marks = all_marks()["customers.Customer"]
            Customer.objects.filter(pk__in=duplicates).update(**erased_values(Customer, marks.erase), **marks.on_erase)
        deleted = WebhookDelivery.objects.filter(shop_id=shop_id).exclude(pk__in=_kept_deliveries()).delete()[0]
        WebhookDelivery.objects.filter(shop_id=shop_id).update(
            **erased_values(WebhookDelivery, all_marks()["crm.WebhookDelivery"].erase)
        )
        erased = ErasureLog.objects.filter(request=current).count()
        current.status = PrivacyRequest.Status.DONE
        current.completed_at = timezone.now()
        current.completed_by = current.erasing_by
        current.erasing_lease_until = None
        current.note = (
            f"{current.note}\nThe shop's data erased: {erased:,} customers known only to it erased; its rows "
            f"about {blanked:,} customers other shops know blanked; {deleted:,} raw deliveries deleted; its "
            "connections switched off and its API keys revoked."
        ).strip()
        current.save()
