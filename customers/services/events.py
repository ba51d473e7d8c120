"""Customer events pushed by shops, stored for triggers and segments."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from core.create_once import create_once
from customers.models import Event, Shop
from customers.services.customers import CustomerData, customers_resolve
from customers.services.pending_updates import pending_updates_mark


@dataclass(frozen=True)
class EventData:
    type: str
    occurred_at: datetime
    customer: CustomerData
    payload: dict
    external_id: str = ""


def event_record(*, shop: Shop, data: EventData) -> tuple[Event, bool]:
    """Store an event for the customer (created if unknown); False for a replayed external_id."""

    def create() -> Event:
        (customer_id,) = customers_resolve(shop=shop, items=[data.customer], seen_at=[data.occurred_at]).ids
        event = Event.objects.create(
            shop=shop,
            external_id=data.external_id,
            customer_id=customer_id,
            type=data.type,
            payload=data.payload,
            occurred_at=data.occurred_at,
        )
        pending_updates_mark([customer_id])  # segments on events, points for event rules
        return event

    replays = Event.objects.filter(shop=shop, external_id=data.external_id) if data.external_id else None
    with transaction.atomic():
        return create_once(replays, create)
