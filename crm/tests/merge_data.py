"""Two records of one person, with something in every app: what the merge tests move."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Email, Flow, FlowRun, Segment, SegmentMembership, Send, Touchpoint
from crm.models import CustomerNote
from customers.models import ConsentEvent, Customer, CustomerSignal, Event, Order, Product, Shop, ShopTag, Tag
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ShopFactory
from loyalty.earning import orders_award
from messaging.models import Message
from support.models import CsatResponse, NpsResponse, Review
from support.tests.factories import open_ticket


@dataclass
class Pair:
    survivor: Customer
    duplicate: Customer
    eu: Shop
    us: Shop
    orders: list[Order]
    segment: Segment
    flow: Flow


def two_records(*, with_points: bool = True) -> Pair:
    """Jane Doe known twice: the survivor from the US shop, the duplicate (another email)
    from the EU shop, each with orders; the duplicate with a row in every app."""
    now = timezone.now()
    eu, us = ShopFactory(slug="eu", name="EU Store"), ShopFactory(slug="us", name="US Store")
    survivor = CustomerFactory(first_name="Jane", last_name="Doe", email="jane@example.com", phone="")
    duplicate = CustomerFactory(
        first_name="Jane", last_name="Doe", email="jane.doe@work.example", phone="+1 555 0100", country="DE"
    )
    IdentityFactory(customer=survivor, shop=us, external_id="us-1")
    IdentityFactory(customer=duplicate, shop=eu, external_id="eu-7")
    orders = [
        OrderFactory(customer=survivor, shop=us, total=Decimal("100.00"), placed_at=now - timedelta(days=40)),
        OrderFactory(customer=duplicate, shop=eu, total=Decimal("200.00"), placed_at=now - timedelta(days=30)),
        # Inside the 14-day return window: its points are still pending when merged.
        OrderFactory(customer=duplicate, shop=eu, total=Decimal("60.00"), placed_at=now - timedelta(days=3)),
    ]
    # The same address, sent by both shops: the pair is a suggested duplicate.
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(shipping_address_key="a" * 64)
    customers_recompute(customer_ids=[survivor.pk, duplicate.pk])
    if with_points:
        orders_award([survivor.pk, duplicate.pk])
    Event.objects.create(shop=eu, customer=duplicate, type="viewed_product", occurred_at=now - timedelta(days=2))
    ConsentEvent.objects.create(customer=duplicate, shop=eu, given=True, at=now - timedelta(days=30), source="api")
    CustomerSignal.objects.create(customer=duplicate, kind="promoter", source="nps", occurred_at=now)
    tag, shared = Tag.objects.create(name="vip"), Tag.objects.create(name="newsletter")
    ShopTag.objects.create(shop=eu, customer=duplicate, tag=tag)
    ShopTag.objects.create(shop=eu, customer=duplicate, tag=shared)
    ShopTag.objects.create(shop=eu, customer=survivor, tag=shared)  # the survivor has it: stays
    duplicate.tags.add(tag, shared)
    survivor.tags.add(shared)
    ticket = open_ticket(duplicate, subject="Two accounts?")
    product = Product.objects.create(shop=eu, sku="KETTLE", name="Kettle", price=Decimal("30.00"), currency="EUR")
    Review.objects.create(shop=eu, customer=duplicate, product=product, rating=5, created_at=now)
    NpsResponse.objects.create(customer=duplicate, score=9, created_at=now)
    CsatResponse.objects.create(ticket=ticket, customer=duplicate, rating=5, created_at=now)
    segment = Segment.objects.create(name="Europe")
    other = Segment.objects.create(name="Everyone")
    SegmentMembership.objects.create(segment=segment, customer=duplicate, entered_at=now - timedelta(days=9))
    SegmentMembership.objects.create(segment=other, customer=duplicate, entered_at=now - timedelta(days=9))
    SegmentMembership.objects.create(segment=other, customer=survivor, entered_at=now - timedelta(days=9))
    flow = Flow.objects.create(shop=eu, name="Welcome back", trigger="event")
    FlowRun.objects.create(
        flow=flow, customer=duplicate, trigger_key="event:1", triggered_at=now, entered_at=now, due_at=now
    )
    email = Email.objects.create(shop=eu, name="Spring sale")
    Send.objects.create(email=email, customer=duplicate, assigned_at=now)
    Touchpoint.objects.create(
        customer=duplicate, at=now, kind="click", channel="email", source_key="s", origin_type=1, origin_id=1
    )
    Message.objects.create(
        key="m-1",
        customer=duplicate,
        to_email=duplicate.email,
        kind="transactional",
        template="ticket_reply",
        message_id="<m-1@crm>",
        next_attempt_at=now,
        created_at=now,
    )
    CustomerNote.objects.create(customer=duplicate, body="Called about a second account.", created_at=now)
    return Pair(survivor, duplicate, eu, us, orders, segment, flow)
