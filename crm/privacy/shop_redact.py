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
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.errors import DomainError
from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.connectors.receive import connections_forget
from crm.privacy.erasure import customer_erase, erased_values
from crm.privacy.marks import all_marks
from crm.privacy.models import ErasureLog, PrivacyRequest
from customers.models import Customer, CustomerIdentity, Order, Shop

BATCH = 50  # customers a step erases before it looks at the clock again


def _known_elsewhere(shop: Shop) -> Q:
    other_identity = CustomerIdentity.objects.filter(customer=OuterRef("pk")).exclude(shop=shop)
    other_order = Order.objects.filter(customer=OuterRef("pk")).exclude(shop=shop)
    return Q(Exists(other_identity)) | Q(Exists(other_order))


def shop_only_customers(shop: Shop) -> QuerySet[Customer]:
    """The customers the shop knows (an identity or an order there) whom no other shop
    knows, not erased yet."""
    known = Q(Exists(CustomerIdentity.objects.filter(customer=OuterRef("pk"), shop=shop))) | Q(
        Exists(Order.objects.filter(customer=OuterRef("pk"), shop=shop))
    )
    erased = Exists(ErasureLog.objects.filter(customer=OuterRef("pk")))
    return Customer.objects.filter(known).exclude(_known_elsewhere(shop)).exclude(erased).order_by("pk")


@dataclass(frozen=True)
class ShopRedactPreview:
    erased: int  # customers known only to the shop, to be erased
    shared: int  # customers other shops know too: the shop's identity of them is blanked
    deliveries: int  # the shop's raw platform deliveries, deleted
    connections: int  # the shop's active connections, switched off


def shop_redact_preview(shop: Shop) -> ShopRedactPreview:
    shared = CustomerIdentity.objects.filter(shop=shop).filter(
        customer__in=Customer.objects.filter(_known_elsewhere(shop))
    )
    return ShopRedactPreview(
        erased=shop_only_customers(shop).count(),
        shared=shared.count(),
        deliveries=WebhookDelivery.objects.filter(shop=shop).count(),
        connections=ShopConnection.objects.filter(shop=shop, is_active=True).count(),
    )


def shop_redact_start(*, request: PrivacyRequest, user=None, now: datetime | None = None) -> PrivacyRequest:
    """Start answering an open ``shop/redact`` request: the shop's connections are switched
    off at once (nothing more comes in from that store), the erasure runs in the background."""
    if request.kind != PrivacyRequest.Kind.SHOP_REDACT:
        raise DomainError("Only a shop's erasure request erases a shop's data.", field="kind")
    with transaction.atomic():
        current = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
        if current.status != PrivacyRequest.Status.OPEN:
            raise DomainError(f"Request #{current.pk} is {current.get_status_display()} already.", field="status")
        if current.shop_id is None:
            raise DomainError("The request names no shop.", field="shop")
        if current.erasing_since is not None:
            raise DomainError(f"Request #{current.pk} is being answered already.", field="status")
        current.erasing_since = now or timezone.now()
        current.erasing_by = user
        current.erasing_total = shop_only_customers(current.shop).count()
        current.save(update_fields=["erasing_since", "erasing_by", "erasing_total"])
        ShopConnection.objects.filter(shop_id=current.shop_id, is_active=True).update(is_active=False)
        transaction.on_commit(connections_forget)
    return current


def shop_redact_continue(*, request_id: int, seconds: float = 50.0, batch: int = BATCH) -> bool:
    """Erase the next customers of a started shop erasure, a batch at a time, until
    ``seconds`` have passed (one batch at least); close the request when no one is left.
    Returns True when the request is answered."""
    request = PrivacyRequest.objects.select_related("shop", "erasing_by").get(pk=request_id)
    if request.status != PrivacyRequest.Status.OPEN or request.erasing_since is None:
        return True
    deadline = time.monotonic() + seconds
    while True:
        customer_ids = list(shop_only_customers(request.shop).values_list("pk", flat=True)[:batch])
        if not customer_ids:
            _finish(request)
            return True
        for customer_id in customer_ids:
            customer_erase(customer_id=customer_id, user=request.erasing_by, request=request)
        if time.monotonic() >= deadline:
            return False


def shop_redacts_continue(*, seconds: float = 50.0) -> int:
    """Every minute (CELERY_BEAT_SCHEDULE): each started shop erasure goes on. Returns the
    requests answered."""
    started = PrivacyRequest.objects.filter(
        status=PrivacyRequest.Status.OPEN, kind=PrivacyRequest.Kind.SHOP_REDACT, erasing_since__isnull=False
    ).values_list("pk", flat=True)
    return sum(shop_redact_continue(request_id=pk, seconds=seconds) for pk in list(started))


def _finish(request: PrivacyRequest) -> None:
    """The shop's copy of the people other shops know too, and its raw deliveries; then the
    request is closed."""
    marks = all_marks()["customers.CustomerIdentity"]
    with transaction.atomic():
        current = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
        if current.status != PrivacyRequest.Status.OPEN:
            return
        blanks = erased_values(CustomerIdentity, marks.erase) | marks.on_erase
        shared = CustomerIdentity.objects.filter(shop_id=current.shop_id).exclude(
            customer__in=ErasureLog.objects.values("customer")
        )
        blanked = shared.update(**blanks)
        # Deliveries a request came by keep their row (the request points at it), emptied.
        deleted = (
            WebhookDelivery.objects.filter(shop_id=current.shop_id)
            .exclude(pk__in=PrivacyRequest.objects.filter(delivery__isnull=False).values("delivery"))
            .delete()[0]
        )
        WebhookDelivery.objects.filter(shop_id=current.shop_id).update(
            **erased_values(WebhookDelivery, all_marks()["crm.WebhookDelivery"].erase)
        )
        erased = ErasureLog.objects.filter(request=current).count()
        current.status = PrivacyRequest.Status.DONE
        current.completed_at = timezone.now()
        current.completed_by = current.erasing_by
        current.note = (
            f"{current.note}\nThe shop's data erased: {erased:,} customers known only to it erased, "
            f"its identities of {blanked:,} customers other shops know blanked, {deleted:,} raw "
            "deliveries deleted, its connections switched off."
        ).strip()
        current.save()
