"""Each trigger: a row of the CRM's own data after the flow was switched on starts a pass
(and the first step runs in the same pass, within a minute); rows from before do not."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.flows.engine import flows_pass
from campaigns.models import FlowRun, TriggerKind
from campaigns.services import segment_create, segment_refresh, segments_refresh_customers
from campaigns.tests.flow_helpers import SEND, a_flow, an_email, mailable, shop_with_sender, switch_on
from core.days import today
from customers.models import Customer, Event, StageChange
from customers.tests.factories import OrderFactory
from loyalty.models import Tier, TierChange
from messaging.models import Message
from messaging.sending import messages_send
from messaging.tests.fixtures import smtp  # noqa: F401
from support.models import CsatResponse, NpsResponse
from support.tickets import TicketData, ticket_open

pytestmark = pytest.mark.django_db

TAG = ("add_tag", {"tag": "flowed"})


def tagged() -> set[int]:
    return set(Customer.objects.filter(tags__name="flowed").values_list("pk", flat=True))


def test_entering_a_segment_enrolls_at_the_next_pass_and_sends(smtp):  # noqa: F811
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    Customer.objects.filter(pk=ann.pk).update(country="DE")
    segment = segment_create(
        name="Germany", rule={"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}
    )
    segment_refresh(segment=segment)  # the first fill: Ann was there, she did not enter
    flow = switch_on(
        a_flow(shop, TriggerKind.SEGMENT_ENTERED, {"segment_id": segment.pk}, [(SEND, {}, an_email(shop))]),
        timezone.now(),
    )

    Customer.objects.filter(pk=bob.pk).update(country="DE")
    segments_refresh_customers(customer_ids=[bob.pk])
    changed = timezone.now()
    result = flows_pass(now=changed + timedelta(seconds=1))
    messages_send(now=changed + timedelta(seconds=2))

    assert result.enrolled == 1 and result.steps_taken == 1
    assert [m["To"] for m in smtp.messages()] == [bob.email]
    assert FlowRun.objects.get(flow=flow).trigger_key.endswith(":in")


def test_leaving_a_segment():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    Customer.objects.filter(pk__in=[ann.pk, bob.pk]).update(country="DE")
    segment = segment_create(
        name="Germany", rule={"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}
    )
    segment_refresh(segment=segment)
    switch_on(a_flow(shop, TriggerKind.SEGMENT_EXITED, {"segment_id": segment.pk}, [TAG]), timezone.now())
    Customer.objects.filter(pk=ann.pk).update(country="FR")
    segments_refresh_customers(customer_ids=[ann.pk])

    flows_pass(now=timezone.now())

    assert tagged() == {ann.pk}


def test_first_order_only():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    OrderFactory(shop=shop, customer=ann, placed_at=timezone.now() - timedelta(days=30))
    switch_on(a_flow(shop, TriggerKind.FIRST_ORDER, {}, [TAG]), timezone.now())
    OrderFactory(shop=shop, customer=ann)  # her second
    OrderFactory(shop=shop, customer=bob)  # his first

    flows_pass(now=timezone.now())

    assert tagged() == {bob.pk}


def test_post_purchase_review_request_with_the_desks_review_link_days_after_fulfilment(smtp):  # noqa: F811
    shop = shop_with_sender()
    (ann,) = mailable(shop, first_name="Ann")
    email = an_email(shop, subject="How was it?", body='<p><a href="{{ review_link }}">Review your order</a></p>')
    flow = switch_on(a_flow(shop, TriggerKind.FULFILLED, {"days": 7}, [(SEND, {}, email)]), timezone.now())
    order = OrderFactory(shop=shop, customer=ann, status="fulfilled")
    now = timezone.now()

    assert flows_pass(now=now).steps_taken == 0  # enrolled, due in a week
    flows_pass(now=now + timedelta(days=7, minutes=1))
    messages_send(now=now + timedelta(days=8))

    [wire] = smtp.messages()
    assert "/review/" in wire.get_body(("html",)).get_content()
    assert FlowRun.objects.get(flow=flow).order_id == order.pk


def test_stage_changed_to_at_risk():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    switch_on(a_flow(shop, TriggerKind.STAGE_CHANGED, {"stages": ["at_risk"]}, [TAG]), timezone.now())
    now = timezone.now()
    StageChange.objects.create(customer=ann, from_stage="active", to_stage="at_risk", changed_at=now, reason="r")
    StageChange.objects.create(customer=bob, from_stage="active", to_stage="loyal", changed_at=now, reason="r")

    flows_pass(now=now)

    assert tagged() == {ann.pk}


def test_birthday_seven_days_before_once_a_day():
    shop = shop_with_sender()
    now = timezone.now()
    soon = today(now) + timedelta(days=7)
    ann, bob = mailable(shop, 2)
    Customer.objects.filter(pk=ann.pk).update(birthday=soon.replace(year=1990))
    Customer.objects.filter(pk=bob.pk).update(birthday=(soon + timedelta(days=1)).replace(year=1990))
    switch_on(a_flow(shop, TriggerKind.DATE, {"field": "birthday", "offset_days": -7}, [TAG]), now)

    first = flows_pass(now=now)
    again = flows_pass(now=now + timedelta(minutes=5))

    assert tagged() == {ann.pk}
    assert (first.enrolled, again.enrolled) == (1, 0)
    assert FlowRun.objects.get().trigger_key == f"birthday:{soon.year}"


def test_points_about_to_expire():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    switch_on(a_flow(shop, TriggerKind.POINTS_EXPIRING, {}, [TAG]), timezone.now())
    Event.objects.create(shop=shop, customer=ann, type="points_expiring", occurred_at=timezone.now(), payload={})

    flows_pass(now=timezone.now())

    assert tagged() == {ann.pk}


def test_tier_reached_up_not_down():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    silver = Tier.objects.create(name="Silver", rank=1, enter_threshold=500, keep_threshold=400)
    gold = Tier.objects.create(name="Gold", rank=2, enter_threshold=1000, keep_threshold=800)
    switch_on(a_flow(shop, TriggerKind.TIER_REACHED, {}, [TAG]), timezone.now())
    TierChange.objects.create(customer=ann, group=shop.group, from_tier=silver, to_tier=gold, reason="spent")
    TierChange.objects.create(customer=bob, group=shop.group, from_tier=gold, to_tier=silver, reason="grace over")

    flows_pass(now=timezone.now())

    assert tagged() == {ann.pk}


def test_a_low_csat_opens_a_ticket_for_a_person_not_a_coupon():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    step = ("open_ticket", {"subject": "Call back: unhappy with support", "body": "Apologise in person."})
    switch_on(a_flow(shop, TriggerKind.LOW_CSAT, {"max_rating": 2}, [step]), timezone.now())
    for customer, rating in ((ann, 1), (bob, 4)):
        ticket, _ = ticket_open(customer=customer, shop=shop, data=TicketData(subject="Late", body="Where is it?"))
        CsatResponse.objects.create(ticket=ticket, customer=customer, rating=rating, created_at=timezone.now())

    flows_pass(now=timezone.now())
    flows_pass(now=timezone.now())  # a second pass opens nothing more

    from support.models import Ticket

    follow_up = Ticket.objects.get(subject="Call back: unhappy with support")
    assert follow_up.customer_id == ann.pk and follow_up.priority == "high"


def test_a_detractor_nps_answer():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    switch_on(a_flow(shop, TriggerKind.NPS_DETRACTOR, {}, [TAG]), timezone.now())
    NpsResponse.objects.create(customer=ann, shop=shop, score=3, created_at=timezone.now())
    NpsResponse.objects.create(customer=bob, shop=shop, score=9, created_at=timezone.now())

    flows_pass(now=timezone.now())

    assert tagged() == {ann.pk}
    assert Message.objects.count() == 0


def test_the_watermark_moves_past_other_rows_once_they_are_surely_committed():
    from campaigns.models import Flow

    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    now = timezone.now()
    flow = switch_on(a_flow(shop, TriggerKind.EVENT, {"event_type": "rare"}, [TAG]), now)
    others = [
        Event.objects.create(shop=shop, customer=ann, type="common", occurred_at=now, payload={}) for _ in range(3)
    ]

    flows_pass(now=now)  # the table's top id is noted, not yet trusted
    assert Flow.objects.get(pk=flow.pk).watermark_id < others[-1].pk
    flows_pass(now=now + timedelta(minutes=6))  # five minutes on: every row up to it has committed

    assert Flow.objects.get(pk=flow.pk).watermark_id == others[-1].pk
    Event.objects.create(shop=shop, customer=bob, type="rare", occurred_at=now, payload={})
    flows_pass(now=now + timedelta(minutes=7))
    assert tagged() == {bob.pk}
