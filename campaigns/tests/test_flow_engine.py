"""The flow pass: enrolment from a trigger, steps in order, exits, re-entry, and each step
once per run however the pass is retried."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.flows import steps as step_kinds
from campaigns.flows.engine import flow_activate, flows_pass
from campaigns.models import FlowRun, FlowStepRun, Reentry, RunStatus, Send, StepKind, TriggerKind
from campaigns.tests.flow_helpers import SEND, WAIT, a_flow, an_email, mailable, shop_with_sender, switch_on
from customers.models import CustomerIdentity, Event
from customers.tests.factories import OrderFactory
from messaging.models import Message, Suppression
from messaging.sending import messages_send
from messaging.tests.fixtures import smtp  # noqa: F401

pytestmark = pytest.mark.django_db


def cart_event(shop, customer, at):
    return Event.objects.create(shop=shop, customer=customer, type="cart_abandoned", occurred_at=at, payload={})


def abandoned_cart(shop, email, **fields):
    return a_flow(
        shop,
        TriggerKind.EVENT,
        {"event_type": "cart_abandoned", "delay_minutes": 60},
        [(SEND, {}, email)],
        exit_on_order=True,
        **fields,
    )


def test_an_event_sends_after_its_delay_over_smtp(smtp):  # noqa: F811
    shop = shop_with_sender()
    (ann,) = mailable(shop, first_name="Ann")
    flow = switch_on(
        abandoned_cart(shop, an_email(shop, subject="You left something, {{ customer.first_name }}")), timezone.now()
    )
    now = timezone.now()
    cart_event(shop, ann, now)

    early = flows_pass(now=now + timedelta(minutes=30))
    assert (early.enrolled, early.steps_taken) == (1, 0)  # enrolled, due in an hour
    due = flows_pass(now=now + timedelta(minutes=61))
    messages_send(now=now + timedelta(days=2))

    assert due.steps_taken == 1
    [wire] = smtp.messages()
    assert wire["Subject"] == "You left something, Ann"
    run = FlowRun.objects.get(flow=flow)
    assert (run.status, run.step_id) == (RunStatus.COMPLETED, None)
    assert Send.objects.get().occasion == f"flowrun:{run.pk}"


def test_an_order_in_the_meantime_cancels_the_abandoned_cart(smtp):  # noqa: F811
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    switch_on(abandoned_cart(shop, an_email(shop)), timezone.now())
    now = timezone.now()
    cart_event(shop, ann, now)
    cart_event(shop, bob, now)
    flows_pass(now=now + timedelta(minutes=1))
    OrderFactory(shop=shop, customer=ann, placed_at=now + timedelta(minutes=10))

    result = flows_pass(now=now + timedelta(minutes=61))
    messages_send(now=now + timedelta(days=2))

    assert result.exited == 1
    assert [m["To"] for m in smtp.messages()] == [bob.email]
    exited = FlowRun.objects.get(customer=ann)
    assert (exited.status, exited.exit_reason) == (RunStatus.EXITED, "placed an order")


def test_unsubscribing_ends_the_pass():
    shop = shop_with_sender()
    ann, bob, cid = mailable(shop, 3)
    flow = a_flow(
        shop, TriggerKind.EVENT, {"event_type": "cart_abandoned", "delay_minutes": 60}, [(SEND, {}, an_email(shop))]
    )
    switch_on(flow, timezone.now())
    now = timezone.now()
    for c in (ann, bob, cid):
        cart_event(shop, c, now)
    flows_pass(now=now)
    CustomerIdentity.objects.filter(customer=ann).update(marketing_consent=False, updated_at=timezone.now())
    Suppression.objects.create(address=bob.email_normalized, reason="unsubscribe")

    flows_pass(now=now + timedelta(minutes=61))

    reasons = dict(FlowRun.objects.values_list("customer_id", "exit_reason"))
    assert reasons == {ann.pk: "unsubscribed", bob.pk: "unsubscribed", cid.pk: ""}
    assert Message.objects.get().customer_id == cid.pk


def test_switching_on_never_enrolls_the_past():
    shop = shop_with_sender()
    (ann,) = mailable(shop)
    flow = abandoned_cart(shop, an_email(shop))
    cart_event(shop, ann, timezone.now())

    switch_on(flow, timezone.now())
    assert flows_pass(now=timezone.now()).enrolled == 0


@pytest.mark.parametrize(("reentry", "second_enrolls"), [(Reentry.ONCE, False), (Reentry.EVERY_N_DAYS, True)])
def test_reentry_once_ever_or_after_n_days(reentry, second_enrolls):
    shop = shop_with_sender()
    (ann,) = mailable(shop)
    flow = a_flow(
        shop,
        TriggerKind.EVENT,
        {"event_type": "cart_abandoned"},
        [(StepKind.ADD_TAG, {"tag": "abandoner"})],
        reentry=reentry,
        reentry_days=3,
    )
    switch_on(flow, timezone.now())
    now = timezone.now()
    cart_event(shop, ann, now)
    flows_pass(now=now)
    FlowRun.objects.update(entered_at=now - timedelta(days=4))  # the first pass was four days ago
    cart_event(shop, ann, now)
    flows_pass(now=now + timedelta(minutes=1))
    cart_event(shop, ann, now)
    flows_pass(now=now + timedelta(minutes=2))  # within 3 days of the second: never

    assert FlowRun.objects.count() == (2 if second_enrolls else 1)


def test_a_wait_then_a_send_then_the_end():
    shop = shop_with_sender()
    customers = mailable(shop, 3)
    flow = a_flow(
        shop,
        TriggerKind.EVENT,
        {"event_type": "signed_up"},
        [(WAIT, {"minutes": 60 * 24}), (SEND, {}, an_email(shop))],
    )
    switch_on(flow, timezone.now())
    now = timezone.now()
    for c in customers:
        Event.objects.create(shop=shop, customer=c, type="signed_up", occurred_at=now)

    first = flows_pass(now=now)
    a_day_later = flows_pass(now=now + timedelta(days=1, minutes=1))

    assert (first.enrolled, first.steps_taken) == (3, 3)  # the wait step taken: due tomorrow
    assert a_day_later.steps_taken == 3 and Message.objects.count() == 3
    wait, send = flow.steps.order_by("position")
    assert FlowStepRun.objects.filter(step=wait).count() == 3
    assert set(FlowStepRun.objects.filter(step=send).values_list("outcome", flat=True)) == {"emailed"}


def test_a_pass_rolled_back_midway_leaves_nothing_and_the_retry_runs_each_step_once(monkeypatch):
    shop = shop_with_sender()
    customers = mailable(shop, 4)
    flow = a_flow(
        shop,
        TriggerKind.EVENT,
        {"event_type": "signed_up"},
        [(StepKind.BONUS_POINTS, {"points": 50, "reason": "Welcome"}), (SEND, {}, an_email(shop))],
    )
    switch_on(flow, timezone.now())
    now = timezone.now()
    for c in customers:
        Event.objects.create(shop=shop, customer=c, type="signed_up", occurred_at=now)
    real_apply = step_kinds.apply

    def dies_at_the_send(step, runs, outcome, when):
        result = real_apply(step, runs, outcome, when)
        if step.kind == StepKind.SEND_EMAIL:
            raise RuntimeError("worker killed")
        return result

    monkeypatch.setattr(step_kinds, "apply", dies_at_the_send)
    with pytest.raises(RuntimeError), transaction.atomic():
        flows_pass(now=now)
    monkeypatch.setattr(step_kinds, "apply", real_apply)

    # The points step committed; the send step's batch rolled back whole (no message, no record).
    assert Message.objects.count() == 0
    from loyalty.models import PointsEntry

    retried = flows_pass(now=now)
    again = flows_pass(now=now)

    assert Message.objects.count() == 4 and Send.objects.count() == 4
    assert PointsEntry.objects.filter(source__startswith="flow:step").count() == 4
    assert FlowStepRun.objects.count() == 8
    assert retried.steps_taken + again.steps_taken >= 4 and again.steps_taken == 0


def test_switching_off_stops_the_pass_and_on_again_carries_on():
    shop = shop_with_sender()
    (ann,) = mailable(shop)
    flow = a_flow(
        shop, TriggerKind.EVENT, {"event_type": "signed_up"}, [(WAIT, {"minutes": 10}), (SEND, {}, an_email(shop))]
    )
    switch_on(flow, timezone.now())
    now = timezone.now()
    Event.objects.create(shop=shop, customer=ann, type="signed_up", occurred_at=now)
    flows_pass(now=now)
    flow_activate(flow=flow, active=False)

    assert flows_pass(now=now + timedelta(minutes=11)).steps_taken == 0
    switch_on(flow, now + timedelta(minutes=12))
    assert flows_pass(now=now + timedelta(minutes=12)).steps_taken == 1


def test_removing_a_step_hands_its_customers_to_the_next():
    from campaigns.flows.engine import flow_step_remove

    shop = shop_with_sender()
    (ann,) = mailable(shop)
    flow = a_flow(
        shop,
        TriggerKind.EVENT,
        {"event_type": "signed_up"},
        [(WAIT, {"minutes": 10}), (WAIT, {"minutes": 60}), (StepKind.ADD_TAG, {"tag": "t"})],
    )
    switch_on(flow, timezone.now())
    now = timezone.now()
    Event.objects.create(shop=shop, customer=ann, type="signed_up", occurred_at=now)
    flows_pass(now=now)
    second, tag = flow.steps.order_by("position")[1:]

    assert flow_step_remove(step=second, now=now) == 1
    flows_pass(now=now + timedelta(minutes=1))

    assert ann.tags.filter(name="t").exists()
    assert FlowRun.objects.get().status == RunStatus.COMPLETED


def test_a_flow_whose_segment_was_deleted_enrolls_nobody_and_the_others_go_on():
    from campaigns.services import segment_create

    shop = shop_with_sender()
    (ann,) = mailable(shop)
    segment = segment_create(
        name="Gone soon", rule={"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}
    )
    broken = switch_on(
        a_flow(shop, TriggerKind.SEGMENT_ENTERED, {"segment_id": segment.pk}, [(StepKind.ADD_TAG, {"tag": "x"})]),
        timezone.now(),
    )
    working = switch_on(abandoned_cart(shop, an_email(shop)), timezone.now())
    segment.delete()
    cart_event(shop, ann, timezone.now())

    result = flows_pass(now=timezone.now())

    assert result.enrolled == 1
    assert FlowRun.objects.get().flow == working and not FlowRun.objects.filter(flow=broken).exists()
