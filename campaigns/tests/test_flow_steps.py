"""Each kind of step, taken for all the runs due at it at once; the frequency cap and the
quiet hours in a flow; two passes at once on PostgreSQL."""

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.experiments.assignment import assign
from campaigns.flows.engine import flows_pass
from campaigns.models import FlowRun, FlowStepRun, RunStatus, Send, StepKind, TriggerKind
from campaigns.tests.flow_helpers import SEND, WAIT, a_flow, an_email, mailable, shop_with_sender, switch_on
from conftest import on_postgres
from customers.models import Customer, Event
from loyalty.models import Account, PointsEntry, Reward, RewardCode
from messaging.models import Message
from messaging.sending import messages_send
from messaging.tests.fixtures import smtp  # noqa: F401

pytestmark = pytest.mark.django_db

GERMANY = {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}


def started(shop, customers, steps, now, **fields):
    flow = switch_on(a_flow(shop, TriggerKind.EVENT, {"event_type": "go"}, steps, **fields), now)
    for c in customers:
        Event.objects.create(shop=shop, customer=c, type="go", occurred_at=now)
    return flow


def outcomes(step) -> dict[int, str]:
    return dict(FlowStepRun.objects.filter(step=step).values_list("run__customer_id", "outcome"))


def test_a_condition_sends_yes_on_and_no_to_exit():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    Customer.objects.filter(pk=ann.pk).update(country="DE")
    now = timezone.now()
    flow = started(
        shop,
        [ann, bob],
        [(StepKind.CONDITION, {"rule": GERMANY, "no": "exit"}), (StepKind.ADD_TAG, {"tag": "de"})],
        now,
    )

    flows_pass(now=now)

    condition = flow.steps.get(position=0)
    assert outcomes(condition) == {ann.pk: "yes", bob.pk: "no"}
    assert list(Customer.objects.filter(tags__name="de").values_list("pk", flat=True)) == [ann.pk]
    assert FlowRun.objects.get(customer=bob).exit_reason == "reached an exit step"
    assert FlowRun.objects.get(customer=ann).status == RunStatus.COMPLETED


def test_a_condition_can_skip_ahead():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    Customer.objects.filter(pk=ann.pk).update(country="DE")
    now = timezone.now()
    flow = a_flow(
        shop,
        TriggerKind.EVENT,
        {"event_type": "go"},
        [
            (StepKind.CONDITION, {"rule": GERMANY}),
            (StepKind.ADD_TAG, {"tag": "de"}),
            (StepKind.ADD_TAG, {"tag": "all"}),
        ],
    )
    last = flow.steps.get(position=2)
    flow.steps.filter(position=0).update(params={"rule": GERMANY, "no": last.pk})
    switch_on(flow, now)
    for c in (ann, bob):
        Event.objects.create(shop=shop, customer=c, type="go", occurred_at=now)

    flows_pass(now=now)

    assert set(Customer.objects.filter(tags__name="de").values_list("pk", flat=True)) == {ann.pk}
    assert set(Customer.objects.filter(tags__name="all").values_list("pk", flat=True)) == {ann.pk, bob.pk}


def test_a_split_routes_by_weight_stably_and_records_the_branch():
    shop = shop_with_sender()
    customers = mailable(shop, 40)
    now = timezone.now()
    split = {"branches": [{"label": "A", "weight": 1}, {"label": "B", "weight": 3}]}
    flow = started(shop, customers, [(StepKind.SPLIT, split)], now)

    flows_pass(now=now)

    step = flow.steps.get()
    ids = sorted(c.pk for c in customers)
    import numpy as np

    expected = assign(np.array(ids), salt=f"flowstep:{step.pk}", weights=[1, 3], holdout_share=0)
    assert outcomes(step) == {c: "AB"[a] for c, a in zip(ids, expected.tolist(), strict=True)}


def test_bonus_points_and_a_reward_code_through_loyalty():
    shop = shop_with_sender()
    ann, bob = mailable(shop, 2)
    reward = Reward.objects.create(name="Free shipping", kind="free_shipping", points_cost=500, code_valid_days=14)
    now = timezone.now()
    started(
        shop,
        [ann, bob],
        [
            (StepKind.BONUS_POINTS, {"points": 200, "reason": "Happy birthday"}),
            (StepKind.REWARD_CODE, {"reward_id": reward.pk}),
        ],
        now,
    )

    flows_pass(now=now)
    flows_pass(now=now + timedelta(minutes=1))

    assert dict(Account.objects.values_list("customer_id", "balance")) == {ann.pk: 200, bob.pk: 200}
    assert PointsEntry.objects.filter(reason="Happy birthday").count() == 2
    codes = RewardCode.objects.filter(reward=reward)
    assert sorted(codes.values_list("customer_id", flat=True)) == [ann.pk, bob.pk]
    assert set(codes.values_list("points_spent", flat=True)) == {0}
    reward.refresh_from_db()
    assert reward.issued_count == 2


def test_wait_until_a_time_of_day_on_the_customers_clock():
    shop = shop_with_sender()
    (ann,) = mailable(shop)
    (kim,) = mailable(shop)
    Customer.objects.filter(pk=kim.pk).update(time_zone="Asia/Tokyo")
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    started(shop, [ann, kim], [(WAIT, {"until_hour": 9}), (StepKind.ADD_TAG, {"tag": "t"})], now)

    flows_pass(now=now)

    dues = dict(FlowRun.objects.values_list("customer_id", "due_at"))
    assert dues[ann.pk] == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    assert dues[kim.pk] == datetime(2026, 12, 5, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_quiet_hours_put_a_send_off_until_they_end(smtp):  # noqa: F811
    shop = shop_with_sender(quiet=(21, 8))
    (ann,) = mailable(shop)
    (kim,) = mailable(shop)
    Customer.objects.filter(pk=kim.pk).update(time_zone="Asia/Tokyo")  # 23:00 there
    now = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    flow = started(shop, [ann, kim], [(SEND, {}, an_email(shop))], now)

    flows_pass(now=now)

    assert list(Message.objects.values_list("customer_id", flat=True)) == [ann.pk]
    kims = FlowRun.objects.get(customer=kim)
    assert (kims.step_id, kims.due_at) == (
        flow.steps.get().pk,
        datetime(2026, 12, 5, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
    )
    flows_pass(now=kims.due_at)
    messages_send(now=kims.due_at)
    assert sorted(m["To"] for m in smtp.messages()) == sorted([ann.email, kim.email])


def test_the_frequency_cap_skips_a_flow_email_and_the_run_goes_on():
    shop = shop_with_sender(cap_hours=16)
    ann, bob = mailable(shop, 2)
    now = timezone.now()
    other = an_email(shop, subject="Yesterday's campaign")
    from campaigns.emails import email_send

    email_send(email=other, customer_ids=[ann.pk], now=now - timedelta(hours=2))
    flow = started(shop, [ann, bob], [(SEND, {}, an_email(shop)), (StepKind.ADD_TAG, {"tag": "after"})], now)

    flows_pass(now=now)

    assert outcomes(flow.steps.get(position=0)) == {ann.pk: "unreachable", bob.pk: "emailed"}
    assert Send.objects.filter(email__flow_step__flow=flow).count() == 1
    assert Customer.objects.filter(tags__name="after").count() == 2


def test_an_email_step_has_variants_and_a_holdout():
    shop = shop_with_sender()
    customers = mailable(shop, 30)
    email = an_email(shop)
    email.holdout_percent = 20
    email.save()
    from campaigns.models import Variant

    Variant.objects.create(email=email, label="B", subject="Another subject", body="<p>B</p>")
    now = timezone.now()
    started(shop, customers, [(SEND, {}, email)], now)

    flows_pass(now=now)

    sends = Send.objects.filter(email=email)
    held = sends.filter(variant__isnull=True).count()
    assert sends.count() == 30 and Message.objects.count() == 30 - held
    assert set(sends.exclude(variant=None).values_list("variant__label", flat=True)) == {"A", "B"}


@pytest.mark.skipif(not on_postgres(), reason="row locks: PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_two_passes_at_once_take_each_step_once():
    shop = shop_with_sender()
    customers = mailable(shop, 60)
    now = timezone.now()
    flow = started(shop, customers, [(StepKind.BONUS_POINTS, {"points": 5}), (SEND, {}, an_email(shop))], now)
    barrier, errors = threading.Barrier(2), []

    def one_pass():
        try:
            barrier.wait()
            flows_pass(now=now, size=7)
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert FlowRun.objects.filter(flow=flow, status=RunStatus.COMPLETED).count() == 60
    assert PointsEntry.objects.filter(source__startswith="flow:step").count() == 60
    assert Message.objects.count() == 60 and FlowStepRun.objects.count() == 120


def test_an_exit_step_ends_the_pass_there():
    shop = shop_with_sender()
    (ann,) = mailable(shop)
    now = timezone.now()
    started(shop, [ann], [(StepKind.EXIT, {}), (StepKind.ADD_TAG, {"tag": "never"})], now)

    flows_pass(now=now)

    run = FlowRun.objects.get()
    assert (run.status, run.exit_reason, run.step_id) == (RunStatus.EXITED, "reached an exit step", None)
    assert not Customer.objects.filter(tags__name="never").exists()


def test_the_periodic_task_runs_the_pass_and_the_360_page_can_read_where_a_customer_is():
    from campaigns.flows.selectors import customer_flow_runs
    from campaigns.tasks import run_flows

    shop = shop_with_sender()
    (ann,) = mailable(shop)
    now = timezone.now()
    flow = started(shop, [ann], [(WAIT, {"minutes": 60}), (StepKind.ADD_TAG, {"tag": "t"})], now)

    assert run_flows.delay().get() == 1  # in-process here (no broker): one flow's pass queued and run

    [run] = customer_flow_runs(customer_id=ann.pk)
    assert run.flow == flow and run.step.kind == StepKind.ADD_TAG and run.status == RunStatus.ACTIVE
