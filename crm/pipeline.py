"""What happens after data arrives: the one place that fans out to the apps.

An order goes: customers (upsert, order rows) → after commit, customers' aggregates
(Celery). Later apps join here in the same explicit way (loyalty points, segment
membership), so a reader follows an order from the API to every table by reading down.
"""

from collections.abc import Sequence

from django.db import transaction

from crm.after_response import after_response
from customers.models import Event, Refund, Shop
from customers.services.customers import CustomerData, customer_upsert
from customers.services.events import EventData, event_record
from customers.services.orders import OrderData, OrderResult, orders_ingest
from customers.services.refunds import RefundData, refund_create
from customers.tasks import enqueue_recompute


def _after_commit_recompute(customer_ids: list[int]) -> None:
    """Queue the recompute once the data is committed and, in a request, the response sent."""
    if customer_ids:
        transaction.on_commit(lambda: after_response(lambda: enqueue_recompute(customer_ids)))


def orders_receive(*, shop: Shop, orders: Sequence[OrderData], keep_lines: bool = False) -> list[OrderResult]:
    results = orders_ingest(shop=shop, orders=orders, keep_lines=keep_lines)
    _after_commit_recompute([r.order.customer_id for r in results if r.changed])
    return results


def refund_receive(*, shop: Shop, order_external_id: str, data: RefundData) -> tuple[Refund, bool]:
    refund, created = refund_create(shop=shop, order_external_id=order_external_id, data=data)
    if created:
        _after_commit_recompute([refund.order.customer_id])
    return refund, created


def customer_receive(*, shop: Shop, data: CustomerData) -> tuple[int, bool]:
    return customer_upsert(shop=shop, data=data)


def event_receive(*, shop: Shop, data: EventData) -> tuple[Event, bool]:
    return event_record(shop=shop, data=data)
